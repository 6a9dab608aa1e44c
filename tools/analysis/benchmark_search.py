"""Measure library search: video corpus moment retrieval on a split, and the
first stage's latency and index size at 1k-100k videos.

    # VCMR as TVR defines it: the whole split is the corpus
    python tools/analysis/benchmark_search.py vcmr --config configs/sgdetr_demo.py \\
        --checkpoint work_dirs/demo/sgdetr/epoch_16.pth --work-dir work_dirs/search_bench
    # first-stage latency and index size on synthetic indexes of 20-minute videos
    python tools/analysis/benchmark_search.py scale --sizes 1000 10000 100000 \\
        --work-dir work_dirs/search_bench

``vcmr`` indexes the videos of the split (``--split``, val by default) and
answers each annotated query with its token features: R@1/10/100 at IoU 0.5
and 0.7 for each way of scoring moments, the first stage's video recall@N,
and the time per query of each stage. ``scale`` writes indexes of random
unit embeddings of the model's size (``--config``, default the released
``configs/sgdetr_qvh.py``: 256-d) with the segment layout of ``--minutes``
videos, and times the first stage (sentence token, matrix product,
candidates; ``MomentSearcher.first_stage``) of random queries. Both print
a markdown table and write ``--out`` (JSON).
"""
import argparse
import json
import os
import os.path as osp
import platform
import shutil
import statistics
import sys
import time

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('part', choices=('vcmr', 'scale'))
    parser.add_argument('--config', help='vcmr: required; scale: default configs/sgdetr_qvh.py')
    parser.add_argument('--checkpoint')
    parser.add_argument('--work-dir', default='work_dirs/search_bench')
    parser.add_argument('--out', help='JSON report (default WORK_DIR/<part>.json)')
    parser.add_argument('--segment-clips', type=int, help='clips per indexed segment '
                        "(default: MomentSearcher's)")
    vcmr = parser.add_argument_group('vcmr')
    vcmr.add_argument('--split', default='val')
    vcmr.add_argument('--data-root', help="override the config's data_root")
    vcmr.add_argument('--num-candidates', type=int, default=20)
    vcmr.add_argument('--recall-at', type=int, nargs='+', default=[1, 5, 10, 20, 50])
    vcmr.add_argument('--scores', nargs='+', default=['window*saliency', 'window', 'saliency'])
    vcmr.add_argument('--max-queries', type=int)
    scale = parser.add_argument_group('scale')
    scale.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000, 100000])
    scale.add_argument('--minutes', type=float, default=20.0)
    scale.add_argument('--queries', type=int, default=20)
    scale.add_argument('--keep', action='store_true', help='keep the synthetic indexes')
    return parser.parse_args(argv)


def machine() -> dict:
    from sgdetr.apis import cpu_name
    flags = open('/proc/cpuinfo').read() if osp.exists('/proc/cpuinfo') else ''
    return dict(cpu=cpu_name(), avx512='avx512f' in flags, cores=os.cpu_count(),
                torch_threads=torch.get_num_threads(), torch=torch.__version__,
                python=platform.python_version(), load_average=os.getloadavg()[0])


def index_bytes(directory: str) -> int:
    return sum(e.stat().st_size for e in os.scandir(directory) if e.is_file())


def median_ms(values) -> float:
    return round(1000 * statistics.median(values), 1)


# -- VCMR --------------------------------------------------------------------------
def corpus_dir(split, directory: str) -> str:
    """A directory of links to the split's video feature files: the corpus."""
    from sgdetr.extractors import video_feature_path
    if len(split.video_dirs) != 1:
        raise SystemExit('the search reads one feature file per video: the split has '
                         f'{len(split.video_dirs)} video directories')
    os.makedirs(directory, exist_ok=True)
    for vid in split.vids:
        source = osp.abspath(video_feature_path(split.video_dirs[0], vid, split.layout))
        link = osp.join(directory, osp.basename(source))
        if not osp.lexists(link):
            os.symlink(source, link)
    return directory


def run_vcmr(args) -> dict:
    from mmengine.config import Config

    from sgdetr.apis import DatasetSplit, MomentSearcher
    from sgdetr.apis.searcher import DEFAULT_SEGMENT_CLIPS
    from sgdetr.evaluation.functional import eval_vcmr, video_recall
    cfg = Config.fromfile(args.config)
    if args.data_root:
        for name in ('train', 'val', 'test'):
            if cfg.get(f'{name}_dataloader'):
                cfg[f'{name}_dataloader'].dataset.data_root = args.data_root.rstrip('/') + '/'
    split = DatasetSplit(cfg, args.split)
    records = [r for r in split.records if r.get('relevant_windows')][:args.max_queries]
    name = osp.splitext(osp.basename(args.config))[0]
    corpus = corpus_dir(split, osp.join(args.work_dir, f'corpus_{args.split}'))
    segments = args.segment_clips or DEFAULT_SEGMENT_CLIPS
    index_dir = osp.join(args.work_dir, f'index_{name}_{args.split}_s{segments}')
    searcher = MomentSearcher(index_dir, cfg, args.checkpoint,
                              segment_clips=args.segment_clips)
    begin = time.perf_counter()
    searcher.index(corpus, durations=split.ann_file, progress=False)
    build_seconds = time.perf_counter() - begin
    table = searcher.table()
    report = dict(machine=machine(), config=args.config, checkpoint=args.checkpoint,
                  split=args.split, videos=len(table.vids), queries=len(records),
                  clips=int(table.num_clips.sum()), segments=len(table.owner),
                  index_bytes=index_bytes(index_dir), build_seconds=round(build_seconds, 1),
                  num_candidates=args.num_candidates, segment_clips=searcher.segment_clips,
                  scores={})
    tokens = [split.text(r['qid']) for r in records]
    candidates = [searcher.first_stage(t, max(args.recall_at)) for t in tokens]
    report['first_stage_video_recall'] = video_recall(
        [[c.video for c in cs] for cs in candidates], [r['vid'] for r in records],
        args.recall_at)
    for mode in args.scores:
        results = [searcher.search(t, 100, args.num_candidates, mode) for t in tokens]
        metrics = eval_vcmr([r.moments for r in results], records)
        timing = {stage: median_ms([r.timings[stage] for r in results])
                  for stage in results[0].timings}
        report['scores'][mode] = dict(metrics=metrics, median_ms=timing)
        print(f'{mode}: {metrics} {timing}', flush=True)
    return report


def vcmr_table(report: dict) -> str:
    metrics = ['R1@0.5', 'R1@0.7', 'R10@0.5', 'R10@0.7', 'R100@0.5', 'R100@0.7']
    lines = [f'| moment score | {" | ".join(metrics)} | first stage (ms) | second stage (ms) |',
             '|---' * (len(metrics) + 3) + '|']
    for mode, entry in report['scores'].items():
        values = ' | '.join(f'{entry["metrics"][m]:.2f}' for m in metrics)
        timing = entry['median_ms']
        lines.append(f'| `{mode}` | {values} | {timing["first_stage"]} | '
                     f'{timing["second_stage"]} |')
    recall = ', '.join(f'{k.split("@")[1]}: {v:.2f}'
                       for k, v in report['first_stage_video_recall'].items())
    lines.append(f'\nFirst stage video recall@N (N: %): {recall}. Corpus: {report["videos"]} '
                 f'videos, {report["queries"]} queries, {report["segments"]} segments, index '
                 f'{report["index_bytes"] / 1e6:.2f} MB, built in {report["build_seconds"]} s.')
    return '\n'.join(lines)


# -- scale -------------------------------------------------------------------------
def synthetic_index(searcher, directory: str, num_videos: int, num_clips: int,
                    chunk: int = 2000, seed: int = 0) -> float:
    """Fill a new index at ``directory`` with random unit segments of
    ``num_videos`` videos of ``num_clips`` clips; returns the seconds it took."""
    from sgdetr.search import IndexStore, VideoRecord
    rng = np.random.default_rng(seed)
    rows_per_video = -(-num_clips // searcher.segment_clips)
    store = IndexStore(directory, writable=True, create=searcher._meta('/synthetic'))
    begin = time.perf_counter()
    try:
        for first in range(0, num_videos, chunk):
            count = min(chunk, num_videos - first)
            rows = rng.standard_normal((count * rows_per_video, store.dim), dtype=np.float32)
            rows /= np.linalg.norm(rows, axis=1, keepdims=True)
            rows = rows.reshape(count, rows_per_video, -1)
            store.commit([(VideoRecord(f'v{first + i:07d}', f'/synthetic/v{first + i:07d}.pt',
                                       f'/synthetic/v{first + i:07d}.pt', 0, 0, None, num_clips,
                                       num_clips * searcher.clip_len), rows[i])
                          for i in range(count)])
    finally:
        store.close()
    return time.perf_counter() - begin


def run_scale(args) -> dict:
    from sgdetr.apis import MomentSearcher
    config = args.config or osp.join(REPO, 'configs', 'sgdetr_qvh.py')
    report = dict(machine=machine(), config=config, minutes=args.minutes, sizes=[])
    num_clips = int(round(args.minutes * 60 / 2.0))
    rng = np.random.default_rng(1)
    for size in args.sizes:
        directory = osp.join(args.work_dir, f'scale_{size}')
        shutil.rmtree(directory, ignore_errors=True)
        searcher = MomentSearcher(directory, config, args.checkpoint,
                                  segment_clips=args.segment_clips)
        build = synthetic_index(searcher, directory, size, num_clips)
        searcher = MomentSearcher(directory, config, args.checkpoint)
        begin = time.perf_counter()
        table = searcher.table()
        open_seconds = time.perf_counter() - begin
        queries = [rng.standard_normal((int(rng.integers(8, 30)), searcher.text_dim)).astype(
            np.float32) for _ in range(args.queries + 1)]
        embed, first = [], []
        for tokens in queries:
            begin = time.perf_counter()
            searcher.embedding.query(tokens)
            middle = time.perf_counter()
            searcher.first_stage(tokens, 20)
            embed.append(middle - begin)
            first.append(time.perf_counter() - middle)  # the sentence token included
        entry = dict(videos=size, hours=round(size * args.minutes / 60, 1),
                     segment_clips=searcher.segment_clips,
                     segments=len(table.owner), index_bytes=index_bytes(directory),
                     build_seconds=round(build, 1), table_ms=round(1000 * open_seconds, 1),
                     first_query_ms=round(1000 * first[0], 1),
                     query_embedding_ms=median_ms(embed[1:]),
                     first_stage_ms=median_ms(first[1:]),
                     first_stage_p90_ms=round(1000 * float(np.percentile(first[1:], 90)), 1))
        report['sizes'].append(entry)
        print(entry, flush=True)
        searcher.close()
        del searcher, table
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return report


def scale_table(report: dict) -> str:
    lines = ['| videos (hours) | segments | index size | first stage, median (p90) | '
             'of which the query embedding | index load |', '|---|---|---|---|---|---|']
    for e in report['sizes']:
        lines.append(f'| {e["videos"]:,} ({e["hours"]:,.0f} h) | {e["segments"]:,} | '
                     f'{e["index_bytes"] / 1e6:,.0f} MB | {e["first_stage_ms"]} ms '
                     f'({e["first_stage_p90_ms"]} ms) | {e["query_embedding_ms"]} ms | '
                     f'{e["table_ms"]} ms |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.part == 'vcmr' and not args.config:
        raise SystemExit('vcmr needs --config (and --checkpoint for a trained model)')
    os.makedirs(args.work_dir, exist_ok=True)
    report = run_vcmr(args) if args.part == 'vcmr' else run_scale(args)
    m = report['machine']
    print(f'\n{m["cpu"]} (AVX-512: {"yes" if m["avx512"] else "no"}), {m["cores"]} cores, '
          f'torch {m["torch"]} with {m["torch_threads"]} threads, load average '
          f'{m["load_average"]:.1f} at the start\n')
    print(vcmr_table(report) if args.part == 'vcmr' else scale_table(report))
    out = args.out or osp.join(args.work_dir, f'{args.part}.json')
    with open(out, 'w') as handle:
        json.dump(report, handle, indent=2)
    print(f'\n{out}')
    return report


if __name__ == '__main__':
    main(sys.argv[1:])
