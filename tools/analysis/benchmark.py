"""Time SG-DETR training and inference on this machine, with batches shaped like real data.

    python tools/analysis/benchmark.py [--config configs/sgdetr_qvh.py]
        [--batch-sizes 32 64 128] [--precisions fp32 bf16] [--iters 5] [--warmup 1]
        [--device cpu|cuda] [--compile] [--annotations ANN.jsonl] [--infer-batch 32]
        [--threads N] [--json OUT]

Batches: every sample takes the windows, duration, saliency and query length
of a random query of ``--annotations`` (default: QVHighlights train from
``../shared/data/annotations`` when present, else a generator with its
statistics: up to 24 windows per query, 1 for two thirds of them), with random
L2-normalised features of the config's dims; they go through the config's own
training pipeline, data preprocessor and ``model.train_step`` (optimiser
wrapper of the config: AdamW, gradient clipping), so padding, targets, query
groups and every loss are those of a real run.

For each batch size and precision (``bf16`` = autocast, as ``tools/train.py
--amp``) a fresh process reports: the median training step and samples/s,
the process's peak RSS (and on CUDA the peak allocated GPU memory), the FLOPs
of one step (``torch.utils.flop_counter``) and the achieved GFLOP/s next to the
device's measured matrix-product peak, and inference queries/s
(``model.test_step`` on ``--infer-batch`` queries). ``--device cuda`` runs it on
the GPU (timings synchronised); ``--compile`` wraps ``train_step`` and
``test_step`` in ``torch.compile`` as MMEngine's ``compile=True`` does (the
warm-up steps compile: give ``--warmup 3`` or more).

``--long-video CLIPS [CLIPS ...]`` instead times whole-video inference in a
fresh process per length: one video of CLIPS clips with ``--long-queries``
queries through :class:`sgdetr.apis.MomentPredictor` (the config's test
pipeline: overlapping windows of the trained length, batched, merged), its
seconds and the process's peak RSS.

The numbers describe the machine the script runs on (printed with them); other
work on the machine slows every step: run it on an idle machine.
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(REPO, 'configs', 'sgdetr_qvh.py')
DEFAULT_ANNOTATIONS = osp.join(REPO, '..', 'shared', 'data', 'annotations', 'qvhighlights',
                               'highlight_train_release.jsonl')
#: QVHighlights train (7218 queries): how many queries have 1, 2, ... 24 windows
WINDOW_COUNTS = {1: 4855, 2: 1230, 3: 466, 4: 266, 5: 140, 6: 81, 7: 55, 8: 40, 9: 27, 10: 8,
                 11: 6, 12: 6, 14: 7, 15: 2, 16: 6, 17: 5, 18: 6, 19: 1, 20: 3, 21: 3, 22: 1,
                 23: 3, 24: 1}
#: deciles of its window lengths (s) and of its query lengths (words)
WINDOW_LENGTH_DECILES = (2, 6, 8, 12, 16, 22, 26, 34, 54, 150)
QUERY_WORD_DECILES = (6, 7, 8, 9, 10, 11, 12, 13, 16, 44)
#: a peer measured on these machines (Lighthouse's CG-DETR, batch 32, 75 clips, 20 tokens)
PEER = dict(name="CG-DETR", train_step_s=(1.35, 1.77), queries_per_s=(117, 157))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[32, 64, 128])
    parser.add_argument('--precisions', nargs='+', choices=['fp32', 'bf16'],
                        help='default: fp32, and bf16 where the CPU computes it natively '
                        '(emulated bfloat16 is orders of magnitude slower)')
    parser.add_argument('--iters', type=int, default=5, help='timed steps (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps first')
    parser.add_argument('--annotations', default=None,
                        help='JSON lines to draw the batches from (default: QVHighlights train '
                        'when present, else its statistics)')
    parser.add_argument('--infer-batch', type=int, default=32)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'],
                        help='where the model runs')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile train_step and test_step')
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP count')
    parser.add_argument('--threads', type=int, help='torch threads (default: torch decides)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', metavar='OUT', help='also write the results here')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='model overrides, key=value (e.g. model.encoder.embed_dims=32)')
    parser.add_argument('--long-video', type=int, nargs='+', metavar='CLIPS',
                        help='time whole-video inference on videos of these lengths instead')
    parser.add_argument('--long-queries', type=int, default=10,
                        help='queries per video with --long-video')
    parser.add_argument('--worker', nargs=2, metavar=('BATCH', 'PRECISION'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.batch_sizes + [args.iters, args.infer_batch]) < 1:
        parser.error('batch sizes, --iters and --infer-batch must be >= 1')
    return args


# -- inputs --------------------------------------------------------------------
def load_annotations(path: Optional[str]) -> Optional[List[dict]]:
    path = path or (DEFAULT_ANNOTATIONS if osp.exists(DEFAULT_ANNOTATIONS) else None)
    if path is None:
        return None
    from sgdetr.evaluation.submission import load_jsonl
    return [a for a in load_jsonl(path) if a.get('relevant_windows')]


def _from_deciles(deciles, rng: np.random.Generator) -> float:
    """A draw between consecutive deciles (piecewise uniform)."""
    low = np.concatenate([[deciles[0] / 2], deciles[:-1]])
    index = rng.integers(len(deciles))
    return float(rng.uniform(low[index], deciles[index]))


def synthetic_annotation(rng: np.random.Generator, qid: int) -> dict:
    """A QVHighlights-like query: 150 s video, windows of its count and length statistics."""
    counts, weights = zip(*WINDOW_COUNTS.items())
    count = int(rng.choice(counts, p=np.array(weights) / sum(weights)))
    windows, free = [], [(0.0, 150.0)]
    for _ in range(count):
        if not free:
            break
        length = 2 * max(1, round(_from_deciles(WINDOW_LENGTH_DECILES, rng) / 2))
        room = [(s, e) for s, e in free if e - s >= length] or [max(free, key=lambda f: f[1] - f[0])]
        start, end = room[rng.integers(len(room))]
        length = min(length, end - start)
        if length < 2:
            break
        first = start + 2 * rng.integers(0, int((end - start - length) // 2) + 1)
        windows.append([first, first + length])
        free.remove((start, end))
        free += [f for f in ((start, first), (first + length, end)) if f[1] > f[0]]
    windows.sort()
    clips = sorted({c for s, e in windows for c in range(int(s // 2), int(e // 2))})
    words = round(_from_deciles(QUERY_WORD_DECILES, rng))
    return dict(qid=qid, vid=f'video{qid}_0.0_150.0', query=' '.join(['w'] * words),
                duration=150, relevant_windows=windows, relevant_clip_ids=clips,
                saliency_scores=rng.integers(0, 5, (len(clips), 3)).tolist())


def make_samples(cfg, annotations: Optional[List[dict]], count: int, rng: np.random.Generator,
                 test: bool = False) -> List[dict]:
    """``count`` samples through the config's own pipeline, with random features."""
    from mmcv.transforms import Compose

    from sgdetr.datasets.annotations import parse_annotation
    from sgdetr.datasets.features import l2_normalize
    from sgdetr.registry import TRANSFORMS
    loader = cfg.test_dataloader if test else cfg.train_dataloader
    dataset = loader.dataset
    pipeline = Compose([TRANSFORMS.build(t) for t in dataset.pipeline])
    clip_len = dataset.get('clip_len', 2.0)
    video_dim, text_dim = dataset.video_dim, dataset.text_dim
    samples = []
    for i in range(count):
        raw = annotations[rng.integers(len(annotations))] if annotations else \
            synthetic_annotation(rng, i)
        record = parse_annotation(dict(raw, qid=i, vid=f'{raw["vid"]}#{i}'), 'benchmark',
                                  clip_len, 0.5)
        num_clips = max(1, math.ceil(record['duration'] / clip_len - 1e-6))
        tokens = min(40, len(str(raw.get('query', '')).split()) + 2)
        record.update(
            video=l2_normalize(rng.standard_normal((num_clips, video_dim)).astype(np.float32)),
            text=l2_normalize(rng.standard_normal((tokens, text_dim)).astype(np.float32)),
            clip_len=clip_len, num_clips=num_clips)
        samples.append(pipeline(record))
    return samples


# -- worker ---------------------------------------------------------------------
def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def matmul_peak(dtype: torch.dtype, max_size: int = 2048, iters: int = 5,
                budget_s: float = 0.5, device: str = 'cpu') -> float:
    """GFLOP/s of a square matrix product in ``dtype`` on this machine.

    The size doubles from 256 up to ``max_size`` while one product takes less
    than ``budget_s`` (emulated bfloat16 can be 100x slower than float32)."""
    size = 256
    while True:
        a = torch.randn(size, size, dtype=dtype, device=device)
        b = torch.randn(size, size, dtype=dtype, device=device)
        a @ b  # first call: kernel selection
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        once = time.perf_counter() - start
        if size >= max_size or once > budget_s / 8:
            break
        size *= 2
    reps = max(1, min(iters, int(budget_s / max(once, 1e-9))))
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * size**3 * reps / (time.perf_counter() - start) / 1e9


def worker_setup(args):
    """Threads, seeds and the config (with ``--cfg-options``) of a worker process."""
    from mmengine.config import Config
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict({k: _literal(v) for k, v in (o.split('=', 1) for o in args.cfg_options)})
    return cfg, np.random.default_rng(args.seed)


def worker(args) -> dict:
    from mmengine.config import Config, DictAction  # noqa: F401
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import sgdetr  # noqa: F401  (registers every component)
    from sgdetr.registry import MODELS
    batch_size, precision = int(args.worker[0]), args.worker[1]
    cfg, rng = worker_setup(args)
    init_default_scope('sgdetr')
    annotations = load_annotations(args.annotations)
    device = args.device
    model = MODELS.build(cfg.model).to(device)
    if args.compile:  # as MMEngine's Runner does for compile=True
        model.train_step = torch.compile(model.train_step)
        model.test_step = torch.compile(model.test_step)
    optim_cfg = dict(cfg.optim_wrapper)
    if precision == 'bf16':
        optim_cfg['type'] = 'BF16OptimWrapper'
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    model.train()
    pool = make_samples(cfg, annotations, batch_size * 2, rng)
    batches = [pseudo_collate(pool[:batch_size]), pseudo_collate(pool[batch_size:])]
    times = []
    for i in range(args.warmup + args.iters):
        _sync(device)
        start = time.perf_counter()
        model.train_step(batches[i % 2], optim_wrapper)
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    step = statistics.median(times)
    result = dict(batch_size=batch_size, precision=precision, device=device,
                  compiled=args.compile, train_step_median_s=step,
                  train_step_min_s=min(times), train_samples_per_s=batch_size / step,
                  parameters=sum(p.numel() for p in model.parameters()),
                  windows_per_query=float(np.mean([len(s['data_samples'].gt_instances)
                                                   for s in pool])))
    if not args.no_flops and not args.compile:
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        with counter:
            model.train_step(batches[0], optim_wrapper)
        result['train_gflop_per_step'] = counter.get_total_flops() / 1e9
        result['train_gflop_per_s'] = result['train_gflop_per_step'] / step
    result['matmul_peak_gflop_per_s'] = matmul_peak(
        torch.bfloat16 if precision == 'bf16' else torch.float32, device=device)
    model.eval()
    test_batch = pseudo_collate(make_samples(cfg, annotations, args.infer_batch, rng, test=True))
    infer = []
    for i in range(args.warmup + args.iters):
        _sync(device)
        start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == 'bf16'):
            model.test_step(test_batch)
        _sync(device)
        if i >= args.warmup:
            infer.append(time.perf_counter() - start)
    result['inference_queries_per_s'] = args.infer_batch / statistics.median(infer)
    result['peak_rss_gb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if device == 'cuda':
        result['peak_gpu_memory_gb'] = torch.cuda.max_memory_allocated() / 2**30
        result['gpu'] = torch.cuda.get_device_name()
    return result


def long_video_worker(args) -> dict:
    """Seconds and peak RSS of one video's queries through the predictor."""
    from sgdetr.apis import MomentPredictor
    clips = int(args.worker[1])
    cfg, rng = worker_setup(args)
    predictor = MomentPredictor(cfg)
    dataset = cfg.test_dataloader.dataset
    video = rng.normal(size=(clips, dataset.video_dim)).astype(np.float32)
    queries = [rng.normal(size=(int(_from_deciles(QUERY_WORD_DECILES, rng)) + 2,
                                dataset.text_dim)).astype(np.float32)
               for _ in range(args.long_queries)]
    duration = clips * float(dataset.get('clip_len', 2.0))
    times = []
    for i in range(args.warmup + args.iters):
        start = time.perf_counter()
        samples = [predictor.prepare(video, text, duration) for text in queries]
        outputs = predictor.run(samples)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    assert all(len(o.pred_saliency) == clips for o in outputs)
    windows = len(samples[0]['data_samples']) if isinstance(samples[0]['data_samples'], list) else 1
    return dict(clips=clips, minutes=duration / 60, queries=args.long_queries,
                windows_per_query=windows, seconds_median=statistics.median(times),
                seconds_min=min(times),
                peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)


def _literal(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# -- driver --------------------------------------------------------------------
def machine_info() -> dict:
    from sgdetr.apis import cpu_name
    from sgdetr.engine import bf16_is_fast
    info = dict(cpu=cpu_name(), logical_cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                cpu_capability=torch.backends.cpu.get_cpu_capability(),
                native_bf16=bf16_is_fast('cpu'),
                torch=torch.__version__, python=platform.python_version())
    try:
        info['load_average_1min'] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def main(argv=None) -> Dict:
    args = parse_args(argv)
    if args.worker:
        run = long_video_worker if args.worker[0] == 'long' else worker
        print(json.dumps(run(args)))
        return {}
    argv = list(sys.argv[1:] if argv is None else argv)
    if args.long_video:
        return long_video_report(args, argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device here')
    if args.precisions is None:
        from sgdetr.engine import bf16_is_fast
        args.precisions = ['fp32', 'bf16'] if bf16_is_fast(args.device) else ['fp32']
        if 'bf16' not in args.precisions:
            print('bf16 skipped: this CPU has no native bfloat16 (AVX-512 BF16 / AMX); '
                  'pass --precisions bf16 to measure the emulation', flush=True)
    results = []
    for batch_size in args.batch_sizes:
        for precision in args.precisions:
            command = [sys.executable, osp.abspath(__file__)] + argv + [
                '--worker', str(batch_size), precision]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f'benchmark worker failed:\n{done.stderr[-3000:]}')
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = dict(machine=machine_info(), settings=dict(
        config=osp.relpath(args.config, REPO), iters=args.iters, warmup=args.warmup,
        infer_batch=args.infer_batch, device=args.device, compiled=args.compile,
        batches='annotations' if load_annotations(args.annotations) else 'statistics'),
        results=results)
    print_report(report)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return report


def long_video_report(args, argv) -> Dict:
    results = []
    for clips in args.long_video:
        command = [sys.executable, osp.abspath(__file__)] + argv + ['--worker', 'long', str(clips)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f'benchmark worker failed:\n{done.stderr[-3000:]}')
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = dict(machine=machine_info(), settings=dict(
        config=osp.relpath(args.config, REPO), iters=args.iters, warmup=args.warmup),
        long_video=results)
    m = report['machine']
    print(f"\nMeasured on this machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, "
          f"torch {m['torch']} ({m['torch_threads']} threads), kernels {m.get('cpu_capability')}, "
          f"load {m.get('load_average_1min')}; {report['settings']['config']}, float32, "
          f"median of {args.iters}\n")
    print(''.join(f'{h:>14}' for h in ('minutes', 'clips', 'queries', 'windows/query',
                                        'seconds', 'peak RSS GB')))
    for r in results:
        print(f"{r['minutes']:>14.1f}{r['clips']:>14}{r['queries']:>14}{r['windows_per_query']:>14}"
              f"{r['seconds_median']:>14.2f}{r['peak_rss_gb']:>14.2f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return report


def print_report(report: dict) -> None:
    m, s = report['machine'], report['settings']
    print(f"\nMeasured on this machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, "
          f"torch {m['torch']} ({m['torch_threads']} threads), load {m.get('load_average_1min')}")
    print(f"CPU kernels: {m.get('cpu_capability')}; native bfloat16 (AVX-512 BF16 / AMX): "
          f"{'yes' if m.get('native_bf16') else 'no, bf16 is emulated'}")
    gpu = report['results'][0].get('gpu') if report['results'] else None
    where = f"GPU {gpu}" if gpu else 'CPU'
    print(f"{s['config']} on the {where}{' (compiled)' if s.get('compiled') else ''}, "
          f"batches from {s['batches']}, median of {s['iters']} steps\n")
    header = ('batch', 'prec', 'step s', 'samples/s', 'GFLOP/step', 'GFLOP/s', 'peak',
              'infer q/s', 'peak RSS GB')
    print(''.join(f'{h:>12}' for h in header))
    for r in report['results']:
        flops = r.get('train_gflop_per_step', float('nan'))
        rate = r.get('train_gflop_per_s', float('nan'))
        print(f"{r['batch_size']:>12}{r['precision']:>12}{r['train_step_median_s']:>12.3f}"
              f"{r['train_samples_per_s']:>12.2f}{flops:>12.1f}{rate:>12.1f}"
              f"{r['matmul_peak_gflop_per_s']:>12.1f}{r['inference_queries_per_s']:>12.1f}"
              f"{r['peak_rss_gb']:>12.2f}"
              + (f"  GPU {r['peak_gpu_memory_gb']:.2f} GB" if 'peak_gpu_memory_gb' in r else ''))
    low, high = PEER['train_step_s']
    print(f"\n{PEER['name']} (measured on these machines at batch 32): {low}-{high} s per "
          f"training step, {PEER['queries_per_s'][0]}-{PEER['queries_per_s'][1]} queries/s")


if __name__ == '__main__':
    main()
