from .inferencer import DatasetSplit, MomentInferencer
from .predictor import MomentPredictor
from .searcher import Moment, MomentSearcher, SearchResult
from .runtime import (build_runner, cpu_name, load_tool_config, prepare_distributed,
                      use_cpu_collectives)

__all__ = ['MomentPredictor', 'MomentInferencer', 'DatasetSplit', 'MomentSearcher', 'Moment',
           'SearchResult', 'build_runner', 'cpu_name', 'load_tool_config', 'prepare_distributed',
           'use_cpu_collectives']
