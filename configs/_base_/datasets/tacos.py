# TACoS (Regneri et al., 2013): 2 s clips, long cooking videos (up to
# ~23 min), one window per query, binary saliency (a clip is positive if it
# overlaps the window by more than half).
#
# Expected layout (paths relative to the working directory):
#
#   data/tacos/
#   |-- annotations/
#   |   |-- tacos_train_release.jsonl
#   |   |-- tacos_val_release.jsonl
#   |   `-- tacos_test_release.jsonl
#   `-- features/
#       |-- internvideo2/{vid}.npz           'features'          (L, 768)
#       `-- internvideo2_text/qid{qid}.npz   'last_hidden_state' (N, 4096)
#
# Other features: list their directories in video_feat_dirs (concatenated
# along D) and set video_dim / text_dim; they are checked at start-up.
# A child config that changes a top-level variable below must also override
# the dataloader fields that use it (configs are evaluated file by file).
dataset_type = 'TACoSDataset'
data_root = 'data/tacos/'
video_dim = 768
text_dim = 4096
clip_len = 2.0
max_v_len = None  # up to ~700 clips: keep whole videos (set e.g. 512 to cap)
max_q_len = 32

feature_cfg = dict(
    video_feat_dirs=['features/internvideo2'],
    text_feat_dir='features/internvideo2_text',
    clip_len=clip_len,
    max_v_len=max_v_len,
    max_q_len=max_q_len,
    video_dim=video_dim,
    text_dim=text_dim,
    cache_features=True)

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
        with_neg_query=True,
        **feature_cfg))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/tacos_val_release.jsonl',
        test_mode=True,
        **feature_cfg))
# The test split is read exactly like the val split.
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'],
                 ann_file='annotations/tacos_test_release.jsonl'))

val_evaluator = dict(
    type='MomentRecallMetric',
    split_name='val',
    ann_file=data_root + 'annotations/tacos_val_release.jsonl')
test_evaluator = dict(
    type='MomentRecallMetric',
    ann_file=data_root + 'annotations/tacos_test_release.jsonl')
