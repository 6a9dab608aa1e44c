# The zero-shot cosine baseline on the synthetic data (see zero_shot_qvh.py).
_base_ = ['../_base_/models/zero_shot.py', '../_base_/datasets/synthetic.py',
          '../_base_/default_runtime.py']
_pipeline = [
    dict(type='TruncateFeatures', max_clips={{_base_.max_clips}},
         max_tokens={{_base_.max_tokens}}),
    dict(type='BuildMomentTargets'),
    dict(type='PackMomentInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_pipeline))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
train_dataloader = None  # parameter-free: evaluation only
