"""Switches that change how the released model learns, never what it computes:
the stable cosine and the aligned initialisation."""
import pytest
import torch
from torch.nn import functional as F

from model_test_utils import build_tiny_model, compute_losses, training_batch
from sgdetr.models.encoders import LocalSaliencyHead
from sgdetr.models.layers import unit_vectors
from sgdetr.registry import MODELS


def test_unit_vectors_are_normalize_without_the_gradient_spike_at_zero():
    x = torch.randn(4, 6)
    x[1] = 0.0
    x.requires_grad_(True)
    torch.testing.assert_close(unit_vectors(x), F.normalize(x, dim=-1), rtol=0, atol=0)
    weights = torch.randn(4, 6)
    ours, = torch.autograd.grad((unit_vectors(x) * weights).sum(), x)
    torch_, = torch.autograd.grad((F.normalize(x, dim=-1) * weights).sum(), x)
    assert (ours[1] == 0).all() and torch_[1].abs().max() > 1e10  # F.normalize: 1 / eps
    keep = torch.tensor([0, 2, 3])
    torch.testing.assert_close(ours[keep], torch_[keep])


def test_stable_cosine_scores_alike_and_bounds_the_gradient_of_zero_clips():
    torch.manual_seed(0)
    heads = [LocalSaliencyHead(8, stable_cosine=flag).eval() for flag in (False, True)]
    heads[1].load_state_dict(heads[0].state_dict())
    clips = torch.randn(2, 5, 8)
    clips[:, -1] = 0.0  # a zero clip padding the video to the pyramid's stride
    clips.requires_grad_(True)
    words, mask = torch.randn(2, 3, 8), torch.ones(2, 5, dtype=torch.bool)
    outputs = [h(clips, mask, words, torch.ones(2, 3, dtype=torch.bool))[0] for h in heads]
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    grads = [torch.autograd.grad(o.sum(), clips)[0] for o in outputs]
    assert grads[0][:, -1].abs().max() > 1e10 and (grads[1][:, -1] == 0).all()
    torch.testing.assert_close(grads[0][:, :-1], grads[1][:, :-1])


def test_the_whole_model_has_no_gradient_spike_with_the_stable_cosine():
    batch = training_batch()
    for flag, bound in ((False, None), (True, 1e4)):
        model = build_tiny_model(seed=0, encoder__local_saliency=dict(stable_cosine=flag))
        # the released pipeline pads with zero clips that count as clips
        for video in batch['inputs']['video']:
            video[-1] = 0.0
        sum(compute_losses(model, batch).values()).backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float('inf'))
        if bound is None:
            assert norm > 1e8
        else:
            assert norm < bound


def _encoder(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='SaliencyGuidedEncoder', video_dim=34, text_dim=32,
                             embed_dims=16, **kwargs))


def test_aligned_init_starts_the_projected_cosine_at_the_input_cosine():
    released, aligned = _encoder(), _encoder(aligned_init=True)
    shapes = {k: v.shape for k, v in released.state_dict().items()}
    assert {k: v.shape for k, v in aligned.state_dict().items()} == shapes
    aligned.eval()
    text = F.normalize(torch.randn(6, 32), dim=-1)
    video = torch.cat([text + 0.05 * torch.randn(6, 32), torch.rand(6, 2)], -1)
    cosine = F.cosine_similarity(aligned.video_proj(video)[:, None],
                                 aligned.text_proj(text)[None], dim=-1)
    assert (cosine.diag() > 0.75).all()
    assert (cosine.argmax(1) == torch.arange(6)).all()  # each clip matches its own text
    released.eval()
    cosine = F.cosine_similarity(released.video_proj(video)[:, None],
                                 released.text_proj(text)[None], dim=-1)
    assert cosine.diag().abs().mean() < 0.5  # random projections: no alignment
    # the endpoint features start with weight 0, then learn
    first = aligned.video_proj.layers[2]
    assert (first.weight[:, 32:] == 0).all()
    with pytest.raises(ValueError, match='video_dim'):
        MODELS.build(dict(type='SaliencyGuidedEncoder', video_dim=8, text_dim=32,
                          aligned_init=True))


def test_the_aligned_variant_config_has_the_released_tensors():
    """configs/variants/sgdetr_qvh_aligned_init.py: every released tensor, same shapes
    (a converted released checkpoint loads into it strictly)."""
    from mmengine.config import Config
    from model_test_utils import QVH_CONFIG
    shapes = []
    for path in (QVH_CONFIG, QVH_CONFIG.parent / 'variants' / 'sgdetr_qvh_aligned_init.py'):
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(str(path)).model)
        shapes.append({k: v.shape for k, v in model.state_dict().items()})
    assert shapes[0] == shapes[1]
