"""Fixtures of the workflow tests (pretrain -> zero-shot -> fine-tune, the test
split with ground truth, runs over seeds)."""
import pytest
import torch
from mmengine.registry import DefaultScope

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.datasets.synthetic import make_synthetic_dataset

from workflow_utils import DIM, read_jsonl, without_ground_truth, write_jsonl


@pytest.fixture(scope='session', autouse=True)
def one_thread_and_scope():
    """One torch thread (tiny models) and the sgdetr scope, as configs set it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    if DefaultScope.check_instance_created('tests.workflows'):
        scope = DefaultScope.get_instance('tests.workflows')
    else:
        scope = DefaultScope.get_instance('tests.workflows', scope_name='sgdetr')
    yield scope
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """Tiny synthetic QVHighlights data (npz layout, D = 16): 12 train, 6 val
    queries; the val queries also form a test split with ground truth
    (``test_with_gt.jsonl``) and without it (``test_release.jsonl``), as the
    QVHighlights test release and its ground truth. Read only."""
    root = tmp_path_factory.mktemp('tiny_qvh')
    make_synthetic_dataset(str(root), num_train=12, num_val=6, num_test=4, dim=DIM,
                           num_topics=3, nuisance_dim=3, min_clips=8, max_clips=16,
                           min_tokens=3, max_tokens=5, seed=1, verbose=False)
    val = read_jsonl(root / 'annotations' / 'highlight_val_release.jsonl')
    write_jsonl(root / 'annotations' / 'test_with_gt.jsonl', val)
    write_jsonl(root / 'annotations' / 'test_release.jsonl', without_ground_truth(val))
    return root
