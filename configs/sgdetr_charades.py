# SG-DETR on Charades-STA (§4.4): 1 s clips, batch 64, lr 5e-4, 100 epochs;
# binary highlight labels from the windows (a clip is positive if a window
# covers more than half of it). Milestones scaled from the QVHighlights schedule.
_base_ = ['_base_/models/sgdetr.py', '_base_/datasets/charades_sta.py',
          '_base_/schedules/adamw_100e.py', '_base_/default_runtime.py']

video_dim = {{_base_.video_dim}}
text_dim = {{_base_.text_dim}}
model = dict(encoder=dict(video_dim=video_dim, text_dim=text_dim))
train_dataloader = dict(batch_size=64)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2,
                    save_best='R1@0.5', rule='greater'))
