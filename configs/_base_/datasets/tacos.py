# TACoS (Regneri et al., 2013): 2 s clips, long cooking videos (up to ~23
# min), one window per query, binary saliency (a clip is positive if a window
# covers more than half of it).
#
# Expected layout (paths relative to the working directory), the layout of the
# SG-DETR release (InternVideo2-1B, `feature_layout='released'`):
#
#   data/tacos/
#   |-- annotations/
#   |   |-- tacos_train_release.jsonl
#   |   `-- tacos_test_release.jsonl
#   |   `-- tacos_val_release.jsonl
#   `-- features/
#       |-- internvideo2_video/{vid}.pt      torch tensor   (L, 512)
#       `-- internvideo2_text/{qid}.npz      'features'     (N, 512)
#
# The annotations are Lighthouse's converted files (QVHighlights keys). For
# features in the npz layout set feature_layout='npz' (see qvhighlights.py).
# The pipeline is the released one: at most 750 clips and 40 tokens,
# L2-normalised, temporal endpoint features, zero clips up to a multiple of 4.
# A child config that changes a top-level variable below must also override
# the dataloader fields that use it (configs are evaluated file by file).
dataset_type = 'TACoSDataset'
data_root = 'data/tacos/'
video_dim = 512
text_dim = 512
model_video_dim = video_dim + 2  # + the temporal endpoint features
clip_len = 2.0
max_clips = 750
max_tokens = 40

feature_cfg = dict(
    feature_layout='released',
    video_feat_dirs=['features/internvideo2_video'],
    text_feat_dir='features/internvideo2_text',
    clip_len=clip_len,
    video_dim=video_dim,
    text_dim=text_dim,
    cache_features=True)
train_pipeline = [
    dict(type='TruncateFeatures', max_clips=max_clips, max_tokens=max_tokens),
    dict(type='AppendTemporalEndpoints'),
    dict(type='PadClips', multiple=4),
    dict(type='BuildMomentTargets', max_windows=10),
    dict(type='PackMomentInputs'),
]
# Whole videos: a video longer than max_clips is read as overlapping windows of
# max_clips clips, each prepared as a video of its own and merged back by the
# model (model.test_cfg; whole_video=False reads the first window only, the
# released truncation).
test_pipeline = [
    dict(type='TruncateFeatures', max_clips=None, max_tokens=max_tokens),
    dict(type='SlidingWindows', window=max_clips, transforms=[
        dict(type='AppendTemporalEndpoints'),
        dict(type='PadClips', multiple=4),
        dict(type='BuildMomentTargets'),
        dict(type='PackMomentInputs'),
    ]),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/tacos_train_release.jsonl',
        pipeline=train_pipeline,
        **feature_cfg))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='sgdetr.moment_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/tacos_val_release.jsonl',
        test_mode=True,
        pipeline=test_pipeline,
        **feature_cfg))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='annotations/tacos_test_release.jsonl'))

val_evaluator = dict(
    type='MomentRecallMetric',
    split_name='val',
    ann_file=data_root + 'annotations/tacos_val_release.jsonl')
test_evaluator = dict(
    type='MomentRecallMetric',
    ann_file=data_root + 'annotations/tacos_test_release.jsonl')
