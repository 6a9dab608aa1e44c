# SG-DETR on TACoS, as released (configs/model/tacos.yaml, configs/losses/tacos.yaml,
# configs/optimizer/tacos.yaml, configs/postprocessor/tacos.yaml,
# configs/data/tacos_dgx.yaml): 2 s clips (at most 750), batch 32, prior
# probability 0.2, one sentence-pooling layer, 120 epochs (20 warm-up, lr x0.5
# at 70 and 85); windows rounded to 0.4 s, at least 2 s long; fusion weights
# 1 : 1, IoU 0.6, skip 0.1 (ATSS candidates: score > 0.05, NMS 0.6, 20 best).
# The best checkpoint is kept by R1@0.3, as released.
_base_ = ['_base_/models/sgdetr.py', '_base_/datasets/tacos.py',
          '_base_/schedules/adamw_120e.py', '_base_/default_runtime.py']

prior_prob = 0.2
model = dict(
    encoder=dict(video_dim={{_base_.model_video_dim}}, text_dim={{_base_.text_dim}},
                 local_saliency=dict(pooling=dict(num_layers=1))),
    detr_head=dict(prior_prob=prior_prob),
    # the moment-clip loss averaged over every position of the batch, as released
    # (videos of varied lengths: 3-4x less weight than over the valid clips)
    moment_clip_loss=dict(average='batch'),
    atss_head=dict(prior_prob=prior_prob),
    postprocess=dict(
        round_to=0.4, min_length=2.0, max_windows=10,
        atss=dict(score_thr=0.05, nms_thr=0.6, max_per_video=20),
        fusion=dict(atss=dict(score_thr=0.05, nms_thr=0.6, max_per_video=20),
                    model_weights=(1.0, 1.0), iou_thr=0.6, skip_score_thr=0.1)))
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=2,
                    save_best='R1@0.3', rule='greater'))
