# The released TVSum recipe: AdamW lr 5e-4, weight decay 0.1
# (code/configs/optimizer/tvsum.yaml), gradient clipping 0.1
# (code/configs/trainer/default.yaml), 200 epochs (configs/trainer/gpu_tvsum.yaml:
# max_epochs 200 ends the run long before max_steps 12800 at one batch of 4 per
# epoch), batch 4 (configs/data/tvsum.yaml). The lr rises linearly from 1e-5 over
# 20 epochs, stepped once per epoch (WarmupMultiStepLR, src/utils/scheduler.py);
# the yaml's milestones 12 and 18 fall inside the warm-up, where that scheduler
# returns the warm-up lr and its MultiStepLR part never decays it: the lr stays
# 5e-4 after epoch 20. No MultiStepLR here, for the same schedule.
_base_ = './adamw_150e.py'
max_epochs = 200
warmup_epochs = 20
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    # 1e-5 / 5e-4 at epoch 0, the full lr at epoch `warmup_epochs`
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0, end=warmup_epochs + 1),
]
auto_scale_lr = dict(base_batch_size=4)
