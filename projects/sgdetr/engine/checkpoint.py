"""Reading checkpoints: weights-only unpickling with the exact allow-list,
tensor-by-tensor matching against the model, and the choice of the checkpoint
to resume from.

Every checkpoint this package reads goes through :func:`load_checkpoint_file`:
``torch.load(weights_only=True)`` with exactly the classes of
``SAFE_CHECKPOINT_GLOBALS`` allowed besides torch's own, so a pickle
that would run code (``__reduce__`` to ``os.system``...) is refused before
anything in it is called. The allow-list holds for these loads only
(``torch.serialization.safe_globals``): MMEngine's own loaders and torch's
global allow-list are left as they are.
"""
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import CheckpointLoader

from ..errors import CheckpointError, CheckpointMismatchError
from .safe_checkpoint_globals import SAFE_CHECKPOINT_GLOBALS

#: how many tensors of one kind a mismatch report lists before summarising
MAX_LISTED_TENSORS = 50


def load_checkpoint_file(filename: str, map_location='cpu'):
    """``torch.load`` ``filename`` weights-only, with the checkpoint allow-list.

    Raises:
        CheckpointError: the file is missing, truncated or not a checkpoint,
            or holds an object outside the allow-list (it is not unpickled).
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise CheckpointError(f'{filename}: no such checkpoint file')
    try:
        with torch.serialization.safe_globals(SAFE_CHECKPOINT_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).strip().splitlines()
        detail = next((line.strip() for line in reason if 'GLOBAL' in line or
                       'Unsupported' in line), reason[0] if reason else '')
        raise CheckpointError(
            f'{filename}: refused: it holds objects that a weights-only load does not '
            f'accept ({detail}). Checkpoints are never unpickled with code execution; '
            'convert the file to a plain state dict of tensors if you trust it.') from error
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile,
            AttributeError, KeyError) as error:
        raise CheckpointError(f'{filename}: cannot be read as a checkpoint (truncated, '
                              f'corrupt or not a PyTorch file): {error}') from error


def read_checkpoint(filename: str, map_location='cpu'):
    """A local checkpoint through :func:`load_checkpoint_file`; a URL
    (``https://``, ``s3://``...) through MMEngine's loader of its scheme,
    with the same allow-list (those loaders are weights-only on torch>=2.6)."""
    if '://' not in str(filename):
        return load_checkpoint_file(filename, map_location)
    with torch.serialization.safe_globals(SAFE_CHECKPOINT_GLOBALS):
        return CheckpointLoader.load_checkpoint(filename, map_location=map_location)


def checkpoint_state_dict(checkpoint, source: str = 'the checkpoint') -> Dict[str, torch.Tensor]:
    """The model tensors of a checkpoint (its ``state_dict``, or the dict itself)."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise CheckpointError(f'{source}: not a checkpoint of model weights (expected a dict '
                              'of tensors, or a dict whose "state_dict" is one)')
    return state


@dataclass
class StateDictDiff:
    """How a checkpoint's tensors compare with a model's."""
    matched: List[str] = field(default_factory=list)
    missing: List[Tuple[str, tuple]] = field(default_factory=list)
    unexpected: List[Tuple[str, tuple]] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: Optional[int] = MAX_LISTED_TENSORS) -> str:
        sections = []
        for title, rows in (
                ('shape mismatch (checkpoint -> model)',
                 [f'{k}: {list(a)} -> {list(b)}' for k, a, b in self.mismatched]),
                ('missing from the checkpoint', [f'{k} {list(s)}' for k, s in self.missing]),
                ('not in the model', [f'{k} {list(s)}' for k, s in self.unexpected])):
            if not rows:
                continue
            shown = rows if limit is None else rows[:limit]
            more = len(rows) - len(shown)
            sections.append(f'{len(rows)} {title}:\n    ' + '\n    '.join(shown) +
                            (f'\n    ... and {more} more' if more else ''))
        return '\n  '.join(sections)


def compare_state_dicts(model_state: Dict[str, torch.Tensor],
                        checkpoint_state: Dict[str, torch.Tensor]) -> StateDictDiff:
    diff = StateDictDiff()
    for key, value in checkpoint_state.items():
        target = model_state.get(key)
        if target is None:
            diff.unexpected.append((key, tuple(value.shape)))
        elif target.shape != value.shape:
            diff.mismatched.append((key, tuple(value.shape), tuple(target.shape)))
        else:
            diff.matched.append(key)
    # BatchNorm counters are not weights (MMEngine ignores them too)
    diff.missing = [(key, tuple(value.shape)) for key, value in model_state.items()
                    if key not in checkpoint_state and not key.endswith('num_batches_tracked')]
    return diff


def revise_keys(state: Dict[str, torch.Tensor],
                rules: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )):
    """Rename keys with (pattern, replacement) rules (MMEngine's ``revise_keys``)."""
    metadata = getattr(state, '_metadata', None)
    for pattern, replacement in rules:
        state = OrderedDict((re.sub(pattern, replacement, k), v) for k, v in state.items())
    if metadata is not None:
        state._metadata = metadata
    return state


def load_model_weights(model: torch.nn.Module, checkpoint, strict: bool, source: str,
                       rules: Sequence[Tuple[str, str]] = ((r'^module\.', ''), ),
                       logger='current') -> StateDictDiff:
    """Copy the checkpoint's tensors into ``model``.

    Args:
        strict: any missing, unexpected or mis-shaped tensor is an error
            (evaluation, inference, resuming). Otherwise (fine-tuning from
            ``load_from``) the tensors that fit are loaded, the others keep
            the model's initial values, and one warning lists what was
            skipped and why.
        source: names the checkpoint in messages.

    Raises:
        CheckpointMismatchError: ``strict`` and the tensors differ; the
            message lists every difference.
    """
    if is_model_wrapper(model):
        model = model.module
    state = revise_keys(checkpoint_state_dict(checkpoint, source), rules)
    model_state = model.state_dict()
    diff = compare_state_dicts(model_state, state)
    if strict and not diff.exact:
        raise CheckpointMismatchError(
            f'{source} does not fit the model ({len(diff.matched)} of {len(model_state)} '
            f'tensors match):\n  {diff.describe()}\nA checkpoint for evaluation, inference '
            'or resuming must match the model exactly: check the config it was trained '
            'with.')
    fitting = OrderedDict((k, state[k]) for k in diff.matched)
    metadata = getattr(state, '_metadata', None)
    if metadata is not None:
        fitting._metadata = metadata
    model.load_state_dict(fitting, strict=False)
    if not diff.exact:
        print_log(
            f'{source}: loaded {len(diff.matched)} of {len(model_state)} model tensors; '
            'the others keep their initial values:\n  ' + diff.describe(limit=None),
            logger=logger, level=logging.WARNING)
    return diff


# --------------------------------------------------------------------------
# resuming


CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def _resolve_recorded(recorded: str, work_dir: str, checkpoint_dir: str) -> Tuple[str, str]:
    """Where ``last_checkpoint``'s entry points in *this* work dir, and a note.

    A relative entry is relative to the work dir. An absolute one that lies
    outside this run's checkpoint directory was written by a work dir that
    has since been copied or moved: the file of the same name here is used.
    """
    if not osp.isabs(recorded):
        return osp.normpath(osp.join(work_dir, recorded)), ''
    if osp.normpath(osp.dirname(recorded)) == osp.normpath(osp.abspath(checkpoint_dir)):
        return recorded, ''
    local = osp.join(checkpoint_dir, osp.basename(recorded))
    return local, (f'last_checkpoint names {recorded}, outside this run\'s checkpoint '
                   f'directory {checkpoint_dir} (a copied or moved work dir): using {local}')


def resume_candidates(work_dir: str, checkpoint_dir: Optional[str] = None
                      ) -> Tuple[List[str], List[str]]:
    """Checkpoints to try for ``--resume`` without a path, best first: the one
    ``last_checkpoint`` names, then every ``epoch_N.pth`` / ``iter_N.pth`` of
    the checkpoint directory, newest first. Returns (paths, notes)."""
    checkpoint_dir = checkpoint_dir or work_dir
    candidates, notes = [], []
    save_file = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(save_file):
        with open(save_file, encoding='utf-8', errors='replace') as handle:
            recorded = handle.read().strip()
        if recorded:
            path, note = _resolve_recorded(recorded, work_dir, checkpoint_dir)
            candidates.append(path)
            if note:
                notes.append(note)
    try:
        names = [n for n in os.listdir(checkpoint_dir) if CHECKPOINT_NAME.match(n)]
    except FileNotFoundError:
        names = []
    paths = [osp.join(checkpoint_dir, n) for n in names]
    paths.sort(key=lambda p: (os.stat(p).st_mtime_ns,
                              int(CHECKPOINT_NAME.match(osp.basename(p)).group(2))),
               reverse=True)
    seen = {osp.normpath(p) for p in candidates}
    candidates += [p for p in paths if osp.normpath(p) not in seen]
    return candidates, notes
