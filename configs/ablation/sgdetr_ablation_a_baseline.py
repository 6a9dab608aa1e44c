# Ablation (a) of the paper (§4.6, Table 2): DETR baseline with the local
# saliency head and standard cross-attention (no SGCA, no IoU head, no global
# saliency module, no ATSS head).
_base_ = ['../sgdetr_qvh.py']
model = dict(
    encoder=dict(cross_encoder=dict(saliency_guided=False),
                 global_saliency=dict(enabled=False)),
    detr_head=dict(with_iou_head=False),
    atss_head=None,
    fusion=None)
