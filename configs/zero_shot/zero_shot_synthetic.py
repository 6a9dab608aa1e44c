# The zero-shot cosine baseline on the synthetic data (see zero_shot_qvh.py).
_base_ = ['../_base_/models/zero_shot.py', '../_base_/datasets/synthetic.py',
          '../_base_/default_runtime.py']
# Parameter-free, it has no trained length: it reads every clip of the video.
_pipeline = [
    dict(type='TruncateFeatures', max_clips=None, max_tokens={{_base_.max_tokens}}),
    dict(type='BuildMomentTargets'),
    dict(type='PackMomentInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=_pipeline))
test_dataloader = dict(dataset=dict(pipeline=_pipeline))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
train_dataloader = None  # parameter-free: evaluation only
