"""What identifies the model an index was built with: its config and checkpoint."""
import hashlib
import json
from typing import Optional

from mmengine.config import Config

from .errors import IndexMismatchError
from .library import file_sha256


def config_sha256(cfg: Config) -> str:
    """SHA-256 of what makes the embeddings: the model config, the test
    pipeline and how features are read (data paths and loaders aside)."""
    dataset = cfg.test_dataloader.dataset
    spec = dict(model=cfg.model, pipeline=dataset.get('pipeline'),
                clip_len=dataset.get('clip_len', 2.0),
                video_l2_norm=dataset.get('video_l2_norm', True),
                text_l2_norm=dataset.get('text_l2_norm', True),
                video_dim=dataset.get('video_dim'), text_dim=dataset.get('text_dim'))
    text = json.dumps(spec, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def model_identity(cfg: Config, config_name: str, checkpoint: Optional[str]) -> dict:
    return dict(config=config_name, config_sha256=config_sha256(cfg), checkpoint=checkpoint,
                checkpoint_sha256=file_sha256(checkpoint) if checkpoint else None)


def check_identity(index_dir: str, recorded: dict, current: dict) -> None:
    """Raise :class:`IndexMismatchError` unless ``current`` is the model recorded."""
    def short(value):
        return value[:12] if value else None
    problems = [f'{name} {current.get(name)} (sha256 {short(current[name + "_sha256"])}) '
                f'here, {recorded.get(name)} (sha256 {short(recorded.get(name + "_sha256"))}) '
                'in the index'
                for name in ('config', 'checkpoint')
                if recorded.get(name + '_sha256') != current[name + '_sha256']]
    if problems:
        raise IndexMismatchError(
            f'{index_dir}: built with another model: {"; ".join(problems)}. An index '
            'answers for the model that built it: open it with that config and checkpoint, '
            'or index into another directory')
