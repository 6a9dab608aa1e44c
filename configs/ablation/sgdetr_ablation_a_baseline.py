# Ablation (a) of the paper (§4.6, Table 2) on the released model: the DETR
# head with the local saliency head and plain cross-attention (no SGCA
# weighting), no IoU head, no global saliency module, no ATSS head.
_base_ = ['../sgdetr_qvh.py']
model = dict(
    encoder=dict(text_to_video=dict(layer=dict(saliency_guided=False)),
                 global_saliency=dict(enabled=False)),
    detr_head=dict(with_iou_head=False, collaborative=False),
    atss_head=None,
    extra_outputs=())
