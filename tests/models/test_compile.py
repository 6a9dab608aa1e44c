"""``torch.compile`` of the model gives the plain model's losses and gradients.

Tracing the model takes minutes on a small CPU (about 2.5 minutes here with
the ``aot_eager`` backend, about 10 with ``inductor``), so the test runs only
with ``SGDETR_SLOW_TESTS=1``.
"""
import os

import pytest
import torch

from model_test_utils import build_tiny_model, training_batch, without_drop_path

pytestmark = pytest.mark.skipif(os.environ.get('SGDETR_SLOW_TESTS') != '1',
                                reason='slow (minutes of tracing): set SGDETR_SLOW_TESTS=1')


@pytest.mark.parametrize('backend', ['aot_eager'])
def test_compiled_model_gives_the_plain_losses_and_gradients(backend):
    model = without_drop_path(build_tiny_model(seed=0)).train()
    for module in model.modules():  # dropout off: the two runs draw differently
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, 'dropout', None), float):
            module.dropout = 0.0
    data = model.data_preprocessor(training_batch(), True)
    results = []
    for forward in (model, torch.compile(model, backend=backend)):
        torch.manual_seed(0)
        losses = forward(**data, mode='loss')
        model.zero_grad()
        sum(losses.values()).backward()
        results.append((losses, {n: p.grad.clone() for n, p in model.named_parameters()}))
    (plain, plain_grads), (compiled, compiled_grads) = results
    assert plain.keys() == compiled.keys()
    for key in plain:
        torch.testing.assert_close(compiled[key], plain[key], rtol=1e-4, atol=1e-6)
    for name in plain_grads:
        torch.testing.assert_close(compiled_grads[name], plain_grads[name], rtol=1e-3, atol=1e-6)
