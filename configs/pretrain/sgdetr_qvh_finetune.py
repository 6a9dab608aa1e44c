# SG-DETR fine-tuned on QVHighlights after pretraining on InterVid-MR (the
# paper's "w/ PT"): the QVHighlights model and data of sgdetr_qvh.py, started
# from the weights that sgdetr_pretrain_intervid_mr.py leaves in its default
# work dir, with the released fine-tuning recipe.
#
#   1. python tools/train.py configs/pretrain/sgdetr_pretrain_intervid_mr.py
#   2. python tools/test.py configs/zero_shot/sgdetr_zs_qvhighlights.py \
#          work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth
#   3. python tools/train.py configs/pretrain/sgdetr_qvh_finetune.py
#
# `load_from` loads the model weights only: optimizer, lr schedule and epoch
# count start afresh.  The released fine-tuning runs started from their best
# zero-shot checkpoint (configs/model/finetune_charades.yaml:
# best_pretrain_120k.pt; code/configs/model/finetune_tacos.yaml: epoch 25 of
# 30); for that, or another pretrain run, pass
# --cfg-options load_from=work_dirs/sgdetr_pretrain_intervid_mr/best_MR-full-mAP_epoch_N.pth
#
# The released recipe (configs/finetune.yaml -> code/configs/optimizer/finetune.yaml,
# code/configs/trainer/gpu_finetune.yaml, configs/callbacks/finetune.yaml,
# code/configs/callbacks/stochastic_weight_averaging.yaml, src/litmodule.py
# configure_optimizers): batch 128; AdamW lr 5e-4, weight decay 1e-4 except the
# local saliency head (0.1); gradient clipping 0.1; per epoch: 5 warm-up
# epochs from 1e-5, lr x0.5 at epochs 10 and 30; 50 epochs (2,800 steps);
# stochastic weight averaging from the 37th epoch (Lightning's
# swa_epoch_start=37, 0-based epoch 36) to the end, its lr annealed by a cosine
# over 3 epochs to 1e-5 and held there.
#
# Weight averaging is MMEngine's EMAHook with StochasticWeightAverage: the
# equal-weight mean of the weights after every iteration from epoch 36 on
# (Lightning averages once per epoch). Validation, the best checkpoint and
# every saved `state_dict` see the averaged weights (the current ones are in
# `ema_state_dict`, for resuming), so tools/test.py evaluates the average.
_base_ = ['../sgdetr_qvh.py']

load_from = 'work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth'

max_epochs = 50
warmup_epochs = 5
warmup_start_lr = 1e-5
swa_begin = 36  # 0-based first epoch of the averaging
swa_anneal_epochs = 3
swa_lr = 1e-5
base_lr = 5e-4

train_cfg = dict(max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=1e-4),
    # 1e-4 x 1000 = the 0.1 the local saliency head keeps in the release
    paramwise_cfg=dict(custom_keys={'encoder.local_saliency': dict(decay_mult=1000.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=warmup_start_lr / base_lr, by_epoch=True, begin=0,
         end=warmup_epochs + 1),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=swa_begin,
         milestones=[10, 30], gamma=0.5),
    # torch's SWALR with anneal_strategy='cos': unchanged in the first averaged
    # epoch, swa_lr after `swa_anneal_epochs`; nothing changes it afterwards.
    dict(type='CosineAnnealingLR', by_epoch=True, begin=swa_begin,
         end=swa_begin + swa_anneal_epochs + 1, T_max=swa_anneal_epochs, eta_min=swa_lr),
]
custom_hooks = [
    # EMAHook starts when runner.epoch + 1 >= begin_epoch
    dict(type='EMAHook', ema_type='StochasticWeightAverage', begin_epoch=swa_begin + 1),
]
