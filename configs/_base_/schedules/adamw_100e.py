# Paper §4.4 (Charades-STA): 100 epochs, batch 64, lr 5e-4.
_base_ = './adamw_150e.py'
max_epochs = 100
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=45),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[67, 84], gamma=0.5),
]
auto_scale_lr = dict(base_batch_size=64)
