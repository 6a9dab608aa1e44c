# SG-DETR on TACoS (§4.4): 2 s clips, batch 32, lr 5e-4, 120 epochs; binary
# highlight labels from the windows. TACoS videos are long (up to ~700 clips)
# and moments short: anchors up to 128 clips for the ATSS head.
_base_ = ['_base_/models/sgdetr.py', '_base_/datasets/tacos.py',
          '_base_/schedules/adamw_120e.py', '_base_/default_runtime.py']

video_dim = {{_base_.video_dim}}
text_dim = {{_base_.text_dim}}
model = dict(encoder=dict(video_dim=video_dim, text_dim=text_dim),
             atss_head=dict(anchor_widths=(1, 2, 4, 8, 16, 32, 64, 128)))
train_dataloader = dict(batch_size=32)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2,
                    save_best='R1@0.5', rule='greater'))
