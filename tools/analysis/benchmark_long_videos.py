"""Whole-video inference against the released truncation on long videos.

    python tools/analysis/benchmark_long_videos.py configs/sgdetr_demo.py CKPT \
        [--data-root data/synthetic] [--k 1 2 4 8 16] [--out work_dirs/long_videos]

For each K, joins the val split's videos K at a time
(``tools/data/make_long_videos.py``), evaluates the checkpoint on the long
videos with the config's whole-video inference and with the released
truncation (``model.test_cfg.whole_video=False``), and prints MR mAP,
R1@0.5, R1@0.7, HD mAP and HIT@1 (VeryGood) with the seconds per query. Then
times one query against video length (``--lengths``, clips of 2 s) through
:class:`sgdetr.apis.MomentPredictor`. Everything printed was measured on this
machine.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import time

import numpy as np
import torch
from mmengine.config import Config

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.apis import MomentPredictor, build_runner, cpu_name, use_cpu_collectives

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = ('MR-full-mAP', 'MR-full-R1@0.5', 'MR-full-R1@0.7', 'HL-min-VeryGood-mAP',
        'HL-min-VeryGood-Hit1')
ANN = 'annotations/highlight_val_release.jsonl'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', default='data/synthetic')
    parser.add_argument('--k', type=int, nargs='+', default=[1, 2, 4, 8, 16])
    parser.add_argument('--lengths', type=int, nargs='*', default=[75, 300, 900, 1800, 3600],
                        help='video lengths (clips) to time; none skips the timing')
    parser.add_argument('--truncation', action=argparse.BooleanOptionalAction, default=True,
                        help='also evaluate the released truncation')
    parser.add_argument('--queries', type=int, default=1, help='queries per timed video')
    parser.add_argument('--out', default='work_dirs/long_videos')
    parser.add_argument('--cfg-options', nargs='*', default=[],
                        help='key=value pairs merged into the config (e.g. model.test_cfg...)')
    return parser.parse_args()


def parse_options(pairs):
    options = {}
    for pair in pairs:
        key, value = pair.split('=', 1)
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def evaluate(args, root, whole_video, work_dir):
    cfg = use_cpu_collectives(Config.fromfile(args.config))
    cfg.merge_from_dict(parse_options(args.cfg_options))
    cfg.work_dir = work_dir
    cfg.val_dataloader.dataset.data_root = root.rstrip('/') + '/'
    cfg.val_evaluator.ann_file = osp.join(root, ANN)
    cfg.model.test_cfg = dict(cfg.model.get('test_cfg') or {}, whole_video=whole_video)
    cfg.load_from = args.checkpoint
    cfg.default_hooks.checkpoint = None
    cfg.train_dataloader = cfg.train_cfg = cfg.optim_wrapper = cfg.param_scheduler = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    runner = build_runner(cfg)
    start = time.perf_counter()
    metrics = runner.val()
    seconds = time.perf_counter() - start
    queries = sum(1 for _ in open(osp.join(root, ANN)))
    return {k: metrics[k] for k in KEYS if k in metrics}, seconds / queries


def long_video_table(args):
    rows = []
    for k in args.k:
        root = args.data_root if k == 1 else osp.join(args.out, f'data_k{k}')
        if k > 1 and not osp.exists(osp.join(root, ANN)):
            subprocess.run([sys.executable, osp.join(REPO, 'tools', 'data', 'make_long_videos.py'),
                            '--data-root', args.data_root, '--ann-file', ANN, '--out-dir', root,
                            '-k', str(k)], check=True, stdout=subprocess.DEVNULL)
        lengths = [r['duration'] for r in map(json.loads, open(osp.join(root, ANN)))]
        for whole in (True, False) if args.truncation else (True,):
            metrics, per_query = evaluate(args, root, whole,
                                          osp.join(args.out, f'k{k}_{"whole" if whole else "trunc"}'))
            rows.append(dict(k=k, mean_minutes=float(np.mean(lengths)) / 60,
                             inference='whole video' if whole else 'truncated (released)',
                             seconds_per_query=per_query, **metrics))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def timing_table(args):
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(parse_options(args.cfg_options))
    predictor = MomentPredictor(cfg, args.checkpoint)
    dataset = cfg.test_dataloader.dataset
    video_dim, text_dim = dataset.video_dim, dataset.text_dim
    rng = np.random.default_rng(0)
    rows = []
    for length in args.lengths:
        video = rng.normal(size=(length, video_dim)).astype(np.float32)
        texts = [rng.normal(size=(20, text_dim)).astype(np.float32) for _ in range(args.queries)]
        samples = [predictor.prepare(video, t, duration=length * 2.0) for t in texts]
        predictor.run(samples[:1])  # warm-up
        start = time.perf_counter()
        predictor.run([predictor.prepare(video, t, duration=length * 2.0) for t in texts])
        seconds = time.perf_counter() - start
        rows.append(dict(clips=length, minutes=length * 2.0 / 60,
                         seconds_per_query=seconds / args.queries))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main():
    args = parse_args()
    torch.set_num_threads(torch.get_num_threads())
    print(f'CPU: {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}')
    rows = long_video_table(args)
    timings = timing_table(args)
    print('\n| K | mean length | inference | MR mAP | R1@0.5 | R1@0.7 | HD mAP | HIT@1 | s / query |')
    print('|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['k']} | {r['mean_minutes']:.1f} min | {r['inference']} | "
              + ' | '.join(f"{r.get(k, float('nan')):.2f}" for k in KEYS)
              + f" | {r['seconds_per_query']:.3f} |")
    print('\n| video | clips | s / query |')
    print('|---|---|---|')
    for t in timings:
        print(f"| {t['minutes']:.1f} min | {t['clips']} | {t['seconds_per_query']:.3f} |")
    with open(osp.join(args.out, 'long_videos.json'), 'w') as handle:
        json.dump(dict(cpu=cpu_name(), long_videos=rows, timing=timings), handle, indent=2)


if __name__ == '__main__':
    main()
