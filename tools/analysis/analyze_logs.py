"""Loss and metric curves, and training speed, from MMEngine's JSON logs.

    python tools/analysis/analyze_logs.py plot_curve LOG [LOG ...] [--keys loss MR-full-mAP]
        [--legend run_a run_b] [--title T] [--out curves.png]
    python tools/analysis/analyze_logs.py cal_train_time LOG [LOG ...] [--include-outliers]

``LOG``: a JSON log (``<work_dir>/<timestamp>/vis_data/scalars.json`` or
``<timestamp>.json`` beside it, written by MMEngine's ``LocalVisBackend``), a
``<timestamp>`` directory, or a work dir (its latest run). Training lines carry
``iter`` (and ``epoch``); validation lines carry the metrics, at ``step`` =
epoch (or iteration for iteration-based loops). ``plot_curve`` draws one panel
per key (training keys against the iteration, validation keys against the
epoch), one line per log; ``cal_train_time`` prints the average iteration time
of every epoch (the first logged window of each epoch, which holds the
data-loader start-up, is left out unless ``--include-outliers``).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, List

import numpy as np


def resolve_log(path: str) -> str:
    """The JSON log a file, run directory or work dir stands for."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise SystemExit(f'{path}: no such log file or directory')
    for pattern in ('vis_data/scalars.json', '*/vis_data/scalars.json',
                    'vis_data/*.json', '*/vis_data/*.json'):
        found = sorted(glob.glob(osp.join(path, pattern)))
        found = [f for f in found if not f.endswith('config.json')]
        if found:
            return found[-1]  # timestamps sort in time order
    raise SystemExit(f'{path}: no MMEngine JSON log (vis_data/scalars.json) found')


def load_log(path: str) -> Dict[str, list]:
    """``dict(path, train=[records], val=[records])`` of one JSON log."""
    path = resolve_log(path)
    train, val = [], []
    with open(path, encoding='utf-8') as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SystemExit(f'{path}:{number}: not JSON ({error.msg})') from error
            if not isinstance(record, dict) or 'step' not in record:
                continue
            (train if 'iter' in record else val).append(record)
    return dict(path=path, train=train, val=val)


def available_keys(log: Dict[str, list]) -> Dict[str, List[str]]:
    def keys(records):
        found = OrderedDict()
        for record in records:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ('step', 'epoch', 'iter'):
                    found[key] = None
        return list(found)
    return dict(train=keys(log['train']), val=keys(log['val']))


def curve(log: Dict[str, list], key: str):
    """(x, y, x label) of ``key``: training keys first, then validation keys."""
    for part, label in (('train', 'iteration'), ('val', 'epoch')):
        points = [(r['step'], r[key]) for r in log[part] if isinstance(r.get(key), (int, float))]
        if points:
            if part == 'val' and log['train'] and 'epoch' not in log['train'][0]:
                label = 'iteration'
            x, y = zip(*points)
            return np.asarray(x), np.asarray(y, dtype=float), label
    return None


def plot_curve(logs: List[Dict], keys: List[str], legend: List[str], title: str = '',
               out: str = 'curves.png', dpi: int = 120) -> str:
    from matplotlib.figure import Figure
    figure = Figure(figsize=(8, 2.6 * len(keys) + 0.4), layout='constrained')
    axes = figure.subplots(len(keys), 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys):
        found = False
        for log, name in zip(logs, legend):
            points = curve(log, key)
            if points is None:
                continue
            x, y, label = points
            ax.plot(x, y, marker='o' if len(x) < 30 else None, ms=3, lw=1.4, label=name)
            ax.set_xlabel(label)
            found = True
        if not found:
            names = {k for log in logs for part in available_keys(log).values() for k in part}
            raise SystemExit(f'no log has the key {key!r}; keys: {sorted(names)}')
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if len(logs) > 1:
            ax.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    import os
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    figure.savefig(out, dpi=dpi)
    return out


def train_time(log: Dict[str, list], include_outliers: bool = False) -> Dict:
    """Average iteration time per epoch (seconds), from the ``time`` of the
    training lines (each the mean over its logging window)."""
    epochs = OrderedDict()
    for record in log['train']:
        if isinstance(record.get('time'), (int, float)):
            epochs.setdefault(record.get('epoch', 1), []).append(float(record['time']))
    if not epochs:
        raise SystemExit(f'{log["path"]}: no training line with "time"')
    means = OrderedDict()
    for epoch, times in epochs.items():
        kept = times if include_outliers or len(times) == 1 else times[1:]
        means[epoch] = float(np.mean(kept))
    values = np.asarray(list(means.values()))
    slowest, fastest = max(means, key=means.get), min(means, key=means.get)
    return dict(per_epoch=means, slowest=(slowest, means[slowest]),
                fastest=(fastest, means[fastest]), std=float(values.std()),
                mean=float(values.mean()))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='loss / metric curves')
    plot.add_argument('logs', nargs='+')
    plot.add_argument('--keys', nargs='+', help='default: loss, and MR-full-mAP if logged')
    plot.add_argument('--legend', nargs='+', help='one name per log (default: run dirs)')
    plot.add_argument('--title', default='')
    plot.add_argument('--out', default='curves.png')
    plot.add_argument('--dpi', type=int, default=120)
    timing = commands.add_parser('cal_train_time', help='average iteration time per epoch')
    timing.add_argument('logs', nargs='+')
    timing.add_argument('--include-outliers', action='store_true',
                        help="keep each epoch's first logged window")
    return parser.parse_args(argv)


def _run_name(path: str) -> str:
    parts = osp.normpath(path).split(osp.sep)
    return parts[-3] if len(parts) >= 3 and parts[-2] == 'vis_data' else osp.basename(path)


def main(argv=None):
    args = parse_args(argv)
    logs = [load_log(path) for path in args.logs]
    if args.command == 'plot_curve':
        keys = args.keys
        if not keys:
            first = available_keys(logs[0])
            keys = [k for k in ('loss',) if k in first['train']] + [
                k for k in ('MR-full-mAP',) if k in first['val']]
            keys = keys or (first['train'] + first['val'])[:1]
        legend = args.legend or [_run_name(log['path']) for log in logs]
        if len(legend) != len(logs):
            raise SystemExit(f'{len(legend)} legend names for {len(logs)} logs')
        out = plot_curve(logs, keys, legend, args.title, args.out, args.dpi)
        print(f'{", ".join(keys)} of {len(logs)} log(s): {out}')
        return 0
    for log in logs:
        stats = train_time(log, args.include_outliers)
        print(f'-----Analyze train time of {log["path"]}-----')
        print(f'slowest epoch {stats["slowest"][0]}, average time is '
              f'{stats["slowest"][1]:.4f} s/iter')
        print(f'fastest epoch {stats["fastest"][0]}, average time is '
              f'{stats["fastest"][1]:.4f} s/iter')
        print(f'time std over epochs is {stats["std"]:.4f}')
        print(f'average iter time: {stats["mean"]:.4f} s/iter')
    return 0


if __name__ == '__main__':
    sys.exit(main())
