# The released TACoS recipe (configs/optimizer/tacos.yaml,
# configs/trainer/gpu_tacos.yaml): 120 epochs, 20 warm-up epochs, lr halved
# at epochs 70 and 85, batch 32.
_base_ = './adamw_150e.py'
max_epochs = 120
warmup_epochs = 20
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs + 1),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[70, 85], gamma=0.5),
]
auto_scale_lr = dict(base_batch_size=32)
