# SG-DETR pretrained on InterVid-MR (paper §4.3): trained on captions relabelled
# into MR + HD samples, validated on QVHighlights val, which it never trains on:
# every validation is a zero-shot evaluation (the paper's "ZS").
#
# The chain, from the repository root (annotations first, rules in
# sgdetr.datasets.intervid_mr; step 0 trims the source videos' clips into the
# segments this config trains on, internvideo2_video/{segment vid}.pt):
#   0. python tools/data/make_intervid_mr.py --input data/intervid_mr/raw_train.jsonl \
#          --feature-layout released --video-dir data/intervid_mr/features/internvideo2_full \
#          --caption-dir data/intervid_mr/features/internvideo2_caption \
#          --segment-dir data/intervid_mr/features/internvideo2_video \
#          --out data/intervid_mr/annotations/intervid_mr_train.jsonl
#   1. pretrain:   python tools/train.py configs/pretrain/sgdetr_pretrain_intervid_mr.py
#   2. zero-shot:  python tools/test.py configs/zero_shot/sgdetr_zs_qvhighlights.py \
#                      work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth
#                  (sgdetr_zs_charades.py / sgdetr_zs_tacos.py: the other benchmarks)
#   3. fine-tune:  python tools/train.py configs/pretrain/sgdetr_qvh_finetune.py
#
# The layout is the released one, as on QVHighlights (`feature_layout='released'`):
#
#   data/intervid_mr/
#   |-- annotations/intervid_mr_train.jsonl      QVHighlights format (step 0)
#   `-- features/
#       |-- internvideo2_video/{vid}.pt          torch tensor   (L <= 75, 512)  (step 0)
#       |-- internvideo2_text/{qid}.npz          'features'     (N, 512)
#       |-- internvideo2_full/{vid}.pt           the source videos' clips,  step 0 only
#       `-- internvideo2_caption/qid{qid}.npz    'pooler_output' (512,),    step 0 only
#
# The model reads the same kinds of features as on QVHighlights (InternVideo2
# clips of 2 s + their temporal endpoints: 514-d; token features: 512-d), so its
# weights carry over to zero-shot evaluation and fine-tuning unchanged.
#
# The released pretraining recipe (github.com/chinagalaxy2002/SG_CGP,
# configs/pretrain.yaml -> configs/optimizer/pretrain_150.yaml,
# configs/trainer/gpu_pretrain_150.yaml, configs/data/pretrain_dgx.yaml,
# configs/callbacks/pretrain.yaml): batch 256; AdamW lr 5e-4, weight decay 0.1,
# gradient clipping 0.1 (code/configs/trainer/default.yaml); WarmupMultiStepLR
# stepped per epoch: 4 warm-up epochs from 1e-5, lr x0.1 at epochs 20 and 27;
# 30 epochs (17,500 steps: ~150k samples); validated every epoch on QVHighlights
# val, the best MR mAP kept. No weight averaging in pretraining (the callbacks
# list has none; fine-tuning has it, see sgdetr_qvh_finetune.py).
_base_ = ['../sgdetr_qvh.py']

pretrain_data_root = 'data/intervid_mr/'
max_epochs = 30
warmup_epochs = 4
batch_size = 256

train_dataloader = dict(
    batch_size=batch_size,
    dataset=dict(
        data_root=pretrain_data_root,
        ann_file='annotations/intervid_mr_train.jsonl',
        video_feat_dirs=['features/internvideo2_video'],
        text_feat_dir='features/internvideo2_text',
        # ~150k samples are tens of GB of features: read them from disk
        # instead of caching them in every worker.
        cache_features=False))

train_cfg = dict(max_epochs=max_epochs, val_interval=1)
# lr 1e-5 at epoch 0 (start factor 1e-5 / 5e-4) rising to 5e-4 at epoch 4;
# LinearLR over [0, warmup + 1) as in _base_/schedules/adamw_150e.py.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0, end=warmup_epochs + 1),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[20, 27], gamma=0.1),
]
auto_scale_lr = dict(enable=False, base_batch_size=batch_size)
# The last epoch (epoch_30.pth) is always kept: sgdetr_qvh_finetune.py starts
# from it; best_MR-full-mAP_epoch_*.pth is the best zero-shot checkpoint.
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
