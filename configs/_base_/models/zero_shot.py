# Parameter-free floor: cosine of the mean query token with each clip, windows
# from thresholding the smoothed curve. Needs video_dim == text_dim.
model = dict(
    type='ZeroShotSaliency',
    data_preprocessor=dict(type='MomentDataPreprocessor'),
    smooth_kernel=3,
    thresholds=(0.5, 0.6, 0.7, 0.8, 0.9),
    max_windows=10)
