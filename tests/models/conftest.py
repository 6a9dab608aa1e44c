"""Fixtures of the model tests; the tiny builders are in ``model_test_utils``."""
import pytest
import torch
from mmengine.registry import DefaultScope

import sgdetr  # noqa: F401  (registers every component)

# The tensors here are tiny: one thread is faster than several, and far faster
# than several competing with other work for the cores.
torch.set_num_threads(1)


@pytest.fixture(scope='session', autouse=True)
def sgdetr_scope():
    """Build registered types by name, as configs with default_scope do."""
    if DefaultScope.check_instance_created('tests.models'):
        yield DefaultScope.get_instance('tests.models')
    else:
        yield DefaultScope.get_instance('tests.models', scope_name='sgdetr')
