# Zero-shot SG-DETR on Charades-STA (paper Table 4, "ZS"): the model pretrained
# on InterVid-MR (configs/pretrain/sgdetr_pretrain_intervid_mr.py), evaluated
# on the Charades-STA test split without fine-tuning. A checkpoint is required.
#
#   1. python tools/train.py configs/pretrain/sgdetr_pretrain_intervid_mr.py
#   2. python tools/test.py configs/zero_shot/sgdetr_zs_charades.py \
#          work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth
#   3. fine-tune: python tools/train.py configs/sgdetr_charades.py \
#          --cfg-options load_from=work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth
#
# The release has no zero-shot config; its evaluation entry point
# (configs/eval_charades.yaml) tests a checkpoint with the Charades-STA data,
# model and post-processing (configs/data/charades.yaml: 1 s clips, at most 200;
# configs/model/charades.yaml; code/configs/postprocessor/charades.yaml), and
# the pretrained model has the architecture of those (2 pooling layers): this
# is sgdetr_charades.py, evaluation only. Its training-only settings (prior
# probability 0.25, 18 ATSS candidates) do not change a loaded model.
#
# One change: the pretrained ATSS head regresses in clips (2 s units on 2 s
# clips), so its spans are decoded in units of this dataset's clip (1 s); the
# Charades-trained model keeps the released 2 s unit it was trained with.
# This changes the fused DETR + ATSS windows ('fusion/' metrics) only; the
# reported DETR windows do not use the ATSS head.
_base_ = ['../sgdetr_charades.py']

model = dict(atss_head=dict(unit_seconds={{_base_.clip_len}}))

train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
auto_scale_lr = None
