"""Small runtime adjustments shared by the command-line tools."""
import torch
from mmengine.config import Config


def use_cpu_collectives(cfg: Config) -> Config:
    """NCCL needs GPUs: on a CPU-only machine distributed runs use gloo."""
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    return cfg
