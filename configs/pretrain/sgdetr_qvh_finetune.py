# SG-DETR fine-tuned on QVHighlights after pretraining on InterVid-MR (the
# paper's "w/ PT"): the QVHighlights setting of sgdetr_qvh.py, started from the
# weights that sgdetr_pretrain_intervid_mr.py leaves in its default work dir.
#
#   python tools/train.py configs/pretrain/sgdetr_pretrain_intervid_mr.py
#   python tools/train.py configs/pretrain/sgdetr_qvh_finetune.py
#
# `load_from` loads the model weights only: optimizer, lr schedule and epoch
# count start afresh.  To start from another checkpoint (e.g. the best
# zero-shot one, best_MR-full-mAP_epoch_*.pth, or a pretrain run with another
# work dir or length), pass --cfg-options load_from=PATH.
_base_ = ['../sgdetr_qvh.py']

load_from = 'work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth'
