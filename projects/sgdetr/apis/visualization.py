"""Figures of predictions: the highlight curve, ground-truth windows and the top
predicted windows with their scores, per query or for a whole split.

Entries are submission-format dicts (``qid, query, vid, pred_relevant_windows,
pred_saliency_scores``); ground truth is an annotation record
(``duration, relevant_windows, relevant_clip_ids, saliency_scores``). Figures
are :class:`matplotlib.figure.Figure` objects made without pyplot, so no
display backend is involved; :func:`save_figure` writes a PNG.
"""
import os
import os.path as osp
import textwrap
from typing import Dict, List, Optional, Sequence

import numpy as np

from sgdetr.structures.spans import span_overlap

PRED_COLOR = '#1f5fa8'
GT_COLOR = '#2e9e4f'
CURVE_COLOR = '#d9480f'


def _figure(figsize):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('figures need matplotlib: pip install matplotlib '
                          '(or pip install -e ".[vis]")') from None
    return Figure(figsize=figsize, layout='constrained')


def save_figure(figure, path: str, dpi: int = 120) -> str:
    """Write ``figure`` as an image (the format from the extension)."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path


def window_iou(window: Sequence[float], others: Sequence[Sequence[float]]) -> float:
    """Largest IoU of ``[start, end]`` with any of ``others`` (0 without any)."""
    if len(others) == 0:
        return 0.0
    inter, union = span_overlap(np.asarray([window[:2]], np.float64),
                                np.asarray(others, np.float64)[:, :2])
    return float(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0).max())


def _duration(entry: dict, gt: Optional[dict], clip_len: float) -> float:
    for source in (gt or {}, entry):
        if source.get('duration'):
            return float(source['duration'])
    scores = entry.get('pred_saliency_scores') or []
    windows = entry.get('pred_relevant_windows') or [[0, clip_len, 0]]
    return max(len(scores) * clip_len, max(w[1] for w in windows), clip_len)


def _gt_saliency(gt: dict, num_clips: int) -> Optional[np.ndarray]:
    ids, scores = gt.get('relevant_clip_ids'), gt.get('saliency_scores')
    if not ids or not scores:
        return None
    curve = np.zeros(max(num_clips, max(ids) + 1))
    for clip, score in zip(ids, scores):
        curve[clip] = np.mean(score)
    return curve


def draw_prediction(curve_ax, windows_ax, entry: dict, gt: Optional[dict] = None,
                    clip_len: float = 2.0, top_k: int = 5, duration: Optional[float] = None,
                    show_legend: bool = True) -> None:
    """Draw one query on two axes: the curve above, the windows below."""
    duration = duration or _duration(entry, gt, clip_len)
    scores = np.asarray(entry.get('pred_saliency_scores') or [], dtype=float)
    gt_windows = (gt or {}).get('relevant_windows') or []
    for start, end in gt_windows:
        curve_ax.axvspan(start, end, color=GT_COLOR, alpha=0.12, lw=0)
    if gt:
        annotated = _gt_saliency(gt, len(scores))
        if annotated is not None:
            twin = curve_ax.twinx()
            centres = (np.arange(len(annotated)) + 0.5) * clip_len
            twin.bar(centres, annotated, width=clip_len * 0.9, color=GT_COLOR, alpha=0.35,
                     label='annotated saliency (mean)')
            twin.set_ylim(0, 4.2)
            twin.set_ylabel('annotated', color=GT_COLOR, fontsize=8)
            twin.tick_params(axis='y', labelsize=7, colors=GT_COLOR)
            curve_ax.set_zorder(twin.get_zorder() + 1)
            curve_ax.patch.set_visible(False)
    if len(scores):
        centres = (np.arange(len(scores)) + 0.5) * clip_len
        curve_ax.plot(centres, scores, color=CURVE_COLOR, lw=1.6, label='predicted highlight score')
        curve_ax.fill_between(centres, scores, scores.min(), color=CURVE_COLOR, alpha=0.12)
    curve_ax.set_xlim(0, duration)
    curve_ax.set_ylabel('highlight', fontsize=8)
    curve_ax.tick_params(labelsize=7, labelbottom=False)
    if show_legend and len(scores):
        curve_ax.legend(loc='best', fontsize=7, frameon=False)

    predicted = (entry.get('pred_relevant_windows') or [])[:top_k]
    rows, labels = [], []
    if gt_windows:
        for start, end in gt_windows:
            windows_ax.barh(0, end - start, left=start, height=0.6, color=GT_COLOR)
        rows.append(0)
        labels.append('ground truth')
    best = max((w[2] for w in predicted), default=1.0) or 1.0
    for rank, (start, end, score) in enumerate(predicted, start=1):
        row = len(rows)
        shade = 0.35 + 0.65 * max(0.0, float(score)) / best
        windows_ax.barh(row, end - start, left=start, height=0.6, color=PRED_COLOR, alpha=shade)
        text = f'{score:.2f}'
        if gt_windows:
            text += f'  IoU {window_iou((start, end), gt_windows):.2f}'
        if end > 0.75 * duration:  # near the end: the label goes left of the bar
            windows_ax.text(start - 0.01 * duration, row, text, va='center', ha='right',
                            fontsize=7, clip_on=True)
        else:
            windows_ax.text(end + 0.01 * duration, row, text, va='center', fontsize=7,
                            clip_on=True)
        rows.append(row)
        labels.append(f'#{rank}')
    windows_ax.set_yticks(rows, labels, fontsize=7)
    windows_ax.set_ylim(len(rows) - 0.4, -0.6)
    windows_ax.set_xlim(0, duration)
    windows_ax.set_xlabel('time (s)', fontsize=8)
    windows_ax.tick_params(axis='x', labelsize=7)
    windows_ax.grid(axis='x', alpha=0.3)


def _title(entry: dict, width: int = 90) -> str:
    query = textwrap.shorten(str(entry.get('query') or ''), width=width, placeholder='...')
    where = ', '.join(f'{k} {entry[k]}' for k in ('qid', 'vid') if entry.get(k) not in (None, ''))
    return f'"{query}"  ({where})' if where else f'"{query}"'


def plot_prediction(entry: dict, gt: Optional[dict] = None, clip_len: float = 2.0,
                    top_k: int = 5, duration: Optional[float] = None, figsize=(10, 4)):
    """One query: highlight curve (and annotated saliency), GT and top-k windows."""
    figure = _figure(figsize)
    curve_ax, windows_ax = figure.subplots(2, 1, sharex=True, height_ratios=[1.3, 1])
    draw_prediction(curve_ax, windows_ax, entry, gt, clip_len, top_k, duration)
    figure.suptitle(_title(entry), fontsize=10)
    return figure


def plot_predictions(entries: Sequence[dict], gts: Optional[Dict] = None, clip_len: float = 2.0,
                     top_k: int = 5, duration: Optional[float] = None, width: float = 10):
    """Several queries (e.g. of one video) stacked in one figure."""
    gts = gts or {}
    figure = _figure((width, 0.5 + 3.2 * max(1, len(entries))))
    ratios = [1.3, 1] * max(1, len(entries))
    axes = figure.subplots(2 * max(1, len(entries)), 1, height_ratios=ratios, squeeze=False)[:, 0]
    for index, entry in enumerate(entries):
        curve_ax, windows_ax = axes[2 * index], axes[2 * index + 1]
        draw_prediction(curve_ax, windows_ax, entry, gts.get(entry.get('qid')), clip_len, top_k,
                        duration, show_legend=index == 0)
        curve_ax.set_title(_title(entry), fontsize=9, loc='left')
    return figure


def split_summary(entries: Sequence[dict], gts: Dict) -> Dict[str, float]:
    """Top-1 IoU statistics of the entries that have ground-truth windows."""
    ious = [window_iou(e['pred_relevant_windows'][0][:2], gts[e['qid']]['relevant_windows'])
            for e in entries if e.get('qid') in gts and gts[e['qid']].get('relevant_windows')
            and e.get('pred_relevant_windows')]
    if not ious:
        return {}
    ious = np.asarray(ious)
    return {'queries': len(ious), 'mean top-1 IoU': float(ious.mean()),
            'R1@0.5': float((ious >= 0.5).mean() * 100),
            'R1@0.7': float((ious >= 0.7).mean() * 100)}


def plot_summary(entries: Sequence[dict], gts: Optional[Dict] = None, clip_len: float = 2.0,
                 max_panels: int = 24, columns: int = 4, title: str = ''):
    """A grid of small panels (curve, GT windows shaded, top-1 window as a bar)
    for the first ``max_panels`` queries, headed by the split's top-1 IoU
    statistics over all ``entries`` with ground truth."""
    gts = gts or {}
    shown = list(entries)[:max_panels]
    rows = max(1, -(-len(shown) // columns))
    figure = _figure((3.2 * columns, 2.0 * rows + 0.6))
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.set_axis_off()
    for ax, entry in zip(axes.flat, shown):
        gt = gts.get(entry.get('qid'))
        duration = _duration(entry, gt, clip_len)
        scores = np.asarray(entry.get('pred_saliency_scores') or [], dtype=float)
        gt_windows = (gt or {}).get('relevant_windows') or []
        for start, end in gt_windows:
            ax.axvspan(start, end, color=GT_COLOR, alpha=0.25, lw=0)
        low, high = (scores.min(), scores.max()) if len(scores) else (0.0, 1.0)
        if len(scores):
            ax.plot((np.arange(len(scores)) + 0.5) * clip_len, scores, color=CURVE_COLOR, lw=1)
        span = (high - low) or 1.0
        ax.set_ylim(low - 0.05 * span, high + 0.35 * span)
        label = f'qid {entry.get("qid")}'
        if entry.get('pred_relevant_windows'):
            start, end, score = entry['pred_relevant_windows'][0][:3]
            ax.barh(high + 0.2 * span, end - start, left=start, height=0.12 * span,
                    color=PRED_COLOR)
            if gt_windows:
                label += f'  IoU {window_iou((start, end), gt_windows):.2f}'
        ax.set_xlim(0, duration)
        ax.set_title(label, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.set_yticks([])
    stats = split_summary(entries, gts)
    heading = title or f'{len(entries)} queries'
    if stats:
        heading += (f'  |  top-1 window vs ground truth over {stats["queries"]} queries: '
                    f'mean IoU {stats["mean top-1 IoU"]:.2f}, R1@0.5 {stats["R1@0.5"]:.1f}, '
                    f'R1@0.7 {stats["R1@0.7"]:.1f}')
    figure.suptitle(heading + '\n(green: ground truth, blue bar: top-1 window, orange: highlight '
                    'curve)', fontsize=9)
    return figure


def annotations_by_qid(records: Sequence[dict]) -> Dict:
    return {r['qid']: r for r in records if 'qid' in r}


__all__: List[str] = ['plot_prediction', 'plot_predictions', 'plot_summary', 'draw_prediction',
                      'save_figure', 'window_iou', 'split_summary', 'annotations_by_qid']
