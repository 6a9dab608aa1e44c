"""Fixtures of the reliability tests."""
import shutil

import pytest
import torch
from mmengine.registry import DefaultScope

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.datasets.synthetic import make_synthetic_dataset

from reliability_utils import DIM


@pytest.fixture(scope='session', autouse=True)
def one_thread_and_scope():
    """One torch thread (tiny models: threads only contend) and the sgdetr
    scope, as configs with default_scope have."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    if DefaultScope.check_instance_created('tests.reliability'):
        scope = DefaultScope.get_instance('tests.reliability')
    else:
        scope = DefaultScope.get_instance('tests.reliability', scope_name='sgdetr')
    yield scope
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def shared_data(tmp_path_factory):
    """A tiny synthetic dataset in the QVHighlights layout: 12 train, 6 val,
    4 test queries, D=16, 8-16 clips. Read only: copy it to change it."""
    root = tmp_path_factory.mktemp('tiny_data')
    make_synthetic_dataset(str(root), num_train=12, num_val=6, num_test=4, dim=DIM,
                           num_topics=3, nuisance_dim=3, min_clips=8, max_clips=16,
                           min_tokens=3, max_tokens=5, seed=1, verbose=False)
    return root


@pytest.fixture
def data(shared_data, tmp_path):
    """A private copy of the tiny dataset."""
    root = tmp_path / 'data'
    shutil.copytree(shared_data, root)
    return root


@pytest.fixture(scope='session')
def trained_run(shared_data, tmp_path_factory):
    """A work dir of 2 epochs of the tiny run (epoch_1.pth, epoch_2.pth,
    last_checkpoint, a best checkpoint). Read only: copy it to change it."""
    from reliability_utils import tiny_cfg
    from sgdetr.engine import SGDETRRunner
    work_dir = tmp_path_factory.mktemp('trained_run')
    SGDETRRunner.from_cfg(tiny_cfg(shared_data, work_dir, max_epochs=2,
                                   name='trained_run')).train()
    return work_dir
