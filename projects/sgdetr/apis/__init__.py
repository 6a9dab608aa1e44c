from .predictor import MomentPredictor
from .runtime import load_tool_config, prepare_distributed, use_cpu_collectives

__all__ = ['MomentPredictor', 'load_tool_config', 'prepare_distributed',
           'use_cpu_collectives']
