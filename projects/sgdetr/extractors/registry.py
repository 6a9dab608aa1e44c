"""The registry of the feature encoders (a child of ``sgdetr``'s model registry).

Encoders live apart from the detection models: ``import sgdetr`` does not
import them (nor their optional dependencies); building one by name imports
:mod:`sgdetr.extractors` on demand.
"""
from typing import Optional, Union

from mmengine.registry import Registry

from sgdetr.registry import MODELS


def _build(cfg: dict, registry: Registry, default_args: Optional[dict] = None):
    """``cls(**args)`` for ``cfg['type']`` looked up in ``registry`` and its parents."""
    args = dict(cfg)
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)
    if 'type' not in args:
        raise KeyError(f'an encoder config needs a "type", got {cfg}')
    kind = args.pop('type')
    cls = registry.get(kind) if isinstance(kind, str) else kind
    if cls is None:
        raise KeyError(f'{kind!r} is not a registered encoder; registered: '
                       f'{sorted(registry.module_dict)}')
    return cls(**args)


ENCODERS = Registry('feature encoder', parent=MODELS, scope='sgdetr',
                    locations=['sgdetr.extractors'], build_func=_build)


def build_encoder(cfg: Union[None, dict, object], kind: Optional[type] = None, **default_args):
    """An encoder from a config dict (``type`` = a registered name), or the
    instance itself; ``None`` stays ``None``.

    Args:
        cfg: ``dict(type='InternVideo2VideoEncoder', path=...)``, an encoder,
            or ``None``.
        kind: :class:`VideoEncoder` or :class:`TextEncoder`: the result must
            be one.
        default_args: passed to the constructor unless ``cfg`` sets them.
    """
    if cfg is None:
        return None
    encoder = ENCODERS.build(dict(cfg), default_args=default_args) if isinstance(
        cfg, dict) else cfg
    if kind is not None and not isinstance(encoder, kind):
        raise TypeError(f'expected a {kind.__name__}, got {type(encoder).__name__}')
    return encoder
