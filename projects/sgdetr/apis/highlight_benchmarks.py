"""Per-domain runs of the highlight-only benchmarks (TVSum, YouTube-Highlights).

Both are reported as one table: a model per domain (TVSum category), trained
on that domain's train videos and evaluated on its val videos (the test split
of these benchmarks) with the checkpoint of its best val epoch, then the mean
over the domains. A config of such a benchmark lists its ``domains`` and
trains one of them; :func:`apply_domain` points every dataset and metric of
the config at another one.

Used by ``tools/analysis/run_hd_benchmarks.py``::

    cfg = load_tool_config('configs/sgdetr_tvsum.py')
    domains = select_domains(cfg, ['BK', 'BT'])
    check_domains_present(cfg, domains)          # before any training
    table = run_benchmark(cfg, domains, 'work_dirs/tvsum')
    print(format_markdown(table))
"""
import copy
import json
import os.path as osp
import uuid
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from sgdetr.datasets.annotations import read_jsonl
from sgdetr.datasets.errors import DataError
from sgdetr.engine import ConfigError
from sgdetr.engine.atomic_local_backend import atomic_write_text
from .experiments import evaluate_checkpoint, evaluator_list, run_checkpoint, train_run

#: what the papers call the per-domain number of each protocol
PROTOCOL_METRIC = {'tvsum': 'top-5 mAP', 'youtube': 'mAP'}
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')
HIGHLIGHT_METRIC = 'HighlightMAPMetric'


def config_domains(cfg: Config) -> List[str]:
    """The ``domains`` list of a benchmark config."""
    domains = cfg.get('domains')
    if not domains:
        raise ConfigError(f'{cfg.filename}: no `domains` list; a highlight benchmark '
                          'config names the domains it is reported on')
    return list(domains)


def select_domains(cfg: Config, requested: Optional[Sequence[str]] = None) -> List[str]:
    """``requested`` (in that order, once each) after checking them against
    the config's domains; all of them when None."""
    available = config_domains(cfg)
    if not requested:
        return available
    unknown = [d for d in requested if d not in available]
    if unknown:
        raise ConfigError(f'domain(s) {unknown} are not domains of {cfg.filename}: '
                          f'choose from {available}')
    return list(dict.fromkeys(requested))


def _highlight_metrics(cfg: Config, names=EVALUATORS) -> List[dict]:
    return [m for name in names for m in evaluator_list(cfg.get(name))
            if m.get('type') == HIGHLIGHT_METRIC]


def protocol_of(cfg: Config) -> str:
    """``'tvsum'`` or ``'youtube'``: the protocol of the config's test metric."""
    metrics = _highlight_metrics(cfg, ('test_evaluator', 'val_evaluator'))
    if not metrics:
        raise ConfigError(f'{cfg.filename}: neither test_evaluator nor val_evaluator '
                          f'is a {HIGHLIGHT_METRIC}')
    return metrics[0].get('protocol', 'youtube')


def annotation_files(cfg: Config) -> List[str]:
    """Every annotation file the config's datasets and highlight metrics read."""
    files = []
    for name in LOADERS:
        dataset = (cfg.get(name) or {}).get('dataset')
        if dataset and dataset.get('ann_file'):
            root = dataset.get('data_root') or ''
            path = dataset['ann_file']
            files.append(path if not root or osp.isabs(path) else osp.join(root, path))
    files += [m['ann_file'] for m in _highlight_metrics(cfg)]
    return list(dict.fromkeys(files))


def check_domains_present(cfg: Config, domains: Sequence[str]) -> None:
    """Every domain in every annotation file of the config, checked before
    any run starts (a dataset would find it only when its domain's turn
    comes).

    Raises:
        DataError: naming the file, the domains missing and those it has.
    """
    for path in annotation_files(cfg):
        present = set()
        for line, raw in read_jsonl(path):
            if 'domain' not in raw:
                raise DataError(f'{path}:{line} (qid={raw.get("qid")!r}) has no `domain`')
            present.add(str(raw['domain']))
        missing = [d for d in domains if d not in present]
        if missing:
            raise DataError(f'{path}: no line of domain(s) {missing}; the file has '
                            f'{sorted(present)}')


def apply_domain(cfg: Config, domain: str) -> Config:
    """A copy of ``cfg`` whose datasets and highlight metrics read ``domain`` only."""
    if domain not in config_domains(cfg):
        raise ConfigError(f'{domain!r} is not a domain of {cfg.filename}: choose from '
                          f'{config_domains(cfg)}')
    cfg = copy.deepcopy(cfg)
    for name in LOADERS:
        loader = cfg.get(name)
        if loader is None:
            continue
        if 'domains' not in loader.get('dataset', {}):
            raise ConfigError(f'{name}.dataset of {cfg.filename} has no `domains` field '
                              f'to select {domain!r} with')
        loader.dataset.domains = [domain]
    for metric in _highlight_metrics(cfg):
        metric['domains'] = [domain]
    cfg.domain = domain
    return cfg


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
        for metric in _highlight_metrics(domain_cfg, ('test_evaluator', )):
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
