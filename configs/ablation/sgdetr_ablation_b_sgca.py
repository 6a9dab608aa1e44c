# Ablation (b): (a) + the saliency-guided cross-attention encoder.
_base_ = ['../sgdetr_qvh.py']
model = dict(
    encoder=dict(cross_encoder=dict(saliency_guided=True),
                 global_saliency=dict(enabled=False)),
    detr_head=dict(with_iou_head=False),
    atss_head=None,
    fusion=None)
