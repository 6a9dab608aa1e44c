# SG-DETR for highlight detection only (TVSum, YouTube-Highlights): the released
# model without its span heads. The release trains these sets with the weight of
# every moment-retrieval loss at 0 (configs/losses/youtube.yaml: span, GIoU, label,
# quality and all ATSS terms 0; saliency 1, ms_align 1, momcls 3), so its DETR and
# ATSS heads never send a gradient to the encoder and their windows are not
# evaluated. Here they, and the pyramid that only they read, are not built
# (`predict_with=None`: the model predicts saliency alone), which trains the
# encoder exactly as the release does. The sentence / moment tokens stay: their
# alignment and moment-clip losses define the moment by the clips with a positive
# saliency label, which these sets have. `video_dim` / `text_dim` are filled in by
# the top-level config from its dataset.
_base_ = ['./sgdetr.py']

model = dict(
    pyramid=None,
    detr_head=None,
    atss_head=None,
    predict_with=None,
    extra_outputs=())
