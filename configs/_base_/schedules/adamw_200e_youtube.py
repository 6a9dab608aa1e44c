# The released YouTube-Highlights recipe: AdamW lr 5e-4, weight decay 0.1
# (code/configs/optimizer/youtube.yaml), gradient clipping 0.1
# (code/configs/trainer/default.yaml), 200 epochs (code/configs/trainer/gpu_youtube.yaml:
# max_epochs 200 ends the run before max_steps 22800 in every domain), batch 4
# (configs/data/youtube.yaml). The lr rises linearly from 5e-6 over 5 epochs,
# stepped once per epoch (WarmupMultiStepLR, src/utils/scheduler.py), then halves
# at epochs 14 and 22.
_base_ = './adamw_150e.py'
max_epochs = 200
warmup_epochs = 5
milestones = [14, 22]
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=warmup_epochs + 1),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=milestones, gamma=0.5),
]
auto_scale_lr = dict(base_batch_size=4)
