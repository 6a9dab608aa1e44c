# The released SG-DETR, module for module (the released checkpoints load into it),
# started where aligned features already are: the video projection as a copy of the
# text projection, the sentence pooling as mean pooling, no gradient spike from the
# zero clips that pad a video, and dropout 0.1 instead of 0.5 in the input projections.
# For training the released architecture from scratch on one's own aligned features
# (InternVideo2, CLIP). See the README, "Which configuration?".
_base_ = ['../sgdetr_qvh.py']

model = dict(encoder=dict(
    aligned_init=True,
    local_saliency=dict(stable_cosine=True),
    video_proj=dict(dropout=0.1),
    text_proj=dict(dropout=0.1)))
