# The embedded default: SG-DETR on the synthetic data (tools/data/make_synthetic.py
# writes it in the QVHighlights layout), shrunk to train on a CPU in a few
# minutes. The model is the released one (sgdetr_qvh.py) at hidden size 128.
_base_ = ['./sgdetr_qvh.py']

data_root = 'data/synthetic/'
video_dim = 256
text_dim = 256
hidden_dim = 128
max_epochs = 16

# The synthetic video and text features share one space: the local saliency compares
# them directly (the released model learns the alignment, too slowly for a CPU demo;
# see docs/design.md, "Measured").
model = dict(encoder=dict(video_dim=video_dim + 2, text_dim=text_dim, embed_dims=hidden_dim,
                          saliency_space='raw'))

_features = dict(data_root=data_root, feature_layout='npz', video_feat_dirs=['features/video'],
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
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=3),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[12, 14], gamma=0.5),
]
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=8, save_best='MR-full-mAP'))
