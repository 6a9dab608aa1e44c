"""Batching: pad variable-length video and text features, build their masks."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from ..registry import MODELS

#: Sequence inputs padded together with their masks (key -> mask key).
SEQUENCE_KEYS = (('video', 'video_mask'), ('text', 'text_mask'))


def pad_sequences(sequences: Sequence[Tensor], length: Optional[int] = None,
                  multiple: int = 1) -> tuple:
    """Zero-pad (T_b, D) tensors to one (B, T, D) tensor and its mask.

    Args:
        sequences: B tensors (T_b, D) with a common D.
        length: pad to exactly this T (an error if a sequence is longer);
            ``None`` pads to the longest sequence.
        multiple: then round T up to a multiple of this.
    Returns:
        padded (B, T, D), mask (B, T) bool, True = real element.
    """
    if len(sequences) == 0:
        raise ValueError('cannot pad an empty batch')
    lengths = torch.tensor([len(s) for s in sequences])  # on the host: read for free
    longest = int(lengths.max())
    if length is not None and longest > length:
        raise ValueError(f'a sequence of length {longest} does not fit the '
                         f'fixed padded length {length}; truncate it in the '
                         f'pipeline (TruncateFeatures)')
    target = longest if length is None else length
    target = -(-target // multiple) * multiple
    dims = {tuple(s.shape[1:]) for s in sequences}
    if len(dims) != 1:
        raise ValueError(f'sequences of one batch must share their feature '
                         f'dim, got {sorted(dims)}')
    padded = pad_sequence(list(sequences), batch_first=True)
    if target > longest:
        padded = F.pad(padded, (0, 0, 0, target - longest))
    mask = torch.arange(target)[None, :] < lengths[:, None]
    return padded, mask


@MODELS.register_module()
class MomentDataPreprocessor(BaseDataPreprocessor):
    """Turns a ``pseudo_collate``'d batch into padded tensors with masks.

    Input (``pseudo_collate`` of dataset samples)::

        dict(inputs=dict(video=[Tensor(L_b, Dv)], text=[Tensor(N_b, Dt)]),
             data_samples=[MomentDataSample])

    (a list of per-sample ``inputs`` dicts is accepted as well).  Output, on
    the model's device::

        dict(inputs=dict(video (B, L, Dv), video_mask (B, L) bool,
                         text (B, N, Dt), text_mask (B, N) bool),
             data_samples=list)

    Masks are True for real clips/tokens; padding is zeros.  Already batched
    tensors (B, T, D) pass through, with an all-True mask unless one is given.

    On an accelerator every sample's features are copied as they come (from
    the loader's pinned memory when ``pin_memory=True``, without waiting: the
    copies overlap the previous step) and padded there; padding on the host
    first would make a new, unpinned batch whose copy blocks.

    Args:
        pad_video_to: pad every batch's video to exactly this many clips
            (fixed shapes, e.g. for compilation); ``None`` pads to the
            longest video of the batch.
        video_pad_multiple: round the padded video length up to a multiple.
        text_pad_multiple: round the padded text lengths up to a multiple.
        non_blocking: passed on to ``Tensor.to`` (a no-op on the CPU).
    """

    def __init__(self,
                 pad_video_to: Optional[int] = None,
                 video_pad_multiple: int = 1,
                 text_pad_multiple: int = 1,
                 non_blocking: bool = True):
        super().__init__(non_blocking=non_blocking)
        if video_pad_multiple < 1 or text_pad_multiple < 1:
            raise ValueError('pad multiples must be >= 1')
        self.pad_video_to = pad_video_to
        self.video_pad_multiple = video_pad_multiple
        self.text_pad_multiple = text_pad_multiple

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = {
                key: [sample[key] for sample in inputs]
                for key in inputs[0]
            }
        batch = {}
        for key, mask_key in SEQUENCE_KEYS:
            if key not in inputs:
                continue
            batch[key], batch[mask_key] = self._pad(
                key, inputs[key], inputs.get(mask_key))
        for key, value in inputs.items():  # anything else passes through
            batch.setdefault(key, value)
        return self.cast_data(
            dict(inputs=batch, data_samples=data.get('data_samples')))

    def _pad(self, key: str, value: Union[Tensor, List[Tensor]],
             mask: Optional[Tensor]) -> tuple:
        is_video = key == 'video'
        if isinstance(value, Tensor):
            if value.dim() != 3:
                raise ValueError(f'batched `{key}` must be (B, T, D), got '
                                 f'{tuple(value.shape)}')
            if mask is None:
                mask = value.new_ones(value.shape[:2], dtype=torch.bool)
            return value, mask.bool()
        for b, sequence in enumerate(value):
            if not isinstance(sequence, Tensor) or sequence.dim() != 2:
                raise ValueError(f'sample {b}: `{key}` must be a (T, D) '
                                 f'tensor, got {type(sequence).__name__} '
                                 f'{tuple(getattr(sequence, "shape", ()))}')
        if self.device.type != 'cpu':
            value = [sequence.to(self.device, non_blocking=self._non_blocking)
                     for sequence in value]
        return pad_sequences(
            value,
            length=self.pad_video_to if is_video else None,
            multiple=(self.video_pad_multiple
                      if is_video else self.text_pad_multiple))
