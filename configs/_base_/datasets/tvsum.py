# TVSum (Song et al., 2015): 50 YouTube videos of 10 categories, 5 per category
# (4 train, 1 val), the video title as query, one label row per segment with the
# 1..5 importance scores of 20 annotators. Highlight detection only: a model is
# trained and evaluated on one category (`domain`) at a time, and the val split is
# also the test split (as in UMT / QD-DETR and the SG-DETR release,
# configs/data/tvsum.yaml, whose test annotations are the val file). Reported:
# top-5 mAP per category and their mean (tools/analysis/run_hd_benchmarks.py).
#
# Expected layout (paths relative to the working directory); the annotations are
# the Lighthouse conversion (`label`, `domain`, no windows):
#
#   data/tvsum/
#   |-- annotations/
#   |   |-- tvsum_train_release.jsonl
#   |   `-- tvsum_val_release.jsonl
#   `-- features/
#       |-- internvideo2_video/{vid}.pt      torch tensor   (L, video_dim), L = label rows
#       `-- internvideo2_text/{qid}.npz      'features'     (N, text_dim)
#
# The release trains on its own InternVideo2 features (512-d video + 2 temporal
# endpoints, 512-d text; configs/data/tvsum.yaml, code/configs/model/tv_sum.yaml
# vid_dim 514 / txt_dim 512); they were not published with the checkpoints, so
# video_dim / text_dim / feature_layout are fields to match the features at hand
# (e.g. feature_layout='npz' for Lighthouse's files). One feature row per label
# row: the clip length is each video's duration / number of label rows.
# Pipeline as released: at most 500 clips (max_video_length) and 40 tokens, both
# L2-normalised, temporal endpoints appended; no padding clips (the release cuts
# TVSum clips back to the label length). Saliency targets: HighlightSaliencyTargets.
# A child config that changes a top-level variable below must also override
# the dataloader and evaluator fields that use it (configs are evaluated file by
# file); tools/analysis/run_hd_benchmarks.py sets `domain` in all of them.
dataset_type = 'TVSumDataset'
data_root = 'data/tvsum/'
#: the 10 categories, as the annotation files spell them
domains = ['BK', 'BT', 'DS', 'FM', 'GA', 'MS', 'PK', 'PR', 'VT', 'VU']
domain = 'BK'  # the category this config trains (configs/data/tvsum.yaml)
video_dim = 512
text_dim = 512
model_video_dim = video_dim + 2  # + the temporal endpoint features
max_clips = 500
max_tokens = 40
train_ann_file = 'annotations/tvsum_train_release.jsonl'
val_ann_file = 'annotations/tvsum_val_release.jsonl'

feature_cfg = dict(
    feature_layout='released',
    video_feat_dirs=['features/internvideo2_video'],
    text_feat_dir='features/internvideo2_text',
    clip_len=None,  # duration / label rows
    video_dim=video_dim,
    text_dim=text_dim,
    cache_features='preload')  # 50 videos: read once, shared by the workers
train_pipeline = [
    dict(type='TruncateFeatures', max_clips=max_clips, max_tokens=max_tokens),
    dict(type='AppendTemporalEndpoints'),
    dict(type='BuildMomentTargets'),
    dict(type='HighlightSaliencyTargets', protocol='tvsum'),
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
        dict(type='BuildMomentTargets'),  # the timeline the model reads
        dict(type='PackMomentInputs'),
    ]),
]

train_dataloader = dict(
    batch_size=4,  # configs/data/tvsum.yaml
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
    protocol='tvsum',
    domains=[domain],
    ann_file=data_root + val_ann_file)
test_evaluator = dict(val_evaluator, split_name='test')
