"""Train a config with N seeds, evaluate each run, report mean +- std.

    python tools/analysis/run_seeds.py CONFIG --seeds N [--first-seed S] \\
        [--work-dir D] [--launcher pytorch --gpus G] [--split auto|test|val] \\
        [--checkpoint best|last] [--out seeds.json] [--cfg-options ...]

Seed ``S + i`` trains in ``D/seed_{S+i}`` (``D`` defaults to
``work_dirs/<config name>_seeds``): in this process one after the other, or
with ``--launcher pytorch`` through ``tools/dist_train.sh`` on G GPUs. Each
run's checkpoint (the best one its ``save_best`` kept, else the last) is then
evaluated with the test loop: on the test split when its annotation file has
ground truth (``--split auto``, the default), else on the validation split.
The key metrics of the paper's tables (QVHighlights: MR R1@0.5, R1@0.7,
mAP@0.5, mAP@0.75, mAP, HD mAP and HIT@1; Charades-STA / TACoS: R1@0.3/0.5/0.7
and mIoU) are printed as mean +- standard deviation over the seeds (sample
standard deviation, ddof=1) and written, with every run's metrics, as JSON to
``--out`` (default ``D/seeds.json``).
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

from mmengine.config import DictAction

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.apis import load_tool_config
from sgdetr.apis.experiments import (STD_DDOF, choose_split, evaluate_checkpoint,
                                     format_summary, key_metric_names, run_checkpoint,
                                     summarize, train_run)
from sgdetr.errors import DataError
from sgdetr.engine import CheckpointError, ConfigError
from sgdetr.evaluation.submission import SubmissionError, dump_json

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
USER_ERRORS = (ConfigError, DataError, CheckpointError, SubmissionError, FileNotFoundError)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--seeds', type=int, required=True, help='number of runs')
    parser.add_argument('--first-seed', type=int, default=0,
                        help='seed of the first run (the others follow)')
    parser.add_argument('--work-dir', help='parent of the seed_<s> run dirs')
    parser.add_argument('--split', choices=['auto', 'test', 'val'], default='auto',
                        help='evaluated split (auto: test when it has ground truth)')
    parser.add_argument('--checkpoint', choices=['best', 'last'], default='best',
                        help='checkpoint of each run that is evaluated')
    parser.add_argument('--out', help='JSON summary (default WORK_DIR/seeds.json)')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: train each seed with tools/dist_train.sh')
    parser.add_argument('--gpus', type=int, default=1, help='processes per run (pytorch)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='override settings of the config (every run), as '
                        'in tools/train.py')
    args = parser.parse_args(argv)
    args.options = parse_cfg_options(args.cfg_options)
    if args.seeds < 1:
        parser.error('--seeds must be at least 1')
    return args


def parse_cfg_options(words) -> dict:
    """``--cfg-options`` words as MMEngine's tools parse them."""
    namespace = argparse.Namespace(options=None)
    if words:
        DictAction(option_strings=[], dest='options')(None, namespace, words)
    return namespace.options or {}


def train_distributed(args, seed: int, work_dir: str) -> None:
    """One run through tools/dist_train.sh (``--gpus`` processes)."""
    command = ['bash', osp.join(TOOLS, 'dist_train.sh'), args.config, str(args.gpus),
               '--work-dir', work_dir, '--cfg-options', *args.cfg_options,
               f'randomness.seed={seed}']
    env = dict(os.environ, PYTHON=os.environ.get('PYTHON', sys.executable))
    subprocess.run(command, check=True, env=env)


def run_seed(args, seed: int, work_dir: str, split: str, stamp: str) -> dict:
    """Train seed ``seed`` into ``work_dir`` and evaluate it on ``split``."""
    cfg = load_tool_config(args.config, 'none', args.options, work_dir)
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    # one logger / visualizer instance per runner: MMEngine keys them by name
    name = f'{osp.splitext(osp.basename(args.config))[0]}_seed{seed}_{stamp}'
    if args.launcher == 'pytorch':
        train_distributed(args, seed, work_dir)
    else:
        cfg.experiment_name = f'{name}_train'
        train_run(cfg)
    checkpoint = run_checkpoint(work_dir, cfg, args.checkpoint)
    metrics = evaluate_checkpoint(cfg, checkpoint, split, work_dir, f'{name}_{split}')
    return dict(seed=seed, work_dir=work_dir, checkpoint=checkpoint, metrics=metrics)


def main(argv=None) -> int:
    args = parse_args(argv)
    config_name = osp.splitext(osp.basename(args.config))[0]
    root = args.work_dir or osp.join('work_dirs', f'{config_name}_seeds')
    out = args.out or osp.join(root, 'seeds.json')
    try:
        split = choose_split(load_tool_config(args.config, 'none', args.options, root),
                             args.split)
        runs, stamp = [], time.strftime('%Y%m%d_%H%M%S')
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs.append(run_seed(args, seed, osp.join(root, f'seed_{seed}'), split, stamp))
        names = key_metric_names(runs[0]['metrics'])
        summary = summarize([run['metrics'] for run in runs], names)
    except USER_ERRORS as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    report = dict(config=args.config, split=split, checkpoint=args.checkpoint,
                  seeds=[run['seed'] for run in runs], std_ddof=STD_DDOF,
                  summary=summary, runs=runs)
    dump_json(report, out)
    print(f'\n{config_name}: seeds {report["seeds"]}, {split} split, '
          f'{args.checkpoint} checkpoints (mean +- std, ddof={STD_DDOF})')
    print(format_summary(summary))
    print(f'written to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
