# QVHighlights (Lei et al., 2021): 2 s clips, 150 s videos (75 clips),
# windows + per-clip saliency of 3 annotators in train/val; the test split
# has no ground truth (predictions go to the benchmark server).
#
# Expected layout (paths relative to the working directory):
#
#   data/qvhighlights/
#   |-- annotations/
#   |   |-- highlight_train_release.jsonl
#   |   |-- highlight_val_release.jsonl
#   |   `-- highlight_test_release.jsonl
#   `-- features/
#       |-- internvideo2/{vid}.npz           'features'          (L, 768)
#       `-- internvideo2_text/qid{qid}.npz   'last_hidden_state' (N, 4096)
#
# InternVideo2 features are the paper's choice.  For the Moment-DETR
# release (SlowFast + CLIP) use instead
#   video_feat_dirs=['features/slowfast_features', 'features/clip_features']
#   (concatenated along D: video_dim = 2304 + 512 = 2816) and
#   text_feat_dir='features/clip_text_features' (text_dim = 512).
# The dims are checked against the first feature files at start-up.
# A child config that changes a top-level variable below must also override
# the dataloader fields that use it (configs are evaluated file by file).
dataset_type = 'QVHighlightsDataset'
data_root = 'data/qvhighlights/'
video_dim = 768
text_dim = 4096
clip_len = 2.0
max_v_len = 75
max_q_len = 32

feature_cfg = dict(
    video_feat_dirs=['features/internvideo2'],
    text_feat_dir='features/internvideo2_text',
    clip_len=clip_len,
    max_v_len=max_v_len,
    max_q_len=max_q_len,
    video_dim=video_dim,
    text_dim=text_dim,
    # Per persistent worker; 'preload' keeps one copy shared by the workers.
    cache_features=True)

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
        with_neg_query=True,
        **feature_cfg))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/highlight_val_release.jsonl',
        test_mode=True,
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
