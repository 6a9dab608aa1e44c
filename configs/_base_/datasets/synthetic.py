# Synthetic MR/HD data in the QVHighlights layout, used by the demo and the
# tests.  Generate it first (seconds):
#
#   python tools/data/make_synthetic.py --out-dir data/synthetic
#
#   data/synthetic/
#   |-- annotations/highlight_{train,val,test}_release.jsonl
#   `-- features/
#       |-- video/{vid}.npz      'features'          (L <= 75, 256)
#       `-- text/qid{qid}.npz    'last_hidden_state' (N <= 32, 256)
#
# Video and text share one 256-d space (video_dim == text_dim).  The test
# split carries no ground truth, as the real QVHighlights test split.
# A child config that changes a top-level variable below must also override
# the dataloader fields that use it (configs are evaluated file by file).
dataset_type = 'QVHighlightsDataset'
data_root = 'data/synthetic/'
video_dim = 256
text_dim = 256
clip_len = 2.0
max_v_len = 75
max_q_len = 32

feature_cfg = dict(
    video_feat_dirs=['features/video'],
    text_feat_dir='features/text',
    clip_len=clip_len,
    max_v_len=max_v_len,
    max_q_len=max_q_len,
    video_dim=video_dim,
    text_dim=text_dim,
    # ~60 MB in all: each persistent worker keeps its own copy.
    cache_features=True)

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
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
    num_workers=2,
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
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/highlight_test_release.jsonl',
        test_mode=True,
        **feature_cfg))

val_evaluator = dict(
    type='QVHighlightsMetric',
    ann_file=data_root + 'annotations/highlight_val_release.jsonl')
test_evaluator = dict(
    type='QVHighlightsMetric',
    split_name='test',
    ann_file=data_root + 'annotations/highlight_test_release.jsonl')
