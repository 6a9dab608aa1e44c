# Paper §4.4 (QVHighlights): AdamW lr 5e-4, weight decay 0.1, 45 warm-up steps,
# lr x0.5 at epochs 100 and 125, 150 epochs.
max_epochs = 150
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.1),
    clip_grad=dict(max_norm=0.1, norm_type=2))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=45),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[100, 125], gamma=0.5),
]
# lr above is for this batch size; `tools/train.py --auto-scale-lr` rescales it.
auto_scale_lr = dict(enable=False, base_batch_size=128)
