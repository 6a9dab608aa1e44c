_base_ = ['../_base_/models/zero_shot.py', '../_base_/datasets/synthetic.py',
          '../_base_/default_runtime.py']
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
train_dataloader = None  # parameter-free: evaluation only
