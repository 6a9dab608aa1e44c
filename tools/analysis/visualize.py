"""Figures of predictions: per query, the highlight curve, the ground-truth windows and
the top predicted windows with their scores; a summary grid for the whole file.

    python tools/analysis/visualize.py PRED.jsonl [--gt GT.jsonl] [--out-dir DIR]
        [--qids 12 57] [--max-queries 50] [--top-k 5] [--clip-len 2] [--summary-only]

``PRED.jsonl``: submission-format lines (``tools/infer.py``, ``tools/test.py
--submission-dir``). ``GT.jsonl``: the split's annotations (windows, and
per-clip saliency drawn as bars). Writes ``DIR/<qid>.png`` and
``DIR/summary.png`` (default ``DIR``: next to the predictions,
``<name>_vis``).
"""
import argparse
import os.path as osp
import sys

from sgdetr.apis.visualization import (annotations_by_qid, plot_prediction, plot_summary,
                                       save_figure, split_summary)
from sgdetr.evaluation.submission import load_jsonl


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('predictions', help='submission-format JSON lines')
    parser.add_argument('--gt', help='annotation JSON lines of the same queries')
    parser.add_argument('--out-dir')
    parser.add_argument('--qids', nargs='+', help='only these queries')
    parser.add_argument('--max-queries', type=int, default=50,
                        help='per-query figures written (the first N)')
    parser.add_argument('--top-k', type=int, default=5, help='predicted windows drawn')
    parser.add_argument('--clip-len', type=float, default=2.0, help='seconds per clip')
    parser.add_argument('--grid-size', type=int, default=24, help='panels of the summary')
    parser.add_argument('--columns', type=int, default=4)
    parser.add_argument('--summary-only', action='store_true')
    parser.add_argument('--dpi', type=int, default=120)
    return parser.parse_args(argv)


def _qid_matches(qid, wanted) -> bool:
    return str(qid) in wanted


def main(argv=None):
    args = parse_args(argv)
    entries = load_jsonl(args.predictions)
    if args.qids:
        wanted = set(args.qids)
        entries = [e for e in entries if _qid_matches(e['qid'], wanted)]
        if not entries:
            raise SystemExit(f'none of the qids {args.qids} is in {args.predictions}')
    gts = annotations_by_qid(load_jsonl(args.gt)) if args.gt else {}
    out_dir = args.out_dir or osp.splitext(args.predictions)[0] + '_vis'
    written = 0
    if not args.summary_only:
        for entry in entries[:args.max_queries]:
            figure = plot_prediction(entry, gts.get(entry['qid']), args.clip_len, args.top_k)
            save_figure(figure, osp.join(out_dir, f'{entry["qid"]}.png'), args.dpi)
            written += 1
    title = f'{osp.basename(args.predictions)}: {len(entries)} queries'
    summary = plot_summary(entries, gts, args.clip_len, args.grid_size, args.columns, title)
    save_figure(summary, osp.join(out_dir, 'summary.png'), args.dpi)
    stats = split_summary(entries, gts)
    print(f'{written} per-query figures and summary.png in {out_dir}')
    if stats:
        print('top-1 window vs ground truth: ' + ', '.join(
            f'{k} {v:.2f}' if isinstance(v, float) else f'{k} {v}' for k, v in stats.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
