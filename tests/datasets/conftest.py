"""Fixtures of the dataset tests."""
from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

from sgdetr.datasets.synthetic import make_synthetic_dataset


@pytest.fixture(scope='session', autouse=True)
def sgdetr_scope():
    """Build registered types by name, as configs with default_scope do."""
    if DefaultScope.check_instance_created('tests.datasets'):
        yield DefaultScope.get_instance('tests.datasets')
    else:
        yield DefaultScope.get_instance('tests.datasets',
                                        scope_name='sgdetr')


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> Path:
    """A small synthetic dataset (D=32) shared by the tests of a session."""
    root = tmp_path_factory.mktemp('synthetic')
    make_synthetic_dataset(str(root), num_train=40, num_val=12, num_test=8,
                           dim=32, num_topics=4, nuisance_dim=6, seed=3,
                           verbose=False)
    return root
