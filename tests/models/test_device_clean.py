"""The forward pass creates every tensor on its inputs' device, and a training
step reads values back to the host a fixed number of times, whatever the batch.

A tensor made without ``device=`` lands on the default device; with the default
set to ``meta``, such a tensor meets the CPU inputs and the forward pass fails.
So this CPU test catches what would be a host-to-GPU copy (and a stall) on CUDA.
Read-backs (a GPU waits for its queue before it hands a value to the host) are
counted on the CPU by the operators that need one on a GPU.
"""
from collections import Counter

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from model_test_utils import build_tiny_model, collate, make_sample, training_batch
from sgdetr.models.layers import skippable_mask


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


def test_the_training_losses_make_no_tensor_off_the_inputs_device():
    """Targets included, with a sample without saliency pairs next to one with them and
    one without saliency labels (a host tensor there would meet GPU tensors)."""
    model = build_tiny_model(seed=0).train()
    batch = training_batch()
    del batch['data_samples'][1].pos_clip_indices, batch['data_samples'][1].neg_clip_indices
    del batch['data_samples'][2].gt_saliency
    data = model.data_preprocessor(batch, True)
    torch.set_default_device('meta')
    try:
        losses = model(**data, mode='loss')
    finally:
        torch.set_default_device(None)
    assert all(v.device.type == 'cpu' and torch.isfinite(v) for v in losses.values())


def test_the_probe_catches_a_tensor_made_without_a_device(default_device_meta):
    x = torch.ones(3, device='cpu')
    with pytest.raises((RuntimeError, NotImplementedError)):
        (x + torch.arange(3)).sum().item()


#: operators whose result depends on tensor values the host must read first
READ_BACK_OPS = {'nonzero', '_local_scalar_dense', 'masked_select', 'unique', '_unique2',
                 'unique_consecutive', 'is_nonzero', 'equal', 'repeat_interleave'}


class ReadBacks(TorchDispatchMode):
    """Counts the read-backs of the operators run inside it (boolean-mask indexing
    included), and ``Tensor.tolist`` calls."""

    def __init__(self):
        super().__init__()
        self.count = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        boolean_index = name in ('index', 'index_put', 'index_put_') and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] or ())
        if name in READ_BACK_OPS or boolean_index:
            self.count[name] += 1
        return func(*args, **(kwargs or {}))

    def __enter__(self):
        self._tolist = torch.Tensor.tolist
        counter = self.count

        def tolist(tensor):
            counter['tolist'] += 1
            return self._tolist(tensor)
        torch.Tensor.tolist = tolist
        return super().__enter__()

    def __exit__(self, *exc):
        torch.Tensor.tolist = self._tolist
        return super().__exit__(*exc)


def mixed_batch(size):
    """``size`` samples cycling through three video lengths and one to three GTs."""
    shapes = [(12, [(1, 4), (7, 10)]), (8, [(2, 6)]), (16, [(0, 3), (5, 7), (11, 15)])]
    return collate([make_sample(shapes[i % 3][0], 5, shapes[i % 3][1], seed=i)
                    for i in range(size)])


def test_read_backs_of_a_training_step_do_not_grow_with_the_batch():
    model = build_tiny_model(seed=0).train()
    counts = []
    for size in (3, 40):  # 40: several chunks of the matcher
        data = model.data_preprocessor(mixed_batch(size), True)
        with ReadBacks() as probe:
            model(**data, mode='loss')
        counts.append(probe.count)
    assert counts[0] == counts[1]
    # the ATSS assignment of the whole batch reads one (B, levels) table back
    head = model.atss_head
    enc = model.encode(model.data_preprocessor(mixed_batch(12), True)['inputs'])
    out = head(enc.levels, enc.level_masks)
    units = head.to_units([s.gt_instances.spans for s in mixed_batch(12)['data_samples']],
                          torch.full((12, ), 32.0))
    with ReadBacks() as probe:
        head.assign(out, *units)
    assert probe.count == Counter(tolist=1)


def test_masks_are_skipped_only_where_reading_them_is_free():
    assert skippable_mask(torch.ones(2, 3, dtype=torch.bool))
    assert not skippable_mask(torch.tensor([[True, False]]))
    assert not skippable_mask(torch.ones(2, 3, dtype=torch.bool, device='meta'))
