"""Evaluation with two processes (gloo, CPU) scores exactly as one process.

``tools/test.py`` runs the parameter-free baseline on a small synthetic val
split, once in a single process and once under ``torch.distributed.run``
with two workers.  The split has an odd number of queries and a batch size
of 2, so the distributed sampler pads the last batch with a query that the
other worker also scores: the gathered results must drop that duplicate.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed

from sgdetr.datasets.synthetic import make_synthetic_dataset

REPO = Path(__file__).parents[1]
CONFIG = 'configs/zero_shot/zero_shot_synthetic.py'
DIM = 16
NUM_VAL_QUERIES = 7  # odd: two workers get 4 each, one query twice
TIMEOUT_SECONDS = 120

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason='needs torch.distributed with the gloo backend')


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic_dist')
    make_synthetic_dataset(str(root), num_train=2, num_val=NUM_VAL_QUERIES, num_test=1,
                           dim=DIM, num_topics=3, nuisance_dim=3, min_clips=10,
                           max_clips=20, min_tokens=3, max_tokens=6, seed=1,
                           verbose=False)
    return root


def run_test_tool(num_processes: int, root: Path, out_dir: Path) -> Path:
    """Runs tools/test.py on the val split; returns its submission dir."""
    submission_dir = out_dir / 'submission'
    ann_file = root / 'annotations' / 'highlight_val_release.jsonl'
    if num_processes == 1:
        launcher = [sys.executable]
        launcher_flag = ['--launcher', 'none']
    else:
        # --standalone: a local rendezvous on a free port
        launcher = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                    f'--nproc_per_node={num_processes}']
        launcher_flag = ['--launcher', 'pytorch']
    command = [
        *launcher, 'tools/test.py', CONFIG, '--split', 'val', *launcher_flag,
        '--work-dir', str(out_dir / 'work_dir'),
        '--submission-dir', str(submission_dir),
        '--cfg-options',
        f'val_dataloader.dataset.data_root={root}/',
        f'val_dataloader.dataset.video_dim={DIM}',
        f'val_dataloader.dataset.text_dim={DIM}',
        'val_dataloader.batch_size=2',
        'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        f'val_evaluator.ann_file={ann_file}',
    ]
    # one thread per worker: the workers would otherwise compete for cores
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    completed = subprocess.run(command, cwd=REPO, env=env, capture_output=True,
                               text=True, timeout=TIMEOUT_SECONDS)
    assert completed.returncode == 0, (
        f'{" ".join(command)} failed:\n{completed.stdout[-3000:]}\n'
        f'{completed.stderr[-5000:]}')
    return submission_dir


def read_metrics(submission_dir: Path) -> str:
    with open(submission_dir / 'hl_val_submission_metrics.json') as handle:
        metrics = json.load(handle)
    # canonical text: NaN (e.g. a moment-length bucket without queries)
    # never equals itself as a float, but its text does
    return json.dumps(metrics, sort_keys=True)


def read_qids(path: Path):
    with open(path) as handle:
        return [json.loads(line)['qid'] for line in handle if line.strip()]


def test_two_processes_score_like_one(synthetic_root, tmp_path):
    single = run_test_tool(1, synthetic_root, tmp_path / 'single')
    distributed = run_test_tool(2, synthetic_root, tmp_path / 'distributed')

    expected_qids = read_qids(
        synthetic_root / 'annotations' / 'highlight_val_release.jsonl')
    assert len(expected_qids) == NUM_VAL_QUERIES
    submitted_qids = read_qids(distributed / 'hl_val_submission.jsonl')
    assert sorted(submitted_qids) == sorted(expected_qids)  # each exactly once

    assert read_metrics(distributed) == read_metrics(single)
    with open(single / 'hl_val_submission.jsonl') as one, \
            open(distributed / 'hl_val_submission.jsonl') as two:
        assert sorted(one) == sorted(two)  # the same prediction per query
