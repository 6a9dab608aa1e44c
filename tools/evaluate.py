"""Score a prediction file against an annotation file.

    python tools/evaluate.py --pred hl_val_submission.jsonl \
        --gt highlight_val_release.jsonl --out metrics.json

QVHighlights scores equal those of the official server; Charades-STA and
TACoS give R@k at IoU 0.3/0.5/0.7 and mIoU; YouTube-Highlights and TVSum give
mAP per domain.  The main numbers are printed as a table; the full metrics are
written as JSON (atomically) to ``--out``.

Every metric the ground truth supports is computed, or nothing is: an
annotation file without the ground truth the metric family scores (e.g. the
prediction file given as ``--gt``) is an error, and so is a line without a
prediction the ground truth can score.  The predictions are checked first,
every line alike: a repeated qid, a missing field (with the nearest key the
line has), windows that are not numbers, NaN/Inf, windows that end before
they start, or fewer saliency scores than the video's clips is an error
naming the line and the qid; what the official evaluation accepts (more
saliency scores than clips, more than 10 windows, windows outside the video)
is scored as it does, with a warning that says so.  Predictions the ground
truth cannot score (saliency against annotations without clip scores) are
left out with a warning.
"""
import argparse
import sys

from sgdetr.evaluation.functional import (eval_moment_recall,
                                          eval_qvhighlights, eval_tvsum,
                                          eval_youtube_highlights)
from sgdetr.evaluation.submission import (SCORABLE_FIELDS, SubmissionError, dump_json,
                                          load_jsonl, load_jsonl_lines, scored_fields,
                                          validate_submission)

DATASETS = ('qvhighlights', 'charades', 'tacos', 'youtube', 'tvsum')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Score predictions (submission JSON lines) against '
        'ground-truth annotations.')
    parser.add_argument('--pred', required=True,
                        help='predictions, one JSON object per line')
    parser.add_argument('--gt', required=True,
                        help='annotation file of the split (JSON lines)')
    parser.add_argument('--dataset', choices=DATASETS, default='qvhighlights',
                        help='metric family (default: qvhighlights)')
    parser.add_argument('--out', help='write the full metrics JSON here')
    parser.add_argument('--partial', action='store_true',
                        help='score only the qids present in both files '
                        '(default: the files must have the same qids)')
    parser.add_argument('--verbose', action='store_true',
                        help='print per-range counts and timings')
    return parser.parse_args(argv)


def evaluate(submission, ground_truth, dataset: str, match_number: bool = True,
             verbose: bool = False):
    """Returns (full metrics, brief flat metrics) for ``dataset``."""
    if dataset == 'qvhighlights':
        full = eval_qvhighlights(submission, ground_truth, verbose=verbose,
                                 match_number=match_number)
        return full, full['brief']
    if dataset in ('charades', 'tacos'):
        full = eval_moment_recall(submission, ground_truth, match_number=match_number)
    elif dataset == 'youtube':
        full = eval_youtube_highlights(submission, ground_truth, match_number=match_number)
    else:
        full = eval_tvsum(submission, ground_truth, match_number=match_number)
    return full, full


def format_table(metrics: dict) -> str:
    """Two aligned columns: metric name, value."""
    width = max(map(len, metrics), default=0)
    lines = [f'{"metric":<{width}}  value', f'{"-" * width}  ------']
    lines += [f'{name:<{width}}  {value:6.2f}' for name, value in metrics.items()]
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        numbered = load_jsonl_lines(args.pred)
        submission = [entry for _, entry in numbered]
        ground_truth = load_jsonl(args.gt)
        for warning in validate_submission(submission, ground_truth, args.dataset,
                                           lines=[line for line, _ in numbered],
                                           source=args.pred, gt_source=args.gt):
            print(f'warning: {warning}', file=sys.stderr)
        scored = scored_fields(ground_truth, args.dataset)
        unscored = [field for field in SCORABLE_FIELDS[args.dataset] if field not in scored
                    and any(field in entry for entry in submission)]
        if unscored:
            print(f'warning: {args.gt} has no ground truth for {unscored}: not scored',
                  file=sys.stderr)
            submission = [{k: v for k, v in e.items() if k not in unscored}
                          for e in submission]
        full, brief = evaluate(submission, ground_truth, args.dataset,
                               match_number=not args.partial,
                               verbose=args.verbose)
    except (SubmissionError, ValueError, KeyError, TypeError) as error:
        detail = (f'an entry of {args.pred} or {args.gt} lacks the key {error}'
                  if isinstance(error, KeyError) else error)
        print(f'error: {detail}', file=sys.stderr)
        return 1
    print(format_table(brief))
    if args.out:
        dump_json(full, args.out)
        print(f'full metrics written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
