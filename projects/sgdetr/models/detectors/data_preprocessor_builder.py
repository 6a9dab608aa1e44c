"""Data preprocessors of the detectors, built in this package's scope."""
from typing import Optional

from sgdetr.registry import MODELS


def build_data_preprocessor(cfg: Optional[dict]):
    """Build in this package's scope: MMEngine's BaseModel would look the
    type up in its own registry, which does not know ours."""
    if cfg is None:
        cfg = dict(type='MomentDataPreprocessor')
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg
