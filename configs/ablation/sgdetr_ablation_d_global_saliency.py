# Ablation (d): (c) + the global saliency module.
_base_ = ['../sgdetr_qvh.py']
model = dict(
    encoder=dict(text_to_video=dict(layer=dict(saliency_guided=True)),
                 global_saliency=dict(enabled=True)),
    detr_head=dict(with_iou_head=True, collaborative=False),
    atss_head=None,
    extra_outputs=())
