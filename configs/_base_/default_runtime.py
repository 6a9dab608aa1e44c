default_scope = 'sgdetr'
custom_imports = dict(imports=['sgdetr'], allow_failed_imports=False)
# strict checkpoint loading, start-up checks, exact resume (sgdetr.engine.SGDETRRunner;
# it adds RandomStateHook and WeightsOnlyCheckpointHook to every run)
runner_type = 'SGDETRRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # the atomic backend: a save killed halfway leaves the previous file, never a truncated one
    logger=dict(type='LoggerHook', interval=20,
                backend_args=dict(backend='sgdetr_atomic_local')),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                    backend_args=dict(backend='sgdetr_atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))  # tools/ switch to gloo on CPU-only machines

vis_backends = [dict(type='LocalVisBackend')]
# TensorBoard as well (pip install tensorboard; events in <work_dir>/<timestamp>/vis_data):
# vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=2024)
