"""The forward pass creates every tensor on its inputs' device.

A tensor made without ``device=`` lands on the default device; with the default
set to ``meta``, such a tensor meets the CPU inputs and the forward pass fails.
So this CPU test catches what would be a host-to-GPU copy (and a stall) on CUDA.
"""
import pytest
import torch

from model_test_utils import build_tiny_model, training_batch


@pytest.fixture
def default_device_meta():
    torch.set_default_device('meta')
    yield
    torch.set_default_device(None)


def test_encoder_and_heads_forward_make_no_tensor_off_the_inputs_device(default_device_meta):
    with torch.device('cpu'):
        model = build_tiny_model(seed=0).eval()
        data = model.data_preprocessor(training_batch(), False)['inputs']
    with torch.no_grad():
        enc = model.encode(data)
        detr = model.detr_head(enc.memory, data['video_mask'], enc.pos, enc.levels,
                               enc.level_masks)
        atss = model.atss_head(enc.levels, enc.level_masks)
    assert enc.memory.device.type == 'cpu' and detr.spans.device.type == 'cpu'
    assert atss.anchors.device.type == 'cpu'


def test_the_probe_catches_a_tensor_made_without_a_device(default_device_meta):
    x = torch.ones(3, device='cpu')
    with pytest.raises((RuntimeError, NotImplementedError)):
        (x + torch.arange(3)).sum().item()
