"""Time the QVHighlights evaluation (single process) on this machine.

    python tools/analysis/benchmark_eval.py --pred hl_val_submission.jsonl \
        --gt highlight_val_release.jsonl [--expected official_metrics.json]

Without ``--pred``/``--gt`` it times a synthetic submission shaped like the
val split (1550 queries, 150 s videos, 10 windows, one score per 2 s clip).
Reading the JSON files is timed apart from the evaluation itself.  The
official standalone evaluation, which spreads the work over 8 processes, is
reported to take about 4.7 s on the val split; ``--reference-seconds``
changes that figure.
"""
import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from sgdetr.apis import cpu_name
from sgdetr.evaluation.functional import eval_qvhighlights
from sgdetr.evaluation.submission import load_jsonl

OFFICIAL_SECONDS = 4.7


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pred', help='submission JSON lines')
    parser.add_argument('--gt', help='annotation JSON lines')
    parser.add_argument('--expected', help='metrics JSON the evaluation must reproduce')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--num-queries', type=int, default=1550,
                        help='synthetic queries (without --pred/--gt)')
    parser.add_argument('--reference-seconds', type=float, default=OFFICIAL_SECONDS,
                        help='time of the official evaluation to compare with')
    return parser.parse_args()


def synthetic_split(num_queries: int, seed: int = 0):
    """A val-like ground truth and a submission of random quality."""
    rng = np.random.default_rng(seed)
    ground_truth, submission = [], []
    for qid in range(num_queries):
        num_clips = 75
        start = int(rng.integers(0, 60))
        length = int(rng.choice([1, 3, 8, 20]))
        clip_ids = list(range(start, min(start + length, num_clips)))
        ground_truth.append(dict(
            qid=qid, query='q', vid=f'v{qid}', duration=2 * num_clips,
            relevant_windows=[[2 * clip_ids[0], 2 * clip_ids[-1] + 2]],
            relevant_clip_ids=clip_ids,
            saliency_scores=rng.integers(0, 5, (len(clip_ids), 3)).tolist()))
        starts = rng.uniform(0, 140, 10)
        windows = np.stack([starts, starts + rng.uniform(2, 60, 10),
                            np.sort(rng.random(10))[::-1]], axis=1)
        submission.append(dict(qid=qid, query='q', vid=f'v{qid}',
                               pred_relevant_windows=windows.round(2).tolist(),
                               pred_saliency_scores=rng.normal(size=num_clips).tolist()))
    return submission, ground_truth


def main():
    args = parse_args()
    start = time.perf_counter()
    if args.pred and args.gt:
        submission, ground_truth = load_jsonl(args.pred), load_jsonl(args.gt)
        source = f'{args.pred} against {args.gt}'
    else:
        submission, ground_truth = synthetic_split(args.num_queries)
        source = f'synthetic split of {args.num_queries} queries'
    load_seconds = time.perf_counter() - start

    timings = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        results = eval_qvhighlights(submission, ground_truth)
        timings.append(time.perf_counter() - start)
    median = statistics.median(timings)

    print(f'data: {source} ({len(submission)} queries)')
    print(f'measured on this machine: {cpu_name()} ({platform.machine()}), '
          f'{os.cpu_count()} logical CPUs, '
          f'Python {platform.python_version()}, numpy {np.__version__}, '
          f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}')
    print(f'reading JSON lines: {load_seconds:.3f} s')
    print(f'eval_qvhighlights, single process, {args.repeats} runs: '
          f'median {median:.3f} s, min {min(timings):.3f} s, max {max(timings):.3f} s')
    print(f'official evaluation (8 processes, reported): {args.reference_seconds:.1f} s '
          f'-> {args.reference_seconds / median:.1f}x faster')
    if args.expected:
        with open(args.expected) as f:
            expected = json.load(f)
        same = json.dumps(results) == json.dumps(expected)
        print(f'results equal to {args.expected}: {same}')
        if not same:
            raise SystemExit(1)


if __name__ == '__main__':
    main()
