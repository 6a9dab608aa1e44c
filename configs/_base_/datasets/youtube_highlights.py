# YouTube-Highlights (Sun et al., 2014): 433 videos of 6 domains, the domain name
# as query, one 0/1 highlight label per segment (segments of 100 frames, 50 apart).
# Highlight detection only: a model is trained and evaluated on one domain at a
# time, and the val split is also the test split (as in UMT / QD-DETR and the
# SG-DETR release, configs/data/youtube.yaml, whose test annotations are the val
# file). Reported: mAP per domain and their mean (tools/analysis/run_hd_benchmarks.py).
#
# Expected layout (paths relative to the working directory); the annotations are
# the Lighthouse conversion (`label`, `domain`, no windows):
#
#   data/youtube_highlights/
#   |-- annotations/
#   |   |-- youtube_highlight_train_release.jsonl
#   |   `-- youtube_highlight_val_release.jsonl
#   `-- features/
#       |-- internvideo2_video/{vid}.pt      torch tensor   (L, video_dim), L = label rows
#       `-- internvideo2_text/{qid}.npz      'features'     (N, text_dim)
#
# The release trains on its own InternVideo2 features (512-d video + 2 temporal
# endpoints, 512-d text; configs/data/youtube.yaml, configs/model/youtube.yaml
# vid_dim 514 / txt_dim 512); they were not published with the checkpoints, so
# video_dim / text_dim / feature_layout are fields to match the features at hand
# (e.g. feature_layout='npz' for Lighthouse's files). One feature row per label
# row: the clip length is each video's duration / number of label rows.
# Pipeline as released: at most 1000 clips (max_video_length) and 40 tokens, both
# L2-normalised, temporal endpoints appended, zero clips up to a multiple of 4
# (saliency target 0, as released). Saliency targets: HighlightSaliencyTargets.
# A child config that changes a top-level variable below must also override
# the dataloader and evaluator fields that use it (configs are evaluated file by
# file); tools/analysis/run_hd_benchmarks.py sets `domain` in all of them.
dataset_type = 'YouTubeHighlightsDataset'
data_root = 'data/youtube_highlights/'
#: the 6 domains, as the annotation files spell them
domains = ['dog', 'gymnastics', 'parkour', 'skating', 'skiing', 'surfing']
domain = 'dog'  # the domain this config trains (configs/data/youtube.yaml)
video_dim = 512
text_dim = 512
model_video_dim = video_dim + 2  # + the temporal endpoint features
max_clips = 1000
max_tokens = 40
train_ann_file = 'annotations/youtube_highlight_train_release.jsonl'
val_ann_file = 'annotations/youtube_highlight_val_release.jsonl'

feature_cfg = dict(
    feature_layout='released',
    video_feat_dirs=['features/internvideo2_video'],
    text_feat_dir='features/internvideo2_text',
    clip_len=None,  # duration / label rows
    video_dim=video_dim,
    text_dim=text_dim,
    cache_features='preload')  # 433 short videos: read once, shared by the workers
train_pipeline = [
    dict(type='TruncateFeatures', max_clips=max_clips, max_tokens=max_tokens),
    dict(type='AppendTemporalEndpoints'),
    dict(type='PadClips', multiple=4),
    dict(type='BuildMomentTargets'),
    dict(type='HighlightSaliencyTargets', protocol='youtube'),
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
        dict(type='BuildMomentTargets'),  # the timeline the model reads
        dict(type='PackMomentInputs'),
    ]),
]

train_dataloader = dict(
    batch_size=4,  # configs/data/youtube.yaml
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=train_ann_file,
        domains=[domain],
        pipeline=train_pipeline,
        **feature_cfg))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='sgdetr.moment_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=val_ann_file,
        domains=[domain],
        test_mode=True,
        pipeline=test_pipeline,
        **feature_cfg))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='HighlightMAPMetric',
    protocol='youtube',
    domains=[domain],
    ann_file=data_root + val_ann_file)
test_evaluator = dict(val_evaluator, split_name='test')
