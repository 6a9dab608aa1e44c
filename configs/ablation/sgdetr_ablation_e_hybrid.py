# Ablation (e): (d) + the hybrid ATSS head with collaborative queries = the
# released SG-DETR (identical to configs/sgdetr_qvh.py).
_base_ = ['../sgdetr_qvh.py']
