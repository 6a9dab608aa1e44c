"""Registries of sgdetr, children of MMDetection's.

Configs set ``default_scope = 'sgdetr'``; a type that is not registered here
is looked up in MMDetection's (and then MMEngine's) registry, and ``mmdet.``
prefixed types reach MMDetection explicitly, so the two mix in one config.
"""
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMDET_MODELS, scope='sgdetr',
                  locations=['sgdetr.models'])
TASK_UTILS = Registry('task util', parent=MMDET_TASK_UTILS, scope='sgdetr',
                      locations=['sgdetr.models.task_modules'])
DATASETS = Registry('dataset', parent=MMDET_DATASETS, scope='sgdetr',
                    locations=['sgdetr.datasets'])
TRANSFORMS = Registry('transform', parent=MMDET_TRANSFORMS, scope='sgdetr',
                      locations=['sgdetr.datasets'])
METRICS = Registry('metric', parent=MMDET_METRICS, scope='sgdetr',
                   locations=['sgdetr.evaluation'])
HOOKS = Registry('hook', parent=MMDET_HOOKS, scope='sgdetr',
                 locations=['sgdetr.engine'])
