# SG-DETR on QVHighlights with its local saliency on the raw input features: for
# features of one aligned video-text space (InternVideo2, CLIP). It learns moment
# retrieval in a fraction of the released recipe's epochs; it cannot load the released
# checkpoints (its sentence pooling reads the text_dim-d tokens). See the README,
# "Which configuration?".
_base_ = ['../sgdetr_qvh.py']

model = dict(encoder=dict(saliency_space='raw'))
