"""Train-then-evaluate runs of a config, and their summary over runs.

Shared by ``tools/analysis/run_seeds.py`` (one config, N seeds) and
``tools/analysis/run_ablation.py`` (several configs): a run trains with the
tools' runner (:func:`sgdetr.apis.build_runner`), its checkpoint (the best
one kept by ``save_best``, else the last) is evaluated on the test split when
the test annotations carry ground truth, else on the validation split, and
the key metrics of the paper's tables are summarised as mean and standard
deviation over runs.
"""
import copy
import glob
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from sgdetr.registry import METRICS

from .benchmark_config import evaluator_list
from .runtime import build_runner

#: the columns of the paper's tables, in their order, by the names the
#: project's metrics log: QVHighlights (Table 3: MR R1@0.5/0.7, mAP@0.5/0.75,
#: mAP; HD mAP and HIT@1 at >= Very Good), Charades-STA / TACoS (Table 4).
KEY_METRICS = ('MR-full-R1@0.5', 'MR-full-R1@0.7', 'MR-full-mAP@0.5', 'MR-full-mAP@0.75',
               'MR-full-mAP', 'HL-min-VeryGood-mAP', 'HL-min-VeryGood-Hit1',
               'R1@0.3', 'R1@0.5', 'R1@0.7', 'mIoU')
#: degrees of freedom of the reported standard deviation (the sample one)
STD_DDOF = 1


def train_run(cfg: Config):
    """Train ``cfg`` in this process; returns the runner (its model holds the
    last weights, its work dir the checkpoints)."""
    runner = build_runner(cfg)
    runner.train()
    return runner


def has_test_ground_truth(cfg: Config) -> bool:
    """Whether every test evaluator of ``cfg`` can score its annotation file
    (the QVHighlights test release cannot: it has no ground truth)."""
    if not cfg.get('test_evaluator') or not cfg.get('test_dataloader'):
        return False
    for evaluator_cfg in evaluator_list(cfg.test_evaluator):
        metric = METRICS.build(copy.deepcopy(evaluator_cfg))
        if not hasattr(metric, 'has_ground_truth') or not metric.has_ground_truth():
            return False
    return True


def choose_split(cfg: Config, split: str = 'auto') -> str:
    """``'test'`` or ``'val'``; ``'auto'``: test when it has ground truth."""
    if split != 'auto':
        return split
    return 'test' if has_test_ground_truth(cfg) else 'val'


def _save_best_keys(cfg: Config) -> List[str]:
    save_best = cfg.get('default_hooks', {}).get('checkpoint', {}).get('save_best')
    if not save_best:
        return []
    return [save_best] if isinstance(save_best, str) else list(save_best)


def run_checkpoint(work_dir: str, cfg: Optional[Config] = None, which: str = 'best') -> str:
    """The checkpoint a finished run is evaluated with.

    Args:
        work_dir: the run's work dir.
        cfg: its config (names the ``save_best`` metric).
        which: ``'best'`` (the best checkpoint of the first ``save_best``
            metric, the last one when the config keeps none) or ``'last'``.

    Raises:
        FileNotFoundError: the work dir holds no such checkpoint.
    """
    keys = _save_best_keys(cfg) if cfg is not None else []
    if which == 'best' and keys and keys[0] != 'auto':
        # CheckpointHook: best_{metric with '/' -> '_'}_epoch_{n}.pth, one at a time
        found = glob.glob(osp.join(work_dir, f'best_{keys[0].replace("/", "_")}_*.pth'))
        if found:  # the newest: a reused work dir may hold an older run's
            return max(found, key=osp.getmtime)
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            path = f.read().strip()
        if osp.isfile(path):
            return path
        local = osp.join(work_dir, osp.basename(path))
        if osp.isfile(local):
            return local
    raise FileNotFoundError(f'{work_dir}: no checkpoint to evaluate (no best_*.pth and no '
                            'last_checkpoint)')


def evaluation_config(cfg: Config, checkpoint: str, split: str, work_dir: str,
                      name: str) -> Config:
    """``cfg`` evaluating ``checkpoint`` on ``split`` ('test' or 'val') with
    the test loop, as ``tools/test.py CONFIG CKPT --split SPLIT`` does."""
    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.work_dir = work_dir
    cfg.experiment_name = name
    if split == 'val':
        cfg.test_dataloader = cfg.val_dataloader
        cfg.test_evaluator = cfg.val_evaluator
    return cfg


def evaluate_checkpoint(cfg: Config, checkpoint: str, split: str, work_dir: str,
                        name: str) -> Dict[str, float]:
    """Metrics of ``checkpoint`` on ``split`` (a fresh runner, strict loading)."""
    runner = build_runner(evaluation_config(cfg, checkpoint, split, work_dir, name))
    return {k: float(v) for k, v in runner.test().items()}


def key_metric_names(metrics: Dict[str, float],
                     candidates: Sequence[str] = KEY_METRICS) -> List[str]:
    """The paper's columns present in ``metrics`` (all names when none is)."""
    names = [name for name in candidates if name in metrics]
    return names or sorted(metrics)


def summarize(runs: Sequence[Dict[str, float]], names: Sequence[str],
              ddof: int = STD_DDOF) -> Dict[str, Dict]:
    """Per metric: ``values`` over runs, their ``mean`` and ``std`` (numpy,
    ``ddof`` degrees of freedom; 0.0 for a single run)."""
    summary = {}
    for name in names:
        values = np.asarray([run[name] for run in runs], dtype=np.float64)
        std = float(np.std(values, ddof=ddof)) if len(values) > ddof else 0.0
        summary[name] = dict(mean=float(np.mean(values)), std=std, values=values.tolist())
    return summary


def format_summary(summary: Dict[str, Dict], digits: int = 2) -> str:
    """``name  mean +- std`` lines, aligned, as the paper's tables report."""
    width = max(map(len, summary), default=0)
    return '\n'.join(f'{name:<{width}}  {row["mean"]:{digits + 4}.{digits}f} +- '
                     f'{row["std"]:.{digits}f}' for name, row in summary.items())
