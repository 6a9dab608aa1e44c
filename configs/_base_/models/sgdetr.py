# SG-DETR as released (github.com/chinagalaxy2002/SG_CGP, code/configs/model/default.yaml
# and configs/losses/tacos.yaml): hidden 256, dropout 0.1 (0.5 in the input
# projections), drop path 0.15; learned-aggregation sentence pooling (2 layers)
# and local saliency cos * exp(t) + a; 2 text-to-video (SGCA) layers; 3 context
# encoder layers; global saliency module; 4-level pyramid; query selection of 25
# queries over every pyramid position; 3 conditional-DETR decoder layers with an
# IoU head; multi-level ATSS head whose positives are collaborative DETR queries;
# sentence / moment token encoders for the alignment and moment-clip losses.
# `video_dim` / `text_dim` are filled in by the top-level config from its dataset.
hidden_dim = 256
prior_prob = 0.35
model = dict(
    type='SGDETR',
    data_preprocessor=dict(type='MomentDataPreprocessor'),
    encoder=dict(
        type='SaliencyGuidedEncoder',
        video_dim=None,
        text_dim=None,
        embed_dims=hidden_dim,
        local_saliency=dict(
            type='LocalSaliencyHead',
            pooling=dict(type='LearnedAggregationPooling', num_layers=2)),
        text_to_video=dict(
            type='TextToVideoEncoder', num_layers=2,
            layer=dict(type='SaliencyGuidedCrossAttention', saliency_guided=True,
                       dropout=0.1, drop_path=0.15)),
        context_encoder=dict(type='VideoContextEncoder', num_layers=3, drop_path=0.15),
        global_saliency=dict(type='GlobalSaliencyModule', enabled=True)),
    pyramid=dict(type='TemporalFeaturePyramid'),
    detr_head=dict(
        type='SpanDETRHead',
        num_queries=25,
        num_decoder_layers=3,
        drop_path=0.15,
        prior_prob=prior_prob,
        with_iou_head=True,
        query_selector=dict(type='MultiLevelQuerySelector',
                            level_widths=(0.05, 0.2, 0.4, 0.85)),
        collaborative=True),
    atss_head=dict(
        type='SpanATSSHead',
        strides=(0.5, 1, 2, 4),
        anchor_sizes=(4, 16, 32, 64),
        topk=12,
        prior_prob=prior_prob),
    sentence_encoder=dict(type='SentenceTokenEncoder', num_layers=1, drop_path=0.15),
    moment_encoder=dict(type='MomentTokenEncoder', num_layers=1, drop_path=0.15),
    saliency_loss=dict(type='SaliencyLoss', margin=0.15, tau=0.5, rank_weight=1.0),
    alignment_loss=dict(type='MomentSentenceAlignmentLoss', loss_weight=1.0),
    moment_clip_loss=dict(type='MomentClipLoss', loss_weight=3.0),
    # the DETR head is the reported output; the fused DETR + ATSS spans are
    # evaluated alongside (metrics prefixed 'fusion/')
    predict_with='detr',
    extra_outputs=('fusion', ),
    # the released post-processing (window rounding, ATSS NMS, span fusion) and
    # whole-video inference are the defaults of SGDETR (DEFAULT_POSTPROCESS,
    # DEFAULT_TEST_CFG); override single keys here, e.g. test_cfg=dict(whole_video=False)
)
