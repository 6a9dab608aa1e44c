"""Weighted boxes fusion (Solovyev et al., 2021) of several models' spans, in 1D."""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from sgdetr.structures.spans import span_iou

CONF_TYPES = ('avg', 'max')


def weighted_span_fusion(spans_per_model: Sequence[Tensor],
                         scores_per_model: Sequence[Tensor],
                         model_weights: Optional[Sequence[float]] = None,
                         iou_thr: float = 0.55,
                         skip_score_thr: float = 0.0,
                         conf_type: str = 'avg') -> Tuple[Tensor, Tensor]:
    """Fuses the span lists of N models for one query.

    1. Spans are clipped to [0, 1] (the inputs are normalised); spans left
       empty, spans whose model score is below ``skip_score_thr`` and score-0
       spans (filler rows; they would carry no weight) are dropped. Each
       box's confidence is its score times its model's weight, c = w_m * s.
    2. Boxes are visited by decreasing c. A box joins the cluster whose fused
       span it overlaps most if that IoU exceeds ``iou_thr``; otherwise it
       starts a new cluster.
    3. A cluster's fused span is the c-weighted mean of its members' starts and
       ends, updated after every join (later boxes match the updated span).
    4. Fused score of a cluster of T boxes, with W = sum of model weights:
       ``'avg'`` (WBF's default): mean(c) * min(T, N) / W, which for unit
       weights is the paper's mean(C) * min(T, N) / N: a span found by fewer
       models than N is down-weighted. ``'max'``: max(c) / max(w).
       Both are invariant to scaling all weights.

    Args:
        spans_per_model: N tensors (M_i, 2) normalised start/end.
        scores_per_model: N tensors (M_i,).
        model_weights: N weights; None = all 1.
        iou_thr: IoU a box must exceed to join a cluster.
        skip_score_thr: minimum model score of a box to take part.
        conf_type: 'avg' or 'max'.
    Returns:
        fused spans (F, 2) and scores (F,), by decreasing score; dtype and
        device of the first input.
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f'conf_type must be one of {CONF_TYPES}, got {conf_type!r}')
    num_models = len(spans_per_model)
    weights = np.ones(num_models) if model_weights is None \
        else np.asarray(model_weights, dtype=np.float64)
    if len(weights) != num_models or len(scores_per_model) != num_models:
        raise ValueError('one span list, score list and weight per model')
    reference = torch.as_tensor(spans_per_model[0])
    score_lists = [_numpy(s).reshape(-1) for s in scores_per_model]
    spans = np.concatenate([_numpy(s).reshape(-1, 2) for s in spans_per_model])
    spans = np.sort(spans, axis=1).clip(0.0, 1.0)
    scores = np.concatenate(score_lists)
    model = np.repeat(np.arange(num_models), [len(s) for s in score_lists])
    conf = scores * weights[model]
    keep = (scores >= skip_score_thr) & (scores > 0) & (spans[:, 1] > spans[:, 0])

    fused, conf_sum, conf_max, count = _cluster(spans[keep], conf[keep], iou_thr)
    if conf_type == 'avg':
        fused_scores = conf_sum / count * np.minimum(count, num_models) \
            / weights.sum()
    else:
        fused_scores = conf_max / weights.max()
    order = np.argsort(-fused_scores, kind='stable')
    return (torch.as_tensor(fused[order]).to(reference.device, reference.dtype),
            torch.as_tensor(fused_scores[order]).to(reference.device,
                                                    reference.dtype))


def _cluster(spans: np.ndarray, conf: np.ndarray, iou_thr: float):
    """The greedy clustering of WBF (steps 2-3).

    spans (M, 2), conf (M,) -> fused spans (F, 2), per cluster sum and max of
    conf (F,), member count (F,).
    """
    num_boxes = len(spans)
    fused = np.zeros((num_boxes, 2))
    weighted_sum = np.zeros((num_boxes, 2))
    conf_sum = np.zeros(num_boxes)
    conf_max = np.zeros(num_boxes)
    count = np.zeros(num_boxes)
    num_clusters = 0
    for i in np.argsort(-conf, kind='stable'):
        span, c = spans[i], conf[i]
        target = num_clusters
        if num_clusters:
            current = fused[:num_clusters]
            iou = span_iou(current, span[None], aligned=True, eps=1e-12)
            best = int(iou.argmax())
            if iou[best] > iou_thr:
                target = best
        if target == num_clusters:
            num_clusters += 1
        weighted_sum[target] += c * span
        conf_sum[target] += c
        conf_max[target] = max(conf_max[target], c)
        count[target] += 1
        fused[target] = weighted_sum[target] / conf_sum[target]
    return (fused[:num_clusters], conf_sum[:num_clusters],
            conf_max[:num_clusters], count[:num_clusters])


def _numpy(values) -> np.ndarray:
    return torch.as_tensor(values).detach().cpu().double().numpy()
