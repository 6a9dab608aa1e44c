"""Config loading shared by the command-line tools."""
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config


def use_cpu_collectives(cfg: Config) -> Config:
    """NCCL needs GPUs: on a CPU-only machine distributed runs use gloo."""
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    return cfg


def load_tool_config(path: str, launcher: str = 'none',
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None) -> Config:
    """Read a config as ``tools/train.py`` and ``tools/test.py`` do (mmdet's
    conventions): ``--cfg-options`` merged in, ``--work-dir`` first, then the
    config's, then ``work_dirs/<config name>``."""
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    use_cpu_collectives(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg
