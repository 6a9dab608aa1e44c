# SG-DETR on QVHighlights, as released: batch 128, AdamW lr 5e-4, wd 0.1,
# 45 warm-up epochs, lr x0.5 at epochs 100 and 125, 150 epochs.
_base_ = ['_base_/models/sgdetr.py', '_base_/datasets/qvhighlights.py',
          '_base_/schedules/adamw_150e.py', '_base_/default_runtime.py']

model = dict(encoder=dict(video_dim={{_base_.model_video_dim}},
                          text_dim={{_base_.text_dim}}))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2,
                    save_best='MR-full-mAP', rule='greater'))
