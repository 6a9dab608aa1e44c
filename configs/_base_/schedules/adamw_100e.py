# The released Charades-STA recipe (configs/optimizer/charades.yaml,
# code/configs/trainer/gpu_charades.yaml): 100 epochs, 20 warm-up epochs,
# lr halved at epochs 40 and 50, batch 64.
_base_ = './adamw_150e.py'
max_epochs = 100
warmup_epochs = 20
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs + 1),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[40, 50], gamma=0.5),
]
auto_scale_lr = dict(base_batch_size=64)
