# SG-DETR pretrained on InterVid-MR (paper §4.3): trained on captions relabelled
# into MR + HD samples, validated on QVHighlights val, which it never trains on:
# every validation is a zero-shot evaluation (the paper's "ZS").
#
# The workflow, from the repository root:
#   1. annotations (rules: sgdetr.datasets.intervid_mr):
#        python tools/data/make_intervid_mr.py \
#            --input data/intervid_mr/raw_train.jsonl \
#            --video-dir data/intervid_mr/features/internvideo2 \
#            --caption-dir data/intervid_mr/features/internvideo2_caption \
#            --out data/intervid_mr/annotations/intervid_mr_train.jsonl
#   2. pretrain:   python tools/train.py configs/pretrain/sgdetr_pretrain_intervid_mr.py
#   3. zero-shot:  python tools/test.py \
#                      configs/pretrain/sgdetr_pretrain_intervid_mr.py \
#                      work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth --split val
#   4. fine-tune:  python tools/train.py configs/pretrain/sgdetr_qvh_finetune.py
#
#   data/intervid_mr/
#   |-- annotations/intervid_mr_train.jsonl      QVHighlights format (step 1)
#   `-- features/
#       |-- internvideo2/{vid}.npz               'features'          (L <= 75, 768)
#       |-- internvideo2_text/qid{qid}.npz       'last_hidden_state' (N, 4096)
#       `-- internvideo2_caption/qid{qid}.npz    'pooler_output'     (768,)
#
# The model reads the same kinds of features as on QVHighlights (video: the
# video encoder's clips; text: the token features of internvideo2_text), so its
# weights carry over to fine-tuning unchanged.  internvideo2_caption is used by
# step 1 only: the caption embedding in the video space, for the clip-caption
# cosine of eq. 16.
#
# Schedule: the paper gives none for pretraining.  30 epochs of the ~150k
# samples (~35k steps of batch 128, ~4x the QVHighlights schedule), lr 5e-4
# halved at 2/3 and 5/6 of the run as in the other schedules; validated and
# checkpointed every epoch to follow the zero-shot score.
_base_ = ['../sgdetr_qvh.py']

pretrain_data_root = 'data/intervid_mr/'
max_epochs = 30

train_dataloader = dict(
    dataset=dict(
        data_root=pretrain_data_root,
        ann_file='annotations/intervid_mr_train.jsonl',
        video_feat_dirs=['features/internvideo2'],
        text_feat_dir='features/internvideo2_text',
        # ~150k samples are tens of GB of features: read them from disk
        # instead of caching them in every worker.
        cache_features=False))

train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=45),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[20, 25], gamma=0.5),
]
# The last epoch (epoch_30.pth) is always kept: sgdetr_qvh_finetune.py starts
# from it; best_MR-full-mAP_epoch_*.pth is the best zero-shot checkpoint.
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
