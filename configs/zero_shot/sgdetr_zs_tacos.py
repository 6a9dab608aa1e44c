# Zero-shot SG-DETR on TACoS (paper Table 4, "ZS"): the model pretrained on
# InterVid-MR (configs/pretrain/sgdetr_pretrain_intervid_mr.py), evaluated on
# the TACoS test split without fine-tuning. A checkpoint is required.
#
#   1. python tools/train.py configs/pretrain/sgdetr_pretrain_intervid_mr.py
#   2. python tools/test.py configs/zero_shot/sgdetr_zs_tacos.py \
#          work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth [--split val]
#   3. fine-tune: python tools/train.py configs/sgdetr_tacos.py \
#          --cfg-options load_from=work_dirs/sgdetr_pretrain_intervid_mr/epoch_30.pth
#      (the TACoS model has 1 pooling layer: the second pretrained one is skipped)
#
# The release has no zero-shot config; a checkpoint is evaluated with the
# dataset's data and post-processing (configs/data/tacos_dgx.yaml: 2 s clips, at
# most 750; configs/postprocessor/tacos.yaml) and a model whose state dict
# fits the checkpoint. The TACoS model (code/configs/model/tacos.yaml) pools
# the sentence with 1 layer, the pretrained one (configs/model/pretrain.yaml)
# with 2: the pretrained architecture is kept (strict loading would refuse the
# TACoS one). Everything else is sgdetr_tacos.py, evaluation only.
_base_ = ['../sgdetr_tacos.py']

model = dict(encoder=dict(local_saliency=dict(pooling=dict(num_layers=2))))

train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
auto_scale_lr = None
