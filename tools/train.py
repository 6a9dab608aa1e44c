"""Train a model: ``python tools/train.py CONFIG [--work-dir D] [--amp] [--resume [CKPT]]``.

The flags follow ``mmdet/tools/train.py``. The run is checked before the
first step (config keys, every annotation and feature file, the evaluation's
ground truth, ``save_best``): a problem ends it with exit status 1 and a
message naming the file and line (or key). ``--resume`` continues a killed run
exactly as if it had not stopped (see :class:`sgdetr.engine.SGDETRRunner`).
A work dir that holds an earlier run's checkpoints is trained into only with
``--resume`` (continue it) or ``--overwrite`` (start over: they are removed).
"""
import argparse
import logging
import os
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.apis import load_tool_config, prepare_distributed
from sgdetr.apis.runtime import build_runner
from sgdetr.errors import DataError
from sgdetr.engine import CheckpointError, ConfigError, bf16_is_fast
from sgdetr.evaluation.submission import SubmissionError

#: errors reported as one message, without a traceback
USER_ERRORS = (ConfigError, DataError, CheckpointError, SubmissionError)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a moment retrieval / '
                                     'highlight detection model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true',
                        help='bfloat16 mixed-precision training (CPU and GPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the training step (MMEngine\'s `compile=True`; '
                        'the first steps compile, minutes)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest checkpoint '
        'in the work dir when no path is given')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='start over in a work dir that holds an earlier run: its checkpoints are '
        'removed (without this flag, or --resume, such a work dir is refused)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, e.g. '
        'train_dataloader.batch_size=32 model.detr_head.num_queries=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.overwrite and args.resume:
        parser.error('--overwrite starts over, --resume continues: give one of them')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    cfg = load_tool_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    if args.amp:
        cfg.optim_wrapper.type = 'BF16OptimWrapper'
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if not bf16_is_fast(device):
            print_log(f'--amp: this {device.upper()} computes bfloat16 matrix products by '
                      'emulation (no AVX-512 BF16 / AMX; GPUs before Ampere): training will '
                      'be slower than in float32', logger='current', level=logging.WARNING)
    if args.compile:
        cfg.compile = True
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise RuntimeError(f'{args.config}: --auto-scale-lr needs '
                               '`auto_scale_lr = dict(base_batch_size=...)`')
        cfg.auto_scale_lr.enable = True
    if args.overwrite:
        cfg.overwrite_work_dir = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        runner = build_runner(prepare_distributed(build_config(args), inference_only=False))
        runner.train()
    except USER_ERRORS as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
