"""First stage: one matrix product ranks every segment of the library; the
best segments become candidate windows of the trained length."""
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .quantize import int8_scores
from .store import IndexTable


@dataclass
class Candidates:
    """C candidate windows, best first: ``video`` (C,) rows of the index table,
    ``start`` / ``end`` (C,) clips ``[start, end)``, ``score`` (C,) the mean
    cosine of the segment that proposed the window."""
    video: np.ndarray
    start: np.ndarray
    end: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.video)


def segment_scores(rows: Tensor, scales: Tensor, query: Tensor,
                   dead: Optional[Tensor] = None) -> Tensor:
    """(R, H) int8 segments with (R,) bfloat16 scales, (H,) unit query -> (R,)
    float32 scores; the rows of ``dead`` (R,) bool (owned by no video) get -inf.

    One matrix-vector product that streams the index once (:mod:`.quantize`).
    """
    scores = int8_scores(rows, scales, query)
    if dead is not None:
        scores.masked_fill_(dead, float('-inf'))
    return scores


def candidate_windows(scores: Tensor, table: IndexTable, segment_clips: int,
                      window_clips: int, num_candidates: int) -> Candidates:
    """The best ``num_candidates`` windows from segment ``scores`` (R,).

    Segments are taken best first; each gives a window of ``window_clips``
    clips centred on it (shifted inside its video), unless a window already
    taken from the same video holds the segment's centre.
    """
    live = int(table.num_rows.sum())  # rows owned by a video
    depth = min(live, max(4 * num_candidates, 64))
    while True:
        values, rows = torch.topk(scores, depth)
        values, rows = values.numpy(), rows.numpy()
        video = table.owner[rows].astype(np.int64)
        centre = (rows - table.row_start[video] + 0.5) * segment_clips
        length = table.num_clips[video]
        width = np.minimum(window_clips, length)
        start = np.clip(np.round(centre - width / 2).astype(np.int64), 0, length - width)
        keep = _first_windows(video, centre, start, start + width, num_candidates)
        if len(keep) == num_candidates or depth == live:
            return Candidates(video[keep], start[keep], start[keep] + width[keep], values[keep])
        depth = min(live, depth * 4)


def _first_windows(video: np.ndarray, centre: np.ndarray, start: np.ndarray,
                   end: np.ndarray, limit: int) -> list:
    """Indices of the proposals kept, in order: a proposal whose centre lies in
    a kept window of its video is absorbed by it."""
    kept, taken = [], {}
    for i in range(len(video)):
        spans = taken.setdefault(int(video[i]), [])
        if any(s <= centre[i] < e for s, e in spans):
            continue
        spans.append((start[i], end[i]))
        kept.append(i)
        if len(kept) == limit:
            break
    return kept
