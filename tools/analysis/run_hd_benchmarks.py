"""Train and evaluate a highlight benchmark domain by domain and print its table.

TVSum and YouTube-Highlights are reported per domain (category): one model per
domain, trained on its train videos, evaluated on its val videos (the test split
of these benchmarks) with the checkpoint of its best val epoch; then the mean.
Every domain of the config runs in turn (or those of ``--domains``), each in
``WORK_DIR/<domain>`` (checkpoints, logs, ``test_submission.jsonl``); the table
is written as ``WORK_DIR/hd_benchmark.{json,md}`` after every domain.

    python tools/analysis/run_hd_benchmarks.py configs/sgdetr_tvsum.py
    python tools/analysis/run_hd_benchmarks.py configs/sgdetr_youtube_highlights.py \\
        --domains dog skiing --work-dir work_dirs/yt --cfg-options train_cfg.max_epochs=50

Every requested domain is checked against the config and every annotation file
before the first run; a problem ends the tool with exit status 1 and a message.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.apis import load_tool_config
from sgdetr.apis.benchmark_config import check_domains_present, select_domains
from sgdetr.apis.highlight_benchmarks import format_markdown, run_benchmark, write_table
from sgdetr.errors import DataError
from sgdetr.engine import CheckpointError, ConfigError
from sgdetr.evaluation.submission import SubmissionError

#: errors reported as one message, without a traceback (as tools/train.py)
USER_ERRORS = (ConfigError, DataError, CheckpointError, SubmissionError)
TABLE_NAME = 'hd_benchmark'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a highlight benchmark config '
                        '(configs/sgdetr_tvsum.py, configs/sgdetr_youtube_highlights.py)')
    parser.add_argument('--domains', nargs='+', help='run these domains only '
                        '(default: all domains of the config)')
    parser.add_argument('--work-dir', help='where the runs and the table go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config for every domain, e.g. '
                        'train_cfg.max_epochs=50')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        for key in args.cfg_options or {}:
            if key in ('domain', 'domains'):
                raise ConfigError(f'--cfg-options {key}=...: choose the domains with '
                                  '--domains')
        cfg = load_tool_config(args.config, cfg_options=args.cfg_options,
                               work_dir=args.work_dir)
        domains = select_domains(cfg, args.domains)
        check_domains_present(cfg, domains)
        os.makedirs(cfg.work_dir, exist_ok=True)
        paths = [osp.join(cfg.work_dir, f'{TABLE_NAME}.{ext}') for ext in ('json', 'md')]
        table = run_benchmark(cfg, domains, cfg.work_dir,
                              on_domain=lambda table: write_table(table, *paths))
    except USER_ERRORS as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(f'\n{osp.basename(args.config)}: {table["metric"]} per domain '
          f'(mean over the {len(table["domains"])} domains run)\n')
    print(format_markdown(table))
    print(f'\nwritten to {paths[0]} and {paths[1]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
