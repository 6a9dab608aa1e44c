# SG-DETR (paper §3, §4.4): hidden 256, 2 attention-pooling layers, 2 SGCA layers,
# 3 encoder and 3 decoder layers, 25 queries, dropout 0.1 (0.5 in the input
# projections), hybrid DINO-style DETR + ATSS head, IoU head, weighted span fusion.
# `video_dim` / `text_dim` are filled in by the top-level config from its dataset.
hidden_dim = 256
model = dict(
    type='SGDETR',
    data_preprocessor=dict(type='MomentDataPreprocessor'),
    encoder=dict(
        type='SaliencyGuidedEncoder',
        video_dim=None,
        text_dim=None,
        embed_dims=hidden_dim,
        # 'raw' when video_dim == text_dim (one aligned space), else 'projected'
        saliency_space='auto',
        pooling_encoder=dict(num_layers=2),
        cross_encoder=dict(num_layers=2, saliency_guided=True),
        context_encoder=dict(num_layers=3),
        global_saliency=dict(enabled=True)),
    detr_head=dict(
        type='SpanDINOHead',
        hidden_dim=hidden_dim,
        num_queries=25,
        num_decoder_layers=3,
        dropout=0.1,
        with_iou_head=True,
        score_alpha=0.5,
        denoising=dict(type='SpanDenoisingGenerator', num_groups=5, noise_scale=1.0)),
    atss_head=dict(
        type='SpanATSSHead',
        in_channels=hidden_dim,
        feat_channels=hidden_dim,
        anchor_widths=(1, 2, 4, 8, 16, 32, 64),
        max_positive_queries=64,
        loss_weight=1.0),
    fusion=dict(type='WeightedSpanFusion', model_weights=(1.0, 1.0), iou_thr=0.55),
    saliency_loss=dict(type='SaliencyLoss', loss_weight=1.0),
    alignment_loss=dict(type='MomentSentenceAlignmentLoss', loss_weight=1.0),
    moment_clip_loss=dict(type='MomentClipLoss', loss_weight=1.0),
    max_windows=10)
