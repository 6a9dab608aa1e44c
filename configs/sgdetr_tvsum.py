# SG-DETR on TVSum, highlight detection only, one category at a time (`domain` of
# _base_/datasets/tvsum.py; tools/analysis/run_hd_benchmarks.py runs all ten and
# prints the top-5 mAP table). As released (configs/train_tvsum.yaml and the files
# it names): the model of code/configs/model/tv_sum.yaml (= the QVHighlights model)
# without its span heads, whose losses the release weights 0; batch 4, 200 epochs,
# AdamW 5e-4, 20 warm-up epochs; seed 42; the best epoch kept by the val top-5 mAP
# (code/configs/callbacks/tvsum.yaml monitors val/HL-mAP-top5), the val split being
# the test split. The losses file the release names (`losses: tv_sum`) is not in its
# repository: the YouTube-Highlights one (configs/losses/youtube.yaml) is used.
_base_ = ['_base_/models/sgdetr_hd.py', '_base_/datasets/tvsum.py',
          '_base_/schedules/adamw_200e_tvsum.py', '_base_/default_runtime.py']

model = dict(encoder=dict(video_dim={{_base_.model_video_dim}},
                          text_dim={{_base_.text_dim}}))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=50, max_keep_ckpts=1,
                    save_best='HL-mAP', rule='greater'))
randomness = dict(seed=42)
