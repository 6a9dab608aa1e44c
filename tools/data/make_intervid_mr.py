"""Build InterVid-MR annotations (paper §4.3.2): relabel caption samples that
each carry one annotated interval into QVHighlights-format MR + HD lines.

    python tools/data/make_intervid_mr.py --input raw.jsonl \\
        --video-dir data/intervid_mr/features/internvideo2 \\
        --caption-dir data/intervid_mr/features/internvideo2_caption \\
        --out data/intervid_mr/annotations/intervid_mr_train.jsonl

``raw.jsonl``: one JSON object per line with ``vid``, ``qid``, ``query``,
``duration`` (seconds) and ``interval`` ``[start, end]`` (seconds).  Video
features: ``{video-dir}/{vid}.npz`` key ``features`` (L, D); caption
embeddings: ``{caption-dir}/qid{qid}.npz`` key ``pooler_output`` (D,) or
``last_hidden_state`` (N, D) (averaged), in the same space as the video
features.  The output trains with ``QVHighlightsDataset`` (see
``configs/pretrain/``); the text features the model reads there may be a
different set (``last_hidden_state`` tokens of any text encoder).

Try it on the synthetic data (``tools/data/make_synthetic.py``), whose video
and text share one space: every query's first ground-truth window plays the
annotated interval, and the report says how many of the other planted
windows the relabelling finds::

    python tools/data/make_intervid_mr.py \\
        --demo-from-synthetic data/synthetic \\
        --out data/synthetic/annotations/intervid_mr_train.jsonl

See :mod:`sgdetr.datasets.intervid_mr` for the rules.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time

import numpy as np

from sgdetr.datasets.annotations import read_jsonl
from sgdetr.datasets.errors import DataError
from sgdetr.datasets.intervid_mr import (build_intervid_mr,
                                         format_intervid_mr_summary)

#: IoU at which a relabelled window counts as finding a planted one (demo).
DEMO_IOU = 0.5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--input', help='raw samples, JSON lines')
    source.add_argument(
        '--demo-from-synthetic', metavar='DIR',
        help='use the synthetic dataset in DIR instead: its --split '
        'annotations (first window = the annotated interval) and features')
    parser.add_argument('--split', default='train',
                        choices=['train', 'val'],
                        help='synthetic split of --demo-from-synthetic')
    parser.add_argument('--video-dir',
                        help='{vid}.npz video features (key "features")')
    parser.add_argument('--caption-dir',
                        help='qid{qid}.npz caption embeddings')
    parser.add_argument('--clip-len', type=float, default=2.0,
                        help='seconds per video feature clip')
    parser.add_argument('--length-tolerance', type=float, default=0.1,
                        help='skip samples whose feature length differs from'
                        ' duration / clip-len by more than this fraction '
                        '(and 2 clips); negative: keep all')
    parser.add_argument('--out', required=True, help='output JSON lines')
    args = parser.parse_args(argv)
    if args.input and not (args.video_dir and args.caption_dir):
        parser.error('--input needs --video-dir and --caption-dir')
    return args


def synthetic_raw_samples(root: str, split: str):
    """Raw samples of a synthetic split and its planted windows.

    Returns:
        (samples, planted): the raw sample dicts and, per sample, the (K, 2)
        seconds of all its ground-truth windows.
    """
    path = osp.join(root, 'annotations', f'highlight_{split}_release.jsonl')
    samples, planted = [], []
    for _, line in read_jsonl(path):
        samples.append(dict(vid=line['vid'], qid=line['qid'],
                            query=line['query'], duration=line['duration'],
                            interval=line['relevant_windows'][0]))
        planted.append(np.asarray(line['relevant_windows'], np.float64))
    return samples, planted


def window_iou(windows_a: np.ndarray, windows_b: np.ndarray) -> np.ndarray:
    """(A, B) IoU of (A, 2) and (B, 2) windows in seconds."""
    inter = (np.minimum(windows_a[:, None, 1], windows_b[None, :, 1])
             - np.maximum(windows_a[:, None, 0], windows_b[None, :, 0]))
    union = (np.maximum(windows_a[:, None, 1], windows_b[None, :, 1])
             - np.minimum(windows_a[:, None, 0], windows_b[None, :, 0]))
    return inter.clip(min=0.0) / union


def demo_report(lines, samples, planted) -> str:
    """How many planted windows a relabelled window matches (IoU >= 0.5),
    separately for the annotated interval and the other planted windows."""
    planted_by_qid = {s['qid']: p for s, p in zip(samples, planted)}
    found = np.zeros(2, np.int64)  # annotated interval, other windows
    total = np.zeros(2, np.int64)
    for line in lines:
        gt = planted_by_qid[line['qid']]
        hit = window_iou(gt, np.asarray(line['relevant_windows'])).max(
            axis=1) >= DEMO_IOU  # (K,)
        found += [hit[0], hit[1:].sum()]
        total += [1, len(gt) - 1]
    return (f'planted windows found (IoU >= {DEMO_IOU:g}): annotated '
            f'interval {found[0]}/{total[0]}, the other planted windows '
            f'{found[1]}/{total[1]}')


def write_jsonl_atomic(lines, path: str) -> None:
    """Write JSON lines to ``path`` through a temporary file in the same
    folder: a crash leaves the previous file, never half of a new one."""
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=directory, suffix='.tmp',
                                         prefix=osp.basename(path) + '.')
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as temp_file:
            temp_file.writelines(json.dumps(line) + '\n' for line in lines)
        os.replace(temp_path, path)
    except BaseException:
        os.unlink(temp_path)
        raise


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    planted = None
    try:
        if args.demo_from_synthetic:
            root = args.demo_from_synthetic
            samples, planted = synthetic_raw_samples(root, args.split)
            video_dir = args.video_dir or osp.join(root, 'features', 'video')
            caption_dir = args.caption_dir or osp.join(root, 'features',
                                                       'text')
        else:
            samples = [record for _, record in read_jsonl(args.input)]
            video_dir, caption_dir = args.video_dir, args.caption_dir
        lines, summary = build_intervid_mr(
            samples, video_dir, caption_dir, clip_len=args.clip_len,
            length_tolerance=(None if args.length_tolerance < 0 else
                              args.length_tolerance))
    except DataError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(format_intervid_mr_summary(summary))
    if planted is not None:
        print(demo_report(lines, samples, planted))
    if not lines:
        print('error: no sample left to write', file=sys.stderr)
        return 1
    write_jsonl_atomic(lines, args.out)
    print(f'wrote {len(lines)} lines to {args.out} in '
          f'{time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
