"""Segment embeddings as int8 with one scale per row, and their product with a query.

A first-stage query reads every row of the index once, so its time is the
index's size over the memory bandwidth: int8 rows halve float16's bytes.
Each row ``x`` is stored as ``round(x / s)`` with ``s = max|x| / 127``; a
unit query's dot product then errs by about 2e-3 on unit rows (measured on
256-d rows), far below the gaps the first stage ranks on. The product runs
in PyTorch's int8 weight-only kernel (bfloat16 activations, AVX2 on a CPU),
else, where that kernel is missing, on rows dequantised chunk by chunk.
"""
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

ROW_DTYPE = np.dtype('i1')
SCALE_DTYPE = np.dtype('<f4')
_CHUNK = 1 << 16


def quantize_rows(rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(R, H) float -> ((R, H) int8, (R,) float32 scales)."""
    rows = np.asarray(rows, dtype=np.float32)
    peak = np.abs(rows).max(axis=1) if rows.size else np.zeros(len(rows), np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(SCALE_DTYPE)
    quantized = np.clip(np.rint(rows / scales[:, None]), -127, 127).astype(ROW_DTYPE)
    return quantized, scales


def int8_scores(rows: Tensor, scales: Tensor, query: Tensor) -> Tensor:
    """(R, H) int8 rows, (R,) bfloat16 scales, (H,) query -> (R,) float32 dot products."""
    if not len(rows):
        return torch.zeros(0)
    kernel = getattr(torch, '_weight_int8pack_mm', None)
    if kernel is not None and rows.device.type == 'cpu':
        try:
            return kernel(query.to(torch.bfloat16)[None], rows, scales)[0].float()
        except (RuntimeError, NotImplementedError):
            pass
    query = query.float()
    products = [rows[i:i + _CHUNK].float() @ query for i in range(0, len(rows), _CHUNK)]
    return torch.cat(products) * scales.float()
