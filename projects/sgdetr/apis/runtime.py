"""Config loading and machine facts shared by the command-line tools."""
import os.path as osp
import platform
from typing import Optional

import torch
from mmengine.config import Config

from sgdetr.engine import SGDETRRunner, check_config
from sgdetr.engine.mixed_precision import cpuinfo_field
from sgdetr.registry import RUNNERS
from .benchmark_config import apply_domain


def use_cpu_collectives(cfg: Config) -> Config:
    """NCCL needs GPUs: on a CPU-only machine distributed runs use gloo."""
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    return cfg


def prepare_distributed(cfg: Config, inference_only: bool = False) -> Config:
    """Make ``--launcher pytorch`` work on CPU-only machines and for inference.

    MMEngine's process-group setup calls ``torch.cuda.set_device`` and wraps
    the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without a GPU.
    On such a machine the gloo group is set up here first (MMEngine then keeps
    it) and DDP gets ``device_ids=None``. For inference no gradient is synced,
    so sub-modules are wrapped separately, which parameter-free models (that
    plain DDP refuses) also pass through.
    """
    if cfg.get('launcher', 'none') == 'none':
        return cfg
    if inference_only:
        cfg.model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
    if not torch.cuda.is_available():
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(backend='gloo')
        cfg.setdefault('model_wrapper_cfg', dict(type='MMDistributedDataParallel'))
        cfg.model_wrapper_cfg['device_ids'] = None
    return cfg


def load_tool_config(path: str, launcher: str = 'none',
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None) -> Config:
    """Read a config as ``tools/train.py`` and ``tools/test.py`` do (mmdet's
    conventions): ``--cfg-options`` merged in, ``--work-dir`` first, then the
    config's, then ``work_dirs/<config name>``. For the highlight benchmarks
    (configs with ``domains``), ``domain=X`` selects the domain of every
    dataset and metric.

    Raises:
        ConfigError: a setting that would be ignored or fail later
            (:func:`sgdetr.engine.check_config`), ``--cfg-options`` included.
    """
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    use_cpu_collectives(cfg)
    cfg_options = dict(cfg_options or {})
    # a top-level variable is substituted when the file is read: `domain` of the
    # highlight benchmarks is applied to their datasets and metrics here
    domain = cfg_options.pop('domain', None) if 'domains' in cfg else None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_config(cfg, cfg_options)
    if domain is not None:
        cfg = apply_domain(cfg, str(domain))
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def build_runner(cfg: Config):
    """The runner of the tools: the config's ``runner_type`` if it names one,
    else :class:`sgdetr.engine.SGDETRRunner` (strict checkpoints, start-up
    checks, exact resume)."""
    if cfg.get('runner_type'):
        # the project's registry: MMEngine's root one finds 'SGDETRRunner' only once
        # a default scope exists, which a fresh process (a torchrun worker) lacks
        return RUNNERS.build(cfg)
    return SGDETRRunner.from_cfg(cfg)


def cpu_name() -> str:
    """The CPU model as the OS reports it (benchmarks print it with their numbers)."""
    return cpuinfo_field('model name') or platform.processor() or 'unknown CPU'
