"""Evaluate a model and write benchmark submissions.

``python tools/test.py CONFIG [CKPT] [--submission-dir D] [--out preds.pkl] [--ann-file F]``

The flags follow ``mmdet/tools/test.py``. Without a checkpoint the model is
evaluated as built (parameter-free baselines need none). ``--submission-dir``
makes every evaluator that supports it write its official submission file
(``hl_val_submission.jsonl`` / ``hl_test_submission.jsonl``) there, and the
pair is zipped for the QVHighlights server when both exist.

``--ann-file`` reads the split from another annotation file, for the dataset
and every evaluator alike. A split whose file carries ground truth is scored
(and its submission still written when asked); one without it only gets the
submission. The QVHighlights test ground truth (``highlight_test_with_gt.jsonl``
of the Moment-DETR repository) is scored locally so::

    python tools/test.py CONFIG CKPT --split test \
        --ann-file data/qvhighlights/annotations/highlight_test_with_gt.jsonl

The checkpoint must fit the model exactly (a missing, unexpected or
mis-shaped tensor is an error listing them all), and a model with weights
needs one; the config, the split's annotation and feature files and the
evaluator's ground truth are checked before the first sample is predicted. A
problem ends the run with exit status 1 and a message, nothing written.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, ConfigDict, DictAction

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.apis import load_tool_config, prepare_distributed
from sgdetr.apis.benchmark_config import evaluator_list
from sgdetr.apis.runtime import build_runner
from sgdetr.errors import DataError
from sgdetr.engine import CheckpointError, ConfigError
from sgdetr.evaluation.submission import SubmissionError

#: errors reported as one message, without a traceback
USER_ERRORS = (ConfigError, DataError, CheckpointError, SubmissionError)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional for parameter-free models)')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl')
    parser.add_argument('--submission-dir',
                        help='write the official submission files here')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='run the test loop on the test split (default) or '
                        'on the validation split')
    parser.add_argument('--ann-file',
                        help='annotation file of the split, instead of the '
                        "config's (dataset and evaluators)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def use_annotation_file(cfg: Config, path: str) -> None:
    """Read the test loop's split from ``path``: the dataset and every
    evaluator that names an annotation file (absolute, so that the dataset's
    ``data_root`` is not prepended)."""
    if not osp.isfile(path):
        raise ConfigError(f'--ann-file {path}: no such file')
    path = osp.abspath(path)
    dataset = cfg.test_dataloader.dataset
    if 'ann_file' not in dataset:
        raise ConfigError(f'--ann-file: the test dataset ({dataset.get("type")}) '
                          'takes no ann_file')
    dataset.ann_file = path
    for evaluator in evaluator_list(cfg.test_evaluator):
        if 'ann_file' in evaluator:
            evaluator['ann_file'] = path


def build_config(args) -> Config:
    cfg = load_tool_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    # dist_test.sh passes 'none' for parameter-free models.
    cfg.load_from = None if args.checkpoint in (None, '', 'none') else args.checkpoint
    if args.split == 'val':
        cfg.test_dataloader = cfg.val_dataloader
        cfg.test_evaluator = cfg.val_evaluator
    if args.ann_file is not None:
        use_annotation_file(cfg, args.ann_file)
    if args.submission_dir is not None:
        for evaluator in evaluator_list(cfg.test_evaluator):
            evaluator['submission_dir'] = args.submission_dir
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        evaluators = evaluator_list(cfg.test_evaluator)
        evaluators.append(ConfigDict(type='DumpResults', out_file_path=args.out))
        cfg.test_evaluator = evaluators
    return cfg


def run(args):
    """Evaluate; returns the test metrics."""
    runner = build_runner(prepare_distributed(build_config(args), inference_only=True))
    if runner.cfg.get('load_from') is None and any(
            p.requires_grad for p in runner.model.parameters()):
        raise CheckpointError(
            f'{args.config}: the model has weights and no checkpoint was given: it would '
            'be evaluated with its random initial weights')
    metrics = runner.test()
    if args.submission_dir is not None:
        from sgdetr.evaluation import zip_submission_if_complete
        archive = zip_submission_if_complete(args.submission_dir)
        if archive is not None:
            runner.logger.info(f'submission archive written to {archive}')
    return metrics


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except USER_ERRORS as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
