# QVHighlights (Lei et al., 2021): 2 s clips, 150 s videos (75 clips),
# windows + per-clip saliency of 3 annotators in train/val. The test ground
# truth was released with the closing of the benchmark server
# (highlight_test_with_gt.jsonl in the Moment-DETR repository, data/). The
# test split below is the release without it (submission only); to score the
# test split locally, with the submission still written when asked:
#   python tools/test.py CONFIG CKPT --split test \
#       --ann-file data/qvhighlights/annotations/highlight_test_with_gt.jsonl
#
# Expected layout (paths relative to the working directory), the layout of the
# SG-DETR release (InternVideo2-1B, `feature_layout='released'`):
#
#   data/qvhighlights/
#   |-- annotations/
#   |   |-- highlight_train_release.jsonl
#   |   |-- highlight_val_release.jsonl
#   |   |-- highlight_test_release.jsonl
#   |   `-- highlight_test_with_gt.jsonl     (optional: the test ground truth)
#   `-- features/
#       |-- internvideo2_video/{vid}.pt      torch tensor   (L, 512)
#       `-- internvideo2_text/{qid}.npz      'features'     (N, 512)
#
# For features in the Moment-DETR / Lighthouse layout ({vid}.npz 'features',
# qid{qid}.npz 'last_hidden_state') set feature_layout='npz'; several video
# directories (e.g. SlowFast + CLIP) are concatenated along D.
# The pipeline is the released one: at most 75 clips and 40 tokens, both
# L2-normalised; the clips' normalised start/end appended (video_dim + 2 into
# the model); zero clips up to a multiple of 4 (the pyramid's largest stride),
# which count as clips of the video.
# A child config that changes a top-level variable below must also override
# the dataloader fields that use it (configs are evaluated file by file).
dataset_type = 'QVHighlightsDataset'
data_root = 'data/qvhighlights/'
video_dim = 512
text_dim = 512
model_video_dim = video_dim + 2  # + the temporal endpoint features
clip_len = 2.0
max_clips = 75
max_tokens = 40

feature_cfg = dict(
    feature_layout='released',
    video_feat_dirs=['features/internvideo2_video'],
    text_feat_dir='features/internvideo2_text',
    clip_len=clip_len,
    video_dim=video_dim,
    text_dim=text_dim,
    # Per persistent worker; 'preload' keeps one copy shared by the workers.
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
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/highlight_train_release.jsonl',
        pipeline=train_pipeline,
        **feature_cfg))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='sgdetr.moment_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/highlight_val_release.jsonl',
        test_mode=True,
        pipeline=test_pipeline,
        **feature_cfg))
# The test split is read exactly like the val split.
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'],
                 ann_file='annotations/highlight_test_release.jsonl'))

val_evaluator = dict(
    type='QVHighlightsMetric',
    ann_file=data_root + 'annotations/highlight_val_release.jsonl')
test_evaluator = dict(
    type='QVHighlightsMetric',
    split_name='test',
    ann_file=data_root + 'annotations/highlight_test_release.jsonl')
