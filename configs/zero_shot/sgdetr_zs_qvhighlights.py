# Zero-shot SG-DETR on QVHighlights (paper Table 3, "ZS"): the model pretrained
# on InterVid-MR (configs/pretrain/sgdetr_pretrain_intervid_mr.py), evaluated
# without fine-tuning. Evaluation only: a checkpoint is required.
#
#   1. python tools/train.py configs/pretrain/sgdetr_pretrain_intervid_mr.py
#   2. python tools/test.py configs/zero_shot/sgdetr_zs_qvhighlights.py \
#          work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth [--split val]
#      test split scored locally (the released test ground truth):
#          ... --ann-file data/qvhighlights/annotations/highlight_test_with_gt.jsonl
#      or the server's submission: ... --submission-dir work_dirs/zs_submission
#   3. python tools/train.py configs/pretrain/sgdetr_qvh_finetune.py
#
# As released, zero-shot on QVHighlights is the pretraining run's own
# validation (configs/data/pretrain_dgx.yaml validates and tests on
# highlight_val_release.jsonl with the QVHighlights model and post-processing
# of configs/model/pretrain.yaml, configs/postprocessor/default.yaml): the
# model, data (2 s clips, at most 75) and post-processing of sgdetr_qvh.py.
_base_ = ['../sgdetr_qvh.py']

# evaluation only (tools/test.py); training is the pretrain config's
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
auto_scale_lr = None
