from .predictor import MomentPredictor
from .runtime import use_cpu_collectives

__all__ = ['MomentPredictor', 'use_cpu_collectives']
