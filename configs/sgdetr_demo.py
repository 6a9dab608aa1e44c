# The embedded default: SG-DETR on the synthetic data (tools/data/make_synthetic.py
# writes it in the QVHighlights layout), shrunk to train on a CPU in a few
# minutes. The model is the paper's (sgdetr_qvh.py) with a smaller hidden size.
_base_ = ['./sgdetr_qvh.py']

data_root = 'data/synthetic/'
video_dim = 256
text_dim = 256
hidden_dim = 128
max_epochs = 16

ffn_dim = 256
model = dict(
    encoder=dict(video_dim=video_dim, text_dim=text_dim, embed_dims=hidden_dim,
                 cross_encoder=dict(feedforward_dims=ffn_dim),
                 context_encoder=dict(feedforward_dims=ffn_dim)),
    detr_head=dict(hidden_dim=hidden_dim, ffn_dim=ffn_dim,
                   denoising=dict(num_groups=2)),
    atss_head=dict(in_channels=hidden_dim, feat_channels=hidden_dim,
                   max_positive_queries=16),
    # the cheap (local-only) negative-pair path: one encoder pass per step
    neg_pair_global=False)

_features = dict(data_root=data_root, video_feat_dirs=['features/video'],
                 text_feat_dir='features/text', video_dim=video_dim, text_dim=text_dim,
                 cache_features='preload')
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                        dataset=_features)
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_features)
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=_features)
val_evaluator = dict(ann_file=data_root + 'annotations/highlight_val_release.jsonl')
test_evaluator = dict(ann_file=data_root + 'annotations/highlight_test_release.jsonl')

train_cfg = dict(max_epochs=max_epochs, val_interval=8)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=45),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[12, 14], gamma=0.5),
]
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=8, save_best='MR-full-mAP'))
