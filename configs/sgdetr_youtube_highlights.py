# SG-DETR on YouTube-Highlights, highlight detection only, one domain at a time
# (`domain` of _base_/datasets/youtube_highlights.py; tools/analysis/run_hd_benchmarks.py
# runs all six and prints the mAP table). As released (code/configs/train_youtube.yaml
# and the files it names): the model of configs/model/youtube.yaml (= the
# QVHighlights model) without its span heads, whose losses configs/losses/youtube.yaml
# weights 0 (saliency 1, ms_align 1, momcls 3 remain); batch 4, 200 epochs, AdamW
# 5e-4, 5 warm-up epochs, lr x0.5 at epochs 14 and 22; seed 42; the best epoch kept
# by the val mAP (configs/callbacks/youtube.yaml monitors val/HL-mAP-Binary), the
# val split being the test split.
_base_ = ['_base_/models/sgdetr_hd.py', '_base_/datasets/youtube_highlights.py',
          '_base_/schedules/adamw_200e_youtube.py', '_base_/default_runtime.py']

model = dict(encoder=dict(video_dim={{_base_.model_video_dim}},
                          text_dim={{_base_.text_dim}}))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=1,
                    save_best='HL-mAP', rule='greater'))
randomness = dict(seed=42)
