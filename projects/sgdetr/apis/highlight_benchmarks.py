"""Per-domain runs of the highlight-only benchmarks (TVSum, YouTube-Highlights).

Both are reported as one table: a model per domain (TVSum category), trained
on that domain's train videos and evaluated on its val videos (the test split
of these benchmarks) with the checkpoint of its best val epoch, then the mean
over the domains. A config of such a benchmark lists its ``domains`` and
trains one of them; :func:`sgdetr.apis.benchmark_config.apply_domain` points
every dataset and metric of the config at another one.

Used by ``tools/analysis/run_hd_benchmarks.py``::

    cfg = load_tool_config('configs/sgdetr_tvsum.py')
    domains = select_domains(cfg, ['BK', 'BT'])  # from sgdetr.apis.benchmark_config
    check_domains_present(cfg, domains)          # before any training
    table = run_benchmark(cfg, domains, 'work_dirs/tvsum')
    print(format_markdown(table))
"""
import copy
import json
import os.path as osp
import uuid
from typing import Callable, Dict, Optional, Sequence

from mmengine.config import Config

from sgdetr.engine.atomic_local_backend import atomic_write_text
from .benchmark_config import PROTOCOL_METRIC, apply_domain, highlight_metrics, protocol_of
from .experiments import evaluate_checkpoint, run_checkpoint, train_run

def best_checkpoint(runner) -> Optional[str]:
    """The checkpoint ``CheckpointHook(save_best=...)`` kept, if any."""
    info = runner.message_hub.runtime_info
    paths = [info[k] for k in sorted(info) if k.startswith('best_ckpt')]
    return paths[0] if paths and osp.isfile(paths[0]) else None


def train_and_test(cfg: Config) -> dict:
    """Train ``cfg``, then evaluate its best checkpoint (the last one without
    a best) on the test split with a fresh runner, as ``tools/test.py`` does
    (:mod:`sgdetr.apis.experiments`).

    Returns:
        ``dict(metrics=..., checkpoint=path)``.
    """
    cfg = copy.deepcopy(cfg)
    # MMEngine keeps one message hub (best score, best checkpoint path) per
    # experiment name, which is second-resolution by default: two runs started
    # within a second would share it, and the second would delete the first's
    # best checkpoint
    name = f'{osp.basename(osp.normpath(cfg.work_dir))}_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = name
    runner = train_run(cfg)
    # this run's own best checkpoint (a reused work dir may hold older ones)
    checkpoint = best_checkpoint(runner) or run_checkpoint(cfg.work_dir, cfg, 'last')
    del runner  # its dataloader workers end here
    metrics = evaluate_checkpoint(cfg, checkpoint, 'test', cfg.work_dir, f'{name}_test')
    return dict(metrics=metrics, checkpoint=checkpoint)


def run_benchmark(cfg: Config, domains: Sequence[str], work_dir: str,
                  on_domain: Optional[Callable[[dict], None]] = None) -> dict:
    """Train and test every domain in turn (``work_dir/<domain>``).

    Each domain's test predictions are written next to its checkpoints
    (``test_submission.jsonl``) unless the config's test metric writes them
    elsewhere. ``on_domain(table)`` is called after every domain with the
    table so far (for writing it as it grows).

    Returns:
        the table (:func:`benchmark_table`) with each domain's run.
    """
    protocol, runs = protocol_of(cfg), {}
    table = benchmark_table(cfg, protocol, runs)
    for domain in domains:
        domain_cfg = apply_domain(cfg, domain)
        domain_cfg.work_dir = osp.join(work_dir, domain)
        for metric in highlight_metrics(domain_cfg, ('test_evaluator', )):
            if not metric.get('submission_dir'):
                metric['submission_dir'] = domain_cfg.work_dir
        result = train_and_test(domain_cfg)
        key = f'HL-mAP-{domain}'
        if key not in result['metrics']:
            raise ValueError(f'the test of domain {domain!r} computed no {key!r} '
                             f'(metrics: {sorted(result["metrics"])})')
        runs[domain] = dict(result, value=result['metrics'][key],
                            work_dir=domain_cfg.work_dir)
        table = benchmark_table(cfg, protocol, runs)
        if on_domain is not None:
            on_domain(table)
    return table


def benchmark_table(cfg: Config, protocol: str, runs: Dict[str, dict]) -> dict:
    """``{config, protocol, metric, domains: {d: value}, mean, runs}``;
    the mean is over the domains run (2 decimals, as the values), None
    before the first."""
    values = {d: run['value'] for d, run in runs.items()}
    mean = round(sum(values.values()) / len(values), 2) if values else None
    return dict(config=cfg.filename, protocol=protocol, metric=PROTOCOL_METRIC[protocol],
                domains=values, mean=mean, runs=runs)


def format_markdown(table: dict) -> str:
    """The paper's layout: one row, a column per domain, then the mean."""
    domains = list(table['domains'])
    header = '| | ' + ' | '.join(domains) + ' | Avg. |'
    rule = '|---|' + '---:|' * (len(domains) + 1)
    cells = [f'{table["domains"][d]:.2f}' for d in domains]
    mean = '-' if table['mean'] is None else f'{table["mean"]:.2f}'
    row = f'| SG-DETR ({table["metric"]}) | ' + ' | '.join(cells) + f' | {mean} |'
    return '\n'.join([header, rule, row])


def write_table(table: dict, json_path: str, markdown_path: str) -> None:
    """The table as JSON (with every run) and as markdown."""
    atomic_write_text(json.dumps(table, indent=2), json_path)
    atomic_write_text(format_markdown(table) + '\n', markdown_path)
