# Ablation (e): (d) + the hybrid ATSS-DETR head = the full SG-DETR
# (identical to configs/sgdetr_qvh.py).
_base_ = ['../sgdetr_qvh.py']
