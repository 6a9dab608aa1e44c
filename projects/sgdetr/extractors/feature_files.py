"""Writing and reading feature files in the layouts the dataset configs read.

See :data:`sgdetr.datasets.features.LAYOUTS`: ``'released'`` (default):
video ``{vid}.pt`` (a float tensor (L, D)), text ``{qid}.npz`` key
``features`` (N, D); ``'npz'``: video ``{vid}.npz`` key ``features``, text
``qid{qid}.npz`` key ``last_hidden_state``. Every file is written to a
temporary name and renamed, so an interrupted run never leaves a partial
file that a resumed run would take for a finished one.
"""
import os.path as osp
from typing import Union

import numpy as np
import torch

from sgdetr.errors import DataError
# the path functions are the datasets' (one resolver); extractors re-export them
from sgdetr.datasets.features import (layout_names, read_npz_array, read_pt_array,  # noqa: F401
                                      text_feature_path, video_feature_path)
from sgdetr.engine.atomic_local_backend import atomic_output

ArrayLike = Union[np.ndarray, torch.Tensor]


def _array(features: ArrayLike) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    array = np.asarray(features, dtype=np.float32)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f'features must be a non-empty (length, dim) array, got {array.shape}')
    return array


def save_video_features(features: ArrayLike, directory: str, vid: str,
                        layout: str = 'released') -> str:
    """Write (L, D) clip features of ``vid``; returns the path."""
    array = _array(features)
    path = video_feature_path(directory, vid, layout)
    video_key = layout_names(layout)[1]
    with atomic_output(path) as tmp:
        with open(tmp, 'wb') as handle:
            if video_key is None:
                torch.save(torch.from_numpy(array), handle)
            else:
                np.savez(handle, **{video_key: array})
    return path


def save_text_features(features: ArrayLike, directory: str, qid,
                       layout: str = 'released') -> str:
    """Write (N, D) token features of query ``qid``; returns the path."""
    array = _array(features)
    path = text_feature_path(directory, qid, layout)
    with atomic_output(path) as tmp:
        with open(tmp, 'wb') as handle:
            np.savez(handle, **{layout_names(layout)[3]: array})
    return path


def load_feature_file(path: str) -> np.ndarray:
    """(T, D) float32 features from a ``.pt`` tensor, an ``.npy`` array or an
    ``.npz`` archive (key ``features``, else ``last_hidden_state``, else its
    only array)."""
    extension = osp.splitext(path)[1].lower()
    if extension == '.pt':
        return read_pt_array(path)
    if extension == '.npy':
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise DataError(f'{path}: cannot read feature file ({error})') from error
        return _checked(array, path)
    if extension == '.npz':
        try:
            with np.load(path, allow_pickle=False) as npz:
                names = list(npz.files)
        except (OSError, ValueError) as error:
            raise DataError(f'{path}: cannot read feature file ({error})') from error
        for key in ('features', 'last_hidden_state'):
            if key in names:
                return read_npz_array(path, key)
        if len(names) == 1:
            return read_npz_array(path, names[0])
        raise DataError(f'{path}: no "features" or "last_hidden_state" array (has {names})')
    raise DataError(f'{path}: not a feature file (.pt, .npz or .npy)')


def _checked(array: np.ndarray, path: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or 0 in array.shape or not np.issubdtype(array.dtype, np.number):
        raise DataError(f'{path}: expected a numeric (length, dim) array, got '
                        f'{array.dtype} {array.shape}')
    array = array.astype(np.float32, copy=False)
    if not np.isfinite(array).all():
        raise DataError(f'{path}: features hold NaN/Inf')
    return array


def is_feature_file(path) -> bool:
    return (isinstance(path, str) and osp.splitext(path)[1].lower() in ('.pt', '.npz', '.npy')
            and osp.isfile(path))
