# Ablation (d): (c) + the global saliency module.
_base_ = ['../sgdetr_qvh.py']
model = dict(
    encoder=dict(cross_encoder=dict(saliency_guided=True),
                 global_saliency=dict(enabled=True)),
    detr_head=dict(with_iou_head=True),
    atss_head=None,
    fusion=None)
