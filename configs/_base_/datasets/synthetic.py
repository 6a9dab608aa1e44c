# Synthetic MR/HD data in the QVHighlights layout ('npz' feature layout), used
# by the demo and the tests. Generate it first (seconds):
#
#   python tools/data/make_synthetic.py --out-dir data/synthetic
#
#   data/synthetic/
#   |-- annotations/highlight_{train,val,test}_release.jsonl
#   `-- features/
#       |-- video/{vid}.npz      'features'          (L <= 75, 256)
#       `-- text/qid{qid}.npz    'last_hidden_state' (N <= 32, 256)
#
# Video and text share one 256-d space. The test split carries no ground
# truth, as the real QVHighlights test split. Everything else (pipeline,
# evaluation) is the QVHighlights dataset config.
_base_ = ['./qvhighlights.py']

data_root = 'data/synthetic/'
video_dim = 256
text_dim = 256
model_video_dim = video_dim + 2

_synthetic_features = dict(
    data_root=data_root,
    feature_layout='npz',
    video_feat_dirs=['features/video'],
    text_feat_dir='features/text',
    video_dim=video_dim,
    text_dim=text_dim,
    # ~60 MB in all: each persistent worker keeps its own copy.
    cache_features=True)
train_dataloader = dict(batch_size=32, num_workers=2, dataset=_synthetic_features)
val_dataloader = dict(num_workers=2, dataset=_synthetic_features)
test_dataloader = dict(num_workers=2, dataset=_synthetic_features)

val_evaluator = dict(ann_file=data_root + 'annotations/highlight_val_release.jsonl')
test_evaluator = dict(ann_file=data_root + 'annotations/highlight_test_release.jsonl')
