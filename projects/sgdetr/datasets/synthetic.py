"""A small synthetic MR/HD dataset in the exact QVHighlights on-disk layout.

Written by :func:`make_synthetic_dataset` (command line:
``tools/data/make_synthetic.py``)::

    {out_dir}/annotations/highlight_{train,val,test}_release.jsonl
    {out_dir}/features/video/{vid}.npz      features          (L, D) float32
    {out_dir}/features/text/qid{qid}.npz    last_hidden_state (N, D) float32
                                            pooler_output     (D,)   float32

The test split has no ground truth in its JSON lines, as in the real release.

The planted signal
------------------
Video and text share ONE space of dim D (``video_dim == text_dim``), split
by a random orthonormal basis into a *nuisance* subspace (``nuisance_dim``
axes) and a *content* subspace (the rest).

- **Queries.** Each query has a unit embedding ``e_q`` in the content
  subspace, a mix of one of ``num_topics`` shared topic directions and its
  own direction: queries of one topic are alike (cosine ~0.4), so a moment
  of a same-topic query is a convincing distractor.
- **Videos** (``clip_len`` s clips, L in [min_clips, max_clips]) host 1-3
  queries.  Per clip: a per-video background (content subspace) +
  temporally smooth, strong noise confined to the nuisance subspace + weak
  i.i.d. noise + the planted moments.  A moment adds ``a * p(t) * e`` over
  its clips: ``p`` rises from 0.3 at the edges to 1 in the middle, ``a`` is
  drawn per moment.  Every query gets 1-3 windows; each video also gets 0-2
  *distractor* moments carrying the embedding of another, same-topic query.
  All moments of a video are disjoint.
- **Saliency.** On a query's window clips, each of 3 annotators scores
  ``round(1 + 3 * p(t) * min(a, 1) + noise)`` clipped to 0..4: graded,
  peaking in the middle of windows, annotators disagree a little.
- **Text.** N in [min_tokens, max_tokens] tokens: 15-45 % are *content*
  tokens ``e_q + noise`` (individually noisy, cosine to ``e_q`` ~0.7), the
  rest are drawn from a small *stop-word* vocabulary that lives mostly in
  the nuisance subspace.  The token mean points to ``e_q`` plus a strong
  stop-word component.

Why this is learnable but not trivial: the zero-shot baseline (cosine of
mean-pooled, L2-normalised tokens vs each clip) finds the moments, but the
stop-word part of the mean correlates with the smooth nuisance noise, so it
also scores background stretches high; the distractors fool it too, and it
has no notion of moment boundaries.  A model can learn to project the
nuisance subspace out, to pool only the content tokens, and to use temporal
context for boundaries.  On the default val split (seed 0) the baseline
reaches an HD mAP of ~37 (VeryGood, 3 annotators), HIT@1 ~43 and, with
windows from a mean + 0.5 std threshold of its curve, R1@0.5 ~53; the same
cosine after removing the top 24 principal directions of the training clips
(a linear map a model can learn) reaches ~57 / ~67 / ~97.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
from scipy.ndimage import gaussian_filter1d

SPLITS = ('train', 'val', 'test')
NUM_ANNOTATORS = 3
#: range of the fraction of content tokens in a query (the rest: stop words)
CONTENT_TOKEN_RATIO = (0.15, 0.45)
#: std of an annotator's score around the planted level
ANNOTATOR_NOISE = 0.45


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _place_segments(rng, num_clips: int, lengths: List[int],
                    gap: int = 1) -> List[tuple]:
    """Disjoint ``[start, end)`` clip ranges of the given lengths, placed in
    order at random among the positions still free, each at least ``gap``
    clips from the others (video ends excepted); ``None`` where one does not
    fit."""
    free = np.ones(num_clips + 2 * gap, dtype=bool)  # padded by `gap`
    placed = []
    for length in lengths:
        length = min(length, num_clips)
        # A start s is free iff padded [s, s + length + 2 gap) holds no taken
        # clip: one cumulative sum tests every start at once.
        taken_before = np.concatenate([[0], np.cumsum(~free)])
        starts = np.arange(num_clips - length + 1)
        fits = starts[taken_before[starts + length + 2 * gap]
                      == taken_before[starts]]
        if fits.size == 0:
            placed.append(None)
            continue
        start = int(rng.choice(fits))
        free[start + gap:start + gap + length] = False
        placed.append((start, start + length))
    return placed


def make_synthetic_dataset(out_dir: str,
                           num_train: int = 600,
                           num_val: int = 150,
                           num_test: int = 100,
                           dim: int = 256,
                           clip_len: float = 2.0,
                           min_clips: int = 30,
                           max_clips: int = 75,
                           min_tokens: int = 8,
                           max_tokens: int = 32,
                           num_topics: int = 16,
                           nuisance_dim: Optional[int] = None,
                           nuisance_scale: float = 2.0,
                           noise_scale: float = 0.6,
                           moment_scale: float = 0.8,
                           seed: int = 0,
                           verbose: bool = True) -> Dict:
    """Write a seeded synthetic dataset (see the module doc) to ``out_dir``.

    Args:
        out_dir: root folder; ``annotations/`` and ``features/`` are created.
        num_train, num_val, num_test: queries per split (videos are not
            shared between splits).
        dim: D, the feature dim of both video and text.
        clip_len: seconds per clip.
        min_clips, max_clips: range of the video length L in clips (half of
            the videos have ``max_clips``).
        min_tokens, max_tokens: range of the query length N in tokens.
        num_topics: topic directions shared by queries.
        nuisance_dim: dim of the subspace that holds the smooth noise;
            ``None``: 3/32 of ``dim`` (24 for D = 256).
        nuisance_scale: norm of the smooth noise per clip.
        noise_scale: norm of the i.i.d. noise per clip.
        moment_scale: mean amplitude of a planted moment (a query embedding
            has norm 1).
        seed: everything is a function of it.
        verbose: print what was written.

    Returns:
        dict with ``out_dir``, ``annotation_files`` (split -> path),
        ``video_dir``, ``text_dir``, ``dim``, ``clip_len`` and per-split
        ``num_queries`` / ``num_videos``.
    """
    if not 2 <= min_clips <= max_clips:
        raise ValueError('need 2 <= min_clips <= max_clips')
    if not 2 <= min_tokens <= max_tokens:
        raise ValueError('need 2 <= min_tokens <= max_tokens')
    if nuisance_dim is None:
        nuisance_dim = max(1, dim * 3 // 32)
    if not 0 < nuisance_dim < dim - 1:
        raise ValueError('need 0 < nuisance_dim < dim - 1')
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    nuisance_axes = basis[:, :nuisance_dim]  # (D, r)
    content_axes = basis[:, nuisance_dim:]  # (D, D - r)

    def content(n: int) -> np.ndarray:
        """(n, D) unit vectors in the content subspace."""
        return _unit(rng.standard_normal((n, content_axes.shape[1]))
                     @ content_axes.T)

    split_sizes = dict(train=num_train, val=num_val, test=num_test)
    num_queries = sum(split_sizes.values())
    topics = content(num_topics)
    query_topic = rng.integers(num_topics, size=num_queries)
    # cos(e_q, e_q') ~ 0.4 for two queries of one topic.
    query_embed = _unit(0.64 * topics[query_topic] + 0.77 * content(
        num_queries))
    # Stop words: mostly nuisance, a little content, so that the mean
    # token of a query is pulled towards the smooth video noise.
    stop_words = _unit(
        0.85 * _unit(rng.standard_normal((12, nuisance_dim))) @ nuisance_axes.T
        + 0.5 * content(12))

    video_dir = osp.join(out_dir, 'features', 'video')
    text_dir = osp.join(out_dir, 'features', 'text')
    ann_dir = osp.join(out_dir, 'annotations')
    for directory in (video_dir, text_dir, ann_dir):
        os.makedirs(directory, exist_ok=True)

    qid_order = rng.permutation(num_queries) + 1  # qids look arbitrary
    query_index = 0
    summary = dict(out_dir=out_dir, video_dir=video_dir, text_dir=text_dir,
                   dim=dim, clip_len=clip_len, annotation_files={},
                   num_queries={}, num_videos={})
    for split in SPLITS:
        lines, video_count = [], 0
        remaining = split_sizes[split]
        while remaining > 0:
            hosted = min(remaining, int(rng.choice([1, 2, 3],
                                                   p=[.6, .3, .1])))
            queries = np.arange(query_index, query_index + hosted)
            query_index += hosted
            remaining -= hosted
            vid = f'syn_{split}_{video_count:04d}'
            video_count += 1
            lines += _write_video(rng, vid, queries, qid_order, query_embed,
                                  query_topic, stop_words, nuisance_axes,
                                  content_axes, video_dir, text_dir,
                                  with_gt=split != 'test',
                                  clip_len=clip_len, min_clips=min_clips,
                                  max_clips=max_clips, min_tokens=min_tokens,
                                  max_tokens=max_tokens,
                                  nuisance_scale=nuisance_scale,
                                  noise_scale=noise_scale,
                                  moment_scale=moment_scale)
        path = osp.join(ann_dir, f'highlight_{split}_release.jsonl')
        with open(path, 'w', encoding='utf-8') as handle:
            handle.writelines(json.dumps(line) + '\n' for line in lines)
        summary['annotation_files'][split] = path
        summary['num_queries'][split] = len(lines)
        summary['num_videos'][split] = video_count
    if verbose:
        print(f'synthetic dataset (seed {seed}, D={dim}, {clip_len:g} s clips)'
              f' written to {out_dir}')
        for split in SPLITS:
            print(f'  {summary["annotation_files"][split]}: '
                  f'{summary["num_queries"][split]} queries, '
                  f'{summary["num_videos"][split]} videos')
        num_videos = sum(summary['num_videos'].values())
        print(f'  {video_dir}/{{vid}}.npz: {num_videos} files, key '
              f'"features" (L, {dim})')
        print(f'  {text_dir}/qid{{qid}}.npz: {num_queries} files, keys '
              f'"last_hidden_state" (N, {dim}), "pooler_output" ({dim},)')
    return summary


def _write_video(rng, vid, queries, qid_order, query_embed, query_topic,
                 stop_words, nuisance_axes, content_axes, video_dir, text_dir,
                 *, with_gt, clip_len, min_clips, max_clips, min_tokens,
                 max_tokens, nuisance_scale, noise_scale,
                 moment_scale) -> List[dict]:
    """Write one video and its queries; return their annotation lines."""
    dim = query_embed.shape[1]
    num_clips = (max_clips if rng.random() < 0.5 else int(
        rng.integers(min_clips, max_clips + 1)))
    # Some videos end inside their last clip, as real ones do.
    duration = num_clips * clip_len
    if rng.random() < 0.3:
        duration = round(duration - rng.uniform(0.1, 0.9) * clip_len, 2)

    # Moments: the first window of every query, then the other windows,
    # then distractors, so that every query surely gets a window.  Lengths
    # are capped so that short videos hosting several queries still fit.
    # Up to 20 clips (40 s): the QVHighlights short / middle / long ranges
    # (<= 10 s, 10-30 s, > 30 s) all occur.
    longest = max(2, min(20, num_clips // (3 * len(queries))))
    first, extra = [], []
    for query in queries:
        for k in range(int(rng.choice([1, 2, 3], p=[.5, .3, .2]))):
            (extra if k else first).append(
                (int(query), int(rng.integers(2, longest + 1))))
    same_topic = np.flatnonzero(
        np.isin(query_topic, query_topic[queries]) & ~np.isin(
            np.arange(len(query_topic)), queries))
    distractors = [(int(rng.choice(same_topic)),
                    int(rng.integers(2, longest + 1)))
                   for _ in range(int(rng.integers(0, 3)) if same_topic.size
                                  else 0)]
    moments = first + extra + distractors
    # Moments stay within the whole clips: the official QVHighlights
    # evaluation has int(duration / clip_len) clips per video.
    segments = _place_segments(rng, int(duration // clip_len),
                               [n for _, n in moments])
    owners = [owner for owner, _ in moments]
    if any(segment is None for segment in segments[:len(first)]):
        raise RuntimeError(f'{vid}: no room for a window of every query')

    # Clip features (L, D): background + smooth nuisance + i.i.d. noise.
    background = 0.6 * _unit(rng.standard_normal(content_axes.shape[1])
                             ) @ content_axes.T
    smooth = gaussian_filter1d(
        rng.standard_normal((num_clips, nuisance_axes.shape[1])), sigma=3.0,
        axis=0, mode='nearest')
    smooth *= nuisance_scale / np.sqrt((smooth**2).sum(1).mean())
    iid = rng.standard_normal((num_clips, dim)) * (noise_scale / np.sqrt(dim))
    features = background + smooth @ nuisance_axes.T + iid

    # Planted moments and the per-query ground truth.
    windows: Dict[int, list] = {int(q): [] for q in queries}
    clip_scores: Dict[int, list] = {int(q): [] for q in queries}
    for segment, owner in zip(segments, owners):
        if segment is None:
            continue
        start, end = segment
        position = (np.arange(end - start) + 0.5) / (end - start)
        profile = 0.3 + 0.7 * np.sin(np.pi * position)  # peak mid-window
        amplitude = moment_scale * rng.uniform(0.6, 1.4)
        features[start:end] += (amplitude * profile)[:, None] * query_embed[
            owner]
        if owner in windows:
            windows[owner].append([start * clip_len,
                                   min(end * clip_len, duration)])
            level = 1.0 + 3.0 * profile * min(amplitude, 1.0)
            noise = rng.normal(0.0, ANNOTATOR_NOISE,
                               (end - start, NUM_ANNOTATORS))
            scores = np.rint(level[:, None] + noise).clip(0, 4)
            clip_scores[owner] += [(start + i, scores[i].astype(int).tolist())
                                   for i in range(end - start)]
    np.savez(osp.join(video_dir, f'{vid}.npz'),
             features=features.astype(np.float32))

    lines = []
    for query in queries:
        query = int(query)
        qid = int(qid_order[query])
        tokens = _query_tokens(rng, query_embed[query], stop_words,
                               min_tokens, max_tokens)
        np.savez(osp.join(text_dir, f'qid{qid}.npz'),
                 last_hidden_state=tokens.astype(np.float32),
                 pooler_output=tokens.mean(0).astype(np.float32))
        line = dict(qid=qid, query=f'synthetic query {qid} (topic '
                    f'{int(query_topic[query])})', duration=duration, vid=vid)
        if with_gt:
            scored = sorted(clip_scores[query])
            line['relevant_clip_ids'] = [clip for clip, _ in scored]
            line['saliency_scores'] = [score for _, score in scored]
            line['relevant_windows'] = sorted(windows[query])
        lines.append(line)
    return lines


def _query_tokens(rng, embedding, stop_words, min_tokens,
                  max_tokens) -> np.ndarray:
    """(N, D) tokens: noisy copies of ``embedding`` and stop words."""
    dim = embedding.shape[0]
    num_tokens = int(rng.integers(min_tokens, max_tokens + 1))
    is_content = rng.random(num_tokens) < rng.uniform(*CONTENT_TOKEN_RATIO)
    is_content[rng.integers(num_tokens)] = True  # at least one
    content = embedding + rng.standard_normal((num_tokens, dim)) * (
        1.0 / np.sqrt(dim))
    stop = stop_words[rng.integers(len(stop_words), size=num_tokens)] + (
        rng.standard_normal((num_tokens, dim)) * (0.2 / np.sqrt(dim)))
    return np.where(is_content[:, None], content, stop)
