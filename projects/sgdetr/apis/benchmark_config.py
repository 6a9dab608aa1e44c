"""The parts of a config the run tools read and rewrite: its evaluators and,
for the highlight-only benchmarks (TVSum, YouTube-Highlights), its domains.

Kept apart from the runs themselves (:mod:`sgdetr.apis.highlight_benchmarks`,
:mod:`sgdetr.apis.experiments`) because loading a config
(:func:`sgdetr.apis.load_tool_config`) applies ``domain=X`` and must not depend
on the code that trains.
"""
import copy
from typing import List, Optional, Sequence

from mmengine.config import Config

from sgdetr.datasets.annotations import read_jsonl
from sgdetr.datasets.features import dataset_paths
from sgdetr.errors import ConfigError, DataError

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


def highlight_metrics(cfg: Config, names=EVALUATORS) -> List[dict]:
    return [m for name in names for m in evaluator_list(cfg.get(name))
            if m.get('type') == HIGHLIGHT_METRIC]


def protocol_of(cfg: Config) -> str:
    """``'tvsum'`` or ``'youtube'``: the protocol of the config's test metric."""
    metrics = highlight_metrics(cfg, ('test_evaluator', 'val_evaluator'))
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
            files.append(dataset_paths(dataset).ann_file)
    files += [m['ann_file'] for m in highlight_metrics(cfg)]
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
    for metric in highlight_metrics(cfg):
        metric['domains'] = [domain]
    cfg.domain = domain
    return cfg


def evaluator_list(evaluator_cfg) -> list:
    """The metric configs of an ``*_evaluator`` field: one dict, a list of
    them, or None (no metric)."""
    if evaluator_cfg is None:
        return []
    return list(evaluator_cfg) if isinstance(evaluator_cfg, (list, tuple)) else [evaluator_cfg]
