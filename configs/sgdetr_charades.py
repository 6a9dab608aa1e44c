# SG-DETR on Charades-STA, as released (configs/model/charades.yaml,
# configs/optimizer/charades.yaml, code/configs/postprocessor/charades.yaml):
# 1 s clips (at most 200), batch 64, prior probability 0.25, 18 ATSS candidates
# per level, 100 epochs (20 warm-up, lr x0.5 at 40 and 50); windows rounded to
# 0.1 s, at least 1 s long; fusion of DETR and ATSS with weights 1 : 1, IoU 0.5,
# skip 0.4 (ATSS candidates: score > 0.1, NMS 0.5, 50 best). The best
# checkpoint is kept by R1@0.5, as released.
_base_ = ['_base_/models/sgdetr.py', '_base_/datasets/charades_sta.py',
          '_base_/schedules/adamw_100e.py', '_base_/default_runtime.py']

prior_prob = 0.25
model = dict(
    encoder=dict(video_dim={{_base_.model_video_dim}}, text_dim={{_base_.text_dim}}),
    detr_head=dict(prior_prob=prior_prob),
    # the moment-clip loss averaged over every position of the batch, as released
    # (videos of varied lengths: 3-4x less weight than over the valid clips)
    moment_clip_loss=dict(average='batch'),
    atss_head=dict(prior_prob=prior_prob, topk=18),
    postprocess=dict(
        round_to=0.1, min_length=1.0, max_windows=10,
        atss=dict(score_thr=0.1, nms_thr=0.5, max_per_video=50),
        fusion=dict(atss=dict(score_thr=0.1, nms_thr=0.5, max_per_video=50),
                    model_weights=(1.0, 1.0), iou_thr=0.5, skip_score_thr=0.4)))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2,
                    save_best='R1@0.5', rule='greater'))
