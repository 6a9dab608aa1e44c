"""Time SG-DETR training steps and inference on this machine.

    python tools/analysis/benchmark.py [--config configs/sgdetr_qvh.py]
        [--batch-size 32] [--num-clips 75] [--num-tokens 32] [--iters 10]
        [--warmup 2] [--threads N] [--device cpu|cuda]
        [--variants [no_atss no_denoising detr_only]] [--json OUT]

The model is the config's, with its feature dims (``video_dim`` /
``text_dim`` of its dataset) and hidden size, fed random inputs of the
requested shape: every video ``--num-clips`` clips long (QVHighlights: 75
clips of 2 s), every query ``--num-tokens`` tokens, features L2-normalised
per clip / token as the datasets deliver them, 1-3 disjoint GT windows per
sample and graded 3-annotator saliency (0-4, peaking mid-window).

* training step: ``model.train_step`` with the config's optimiser wrapper
  (padding, forward with every loss, backward, gradient clipping, optimiser
  step);
* inference: ``model.test_step`` (padding, forward, span fusion and window
  selection), reported as queries per second.

Each time is the median of ``--iters`` timed iterations after ``--warmup``
untimed ones; the variants take turns iteration by iteration, so that other
work on the machine slows them alike.  ``--variants`` also times the model without the ATSS head
and its decoder query group (``no_atss``: ``atss_head=None, fusion=None``),
without the denoising query groups (``no_denoising``), or without both
(``detr_only``), to show what the hybrid head and the extra query groups
cost: both are training-only apart from the ATSS head's forward and the
span fusion at inference.

The numbers describe the machine the script runs on (printed with them):
CPU model, thread count and torch version, or the GPU.
"""
import argparse
import copy
import json
import os
import platform
import statistics
import time
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import sgdetr  # noqa: F401  (registers every component)
from sgdetr.apis import cpu_name
from sgdetr.registry import MODELS
from sgdetr.structures import MomentDataSample

DEFAULT_CONFIG = 'configs/sgdetr_qvh.py'
CLIP_LEN = 2.0
NUM_ANNOTATORS = 3
#: model overrides of each variant; 'full' is the config as it is
VARIANTS: Dict[str, dict] = {
    'full': {},
    'no_atss': dict(atss_head=None, fusion=None),
    'no_denoising': dict(detr_head=dict(denoising=None)),
    'detr_only': dict(atss_head=None, fusion=None, detr_head=dict(denoising=None)),
}
DEFAULT_EXTRA_VARIANTS = ['no_atss', 'no_denoising']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-clips', type=int, default=75,
                        help='clips per video (every video of the batch)')
    parser.add_argument('--num-tokens', type=int, default=32,
                        help='tokens per query')
    parser.add_argument('--iters', type=int, default=10,
                        help='timed iterations (the median is reported)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed iterations before timing')
    parser.add_argument('--threads', type=int,
                        help='torch intra-op threads (default: torch decides)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--variants', nargs='*', choices=[v for v in VARIANTS if v != 'full'],
                        help='also time these variants; the flag alone means '
                        f'{" ".join(DEFAULT_EXTRA_VARIANTS)}')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', metavar='OUT', help='also write the results here')
    args = parser.parse_args(argv)
    if args.variants is not None and not args.variants:
        args.variants = list(DEFAULT_EXTRA_VARIANTS)
    if min(args.batch_size, args.num_clips, args.num_tokens, args.iters) < 1:
        parser.error('--batch-size, --num-clips, --num-tokens and --iters must be >= 1')
    if args.num_clips < 4:
        parser.error('--num-clips must be >= 4 (room for 1-3 GT windows)')
    return args


# -- machine -------------------------------------------------------------------
def machine_info(device: torch.device) -> dict:
    info = dict(cpu=cpu_name(), logical_cpus=os.cpu_count(),
                torch_threads=torch.get_num_threads(),
                omp_num_threads=os.environ.get('OMP_NUM_THREADS'),
                torch=torch.__version__, python=platform.python_version(),
                platform=platform.platform(), device=str(device))
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    try:  # other work on the machine skews the numbers: record the load
        info['load_average_1min'] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


# -- inputs --------------------------------------------------------------------
def random_windows(num_clips: int, generator: torch.Generator) -> List[tuple]:
    """1-3 disjoint ``[first, end)`` clip ranges of at least 1 clip, each up
    to a third of the video (one per equal slot of the video)."""
    num_windows = int(torch.randint(1, 4, (), generator=generator))
    slot = num_clips // num_windows
    windows = []
    for index in range(num_windows):
        longest = max(1, min(slot - 1, num_clips // 3))
        length = int(torch.randint(1, longest + 1, (), generator=generator))
        first = index * slot + int(torch.randint(
            0, max(1, slot - length), (), generator=generator))
        windows.append((first, first + length))
    return windows


def graded_saliency(num_clips: int, windows: List[tuple],
                    generator: torch.Generator) -> torch.Tensor:
    """(L, 3) scores 0-4 on the window clips, peaking mid-window, with
    annotator disagreement; 0 elsewhere."""
    saliency = torch.zeros(num_clips, NUM_ANNOTATORS)
    for first, end in windows:
        position = (torch.arange(end - first) + 0.5) / (end - first)
        level = 1 + 3 * torch.sin(torch.pi * position)
        noise = 0.5 * torch.randn(end - first, NUM_ANNOTATORS, generator=generator)
        saliency[first:end] = (level[:, None] + noise).round().clamp(0, 4)
    return saliency


def random_batch(batch_size: int, num_clips: int, num_tokens: int, video_dim: int,
                 text_dim: int, generator: torch.Generator) -> dict:
    """A ``pseudo_collate``'d batch as the dataloader hands it to the model."""
    def unit_rows(rows: int, dim: int) -> torch.Tensor:
        return torch.nn.functional.normalize(
            torch.randn(rows, dim, generator=generator), dim=-1)

    inputs = dict(video=[], text=[], neg_text=[])
    data_samples = []
    timeline = num_clips * CLIP_LEN
    for index in range(batch_size):
        inputs['video'].append(unit_rows(num_clips, video_dim))
        inputs['text'].append(unit_rows(num_tokens, text_dim))
        inputs['neg_text'].append(unit_rows(num_tokens, text_dim))
        windows = random_windows(num_clips, generator)
        sample = MomentDataSample(metainfo=dict(
            qid=index, vid=f'video{index}', query='', duration=timeline,
            clip_len=CLIP_LEN, num_clips=num_clips, timeline=timeline))
        spans = torch.tensor(windows, dtype=torch.float32) / num_clips
        sample.gt_instances = InstanceData(
            spans=spans, labels=torch.zeros(len(spans), dtype=torch.long))
        sample.gt_saliency = graded_saliency(num_clips, windows, generator)
        data_samples.append(sample)
    return dict(inputs=inputs, data_samples=data_samples)


# -- timing --------------------------------------------------------------------
class DecoderQueryCounter:
    """Records the number of queries per sample the DETR decoder runs on
    (matching queries plus any training-only query groups)."""

    def __init__(self, model):
        self.counts: List[int] = []
        model.detr_head.decoder.register_forward_pre_hook(self._record)

    def _record(self, module, args):
        self.counts.append(args[0].shape[1])  # query: (B, T, H)

    def take_mean(self) -> Optional[float]:
        counts, self.counts = self.counts, []
        return statistics.mean(counts) if counts else None


def build_variant(cfg: Config, overrides: dict, seed: int, device: torch.device):
    """The config's model with ``overrides`` merged, and its optimiser wrapper."""
    model_cfg = Config(dict(model=copy.deepcopy(cfg.model)))
    model_cfg.merge_from_dict(dict(model=overrides))
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg.model).to(device)
    return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def time_round_robin(steps: Dict[str, Callable[[], object]], iters: int,
                     warmup: int, device: torch.device) -> Dict[str, List[float]]:
    """Seconds of ``iters`` calls of every step after ``warmup`` calls each.

    The variants take turns, one call at a time, so that a change of load on
    the machine during the run affects all of them alike.
    """
    def synchronise():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    seconds = {name: [] for name in steps}
    for iteration in range(warmup + iters):
        for name, step in steps.items():
            synchronise()
            start = time.perf_counter()
            step()
            synchronise()
            if iteration >= warmup:
                seconds[name].append(time.perf_counter() - start)
    return seconds


def benchmark(cfg: Config, variants: List[str], data: dict, args,
              device: torch.device) -> Dict[str, dict]:
    models, optim_wrappers, counters = {}, {}, {}
    for name in variants:
        models[name], optim_wrappers[name] = build_variant(
            cfg, VARIANTS[name], args.seed, device)
        counters[name] = DecoderQueryCounter(models[name])

    for model in models.values():
        model.train()
    train_seconds = time_round_robin(
        {name: (lambda m=models[name], o=optim_wrappers[name]: m.train_step(data, o))
         for name in variants}, args.iters, args.warmup, device)
    train_queries = {name: counters[name].take_mean() for name in variants}

    for model in models.values():
        model.eval()
    with torch.no_grad():
        test_seconds = time_round_robin(
            {name: (lambda m=models[name]: m.test_step(data)) for name in variants},
            args.iters, args.warmup, device)
    test_queries = {name: counters[name].take_mean() for name in variants}

    results = {}
    for name in variants:
        train_median = statistics.median(train_seconds[name])
        test_median = statistics.median(test_seconds[name])
        results[name] = dict(
            overrides=VARIANTS[name],
            parameters=sum(p.numel() for p in models[name].parameters()),
            decoder_queries_train=train_queries[name],
            decoder_queries_test=test_queries[name],
            train_step_seconds=train_seconds[name], train_step_median_s=train_median,
            train_samples_per_s=args.batch_size / train_median,
            inference_batch_seconds=test_seconds[name],
            inference_batch_median_s=test_median,
            inference_queries_per_s=args.batch_size / test_median)
    return results


# -- report --------------------------------------------------------------------
def format_report(machine: dict, settings: dict, results: Dict[str, dict]) -> str:
    where = (f'GPU {machine["gpu"]}' if 'gpu' in machine else
             f'CPU {machine["cpu"]} ({machine["logical_cpus"]} logical CPUs), '
             f'{machine["torch_threads"]} torch thread(s), OMP_NUM_THREADS='
             f'{machine["omp_num_threads"] or "unset"}')
    lines = [
        f'Measured on this machine: {where}; torch {machine["torch"]}, '
        f'python {machine["python"]}, 1-min load average '
        f'{machine.get("load_average_1min", "n/a")}.',
        f'{settings["config"]}: video_dim {settings["video_dim"]}, text_dim '
        f'{settings["text_dim"]}, hidden {settings["hidden_dim"]}; batch '
        f'{settings["batch_size"]}, {settings["num_clips"]} clips, '
        f'{settings["num_tokens"]} tokens; median of {settings["iters"]} '
        f'iterations after {settings["warmup"]} warm-up.',
        '',
    ]
    header = (f'{"variant":<13} {"params":>10} {"decoder q/sample":>17} '
              f'{"train step ms":>14} {"train samples/s":>16} '
              f'{"infer ms/batch":>15} {"queries/s":>10}')
    lines += [header, '-' * len(header)]
    for name, result in results.items():
        queries = (f'{result["decoder_queries_train"]:.0f} / '
                   f'{result["decoder_queries_test"]:.0f}')
        lines.append(
            f'{name:<13} {result["parameters"]:>10,} {queries:>17} '
            f'{1000 * result["train_step_median_s"]:>14.1f} '
            f'{result["train_samples_per_s"]:>16.1f} '
            f'{1000 * result["inference_batch_median_s"]:>15.1f} '
            f'{result["inference_queries_per_s"]:>10.1f}')
    full = results['full']
    relative = []
    for name, what in (('no_atss', 'the ATSS head and its query group'),
                       ('no_denoising', 'the denoising query groups'),
                       ('detr_only', 'both')):
        if name not in results:
            continue
        train = full['train_step_median_s'] - results[name]['train_step_median_s']
        test = full['inference_batch_median_s'] - results[name]['inference_batch_median_s']
        relative.append(
            f'  {what}: training {1000 * train:+.1f} ms/step '
            f'({100 * train / results[name]["train_step_median_s"]:+.0f} %), '
            f'inference {1000 * test:+.1f} ms/batch '
            f'({100 * test / results[name]["inference_batch_median_s"]:+.0f} %)')
    if relative:
        lines += ['', 'Cost in the full model of (full minus variant):'] + relative
        lines.append('  (denoising groups exist in training only; at inference the '
                     'ATSS head adds its forward and the span fusion)')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'sgdetr'))
    encoder = cfg.model.encoder
    settings = dict(config=args.config, video_dim=encoder.video_dim,
                    text_dim=encoder.text_dim,
                    hidden_dim=encoder.get('embed_dims', 256),
                    batch_size=args.batch_size, num_clips=args.num_clips,
                    num_tokens=args.num_tokens, iters=args.iters,
                    warmup=args.warmup, seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    data = random_batch(args.batch_size, args.num_clips, args.num_tokens,
                        encoder.video_dim, encoder.text_dim, generator)

    results = benchmark(cfg, ['full'] + (args.variants or []), data, args, device)
    machine = machine_info(device)
    print(format_report(machine, settings, results))
    report = dict(machine=machine, settings=settings, results=results)
    if args.json:
        directory = os.path.dirname(args.json)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'\nresults written to {args.json}')
    return report


if __name__ == '__main__':
    main()
