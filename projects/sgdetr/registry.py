"""Registries of sgdetr, children of MMDetection's.

Configs set ``default_scope = 'sgdetr'``; a type that is not registered here
is looked up in MMDetection's (and then MMEngine's) registry, and ``mmdet.``
prefixed types reach MMDetection explicitly, so the two mix in one config.
Every MMDetection registry has a child here, so that building any component
in the ``sgdetr`` scope resolves without falling back with a warning.
"""
from mmdet import registry as mmdet_registry
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry


def _child(name: str, parent: Registry, locations=None) -> Registry:
    return Registry(name, parent=parent, scope='sgdetr', locations=locations or [])


RUNNERS = _child('runner', mmdet_registry.RUNNERS)
RUNNER_CONSTRUCTORS = _child('runner constructor', mmdet_registry.RUNNER_CONSTRUCTORS)
LOOPS = _child('loop', mmdet_registry.LOOPS)
HOOKS = _child('hook', mmdet_registry.HOOKS, ['sgdetr.engine'])
DATA_SAMPLERS = _child('data sampler', mmdet_registry.DATA_SAMPLERS)
DATASETS = _child('dataset', mmdet_registry.DATASETS, ['sgdetr.datasets'])
TRANSFORMS = _child('transform', mmdet_registry.TRANSFORMS, ['sgdetr.datasets'])
MODELS = _child('model', mmdet_registry.MODELS, ['sgdetr.models'])
MODEL_WRAPPERS = _child('model_wrapper', mmdet_registry.MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child('weight initializer', mmdet_registry.WEIGHT_INITIALIZERS)
OPTIMIZERS = _child('optimizer', mmdet_registry.OPTIMIZERS)
OPTIM_WRAPPERS = _child('optim_wrapper', mmdet_registry.OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child('parameter scheduler', mmdet_registry.PARAM_SCHEDULERS)
METRICS = _child('metric', mmdet_registry.METRICS, ['sgdetr.evaluation'])
EVALUATOR = _child('evaluator', mmdet_registry.EVALUATOR)
TASK_UTILS = _child('task util', mmdet_registry.TASK_UTILS, ['sgdetr.models.task_modules'])
VISUALIZERS = _child('visualizer', mmdet_registry.VISUALIZERS)
VISBACKENDS = _child('vis_backend', mmdet_registry.VISBACKENDS)
LOG_PROCESSORS = _child('log_processor', mmdet_registry.LOG_PROCESSORS)
# collate functions: MMDetection has no registry of its own for them, and the
# runner looks them up without the default scope, so configs name them
# 'sgdetr.<name>'
FUNCTIONS = _child('function', getattr(mmdet_registry, 'FUNCTIONS', MMENGINE_FUNCTIONS),
                   ['sgdetr.datasets'])
