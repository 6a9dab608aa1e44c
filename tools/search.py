"""Search a library of videos: index a directory of feature files once, then
find the best moments of all its videos for a query.

    # build (or update: new and changed files are added, removed ones dropped)
    python tools/search.py index --index work_dirs/library.idx \\
        --library data/synthetic/features/video --config configs/sgdetr_demo.py \\
        --checkpoint work_dirs/demo/sgdetr/epoch_16.pth
    # query (the index remembers its config and checkpoint, and refuses others)
    python tools/search.py query --index work_dirs/library.idx --top-k 10 \\
        --query-features data/synthetic/features/text/qid123.npz
    python tools/search.py query --index work_dirs/library.idx --query "a man opens the door" \\
        --encoder internvideo2 --text-encoder-path text_encoder.pt
    # what an update would do
    python tools/search.py status --index work_dirs/library.idx

``index`` is resumable (run it again after a kill) and shows a progress bar;
``--durations FILE`` reads ``vid`` / ``duration`` from JSON lines (an
annotation file does). ``query`` prints one line per moment
(``rank video start end score``), or writes JSON lines with ``--out``.
With ``--query-from-dataset`` typed queries are looked up among the annotated
queries of the config's dataset (for feature-only data such as the synthetic
demo set).
"""
import argparse
import os.path as osp
import sys
import time


def parse_args(argv=None):
    from sgdetr.extractors.cli import add_encoder_args
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('command', choices=('index', 'query', 'status'))
    parser.add_argument('--index', required=True, help='the index directory')
    parser.add_argument('--config', help='default: the one the index was built with')
    parser.add_argument('--checkpoint', help='default: the one the index was built with')
    parser.add_argument('--device', default='cpu')
    build = parser.add_argument_group('index')
    build.add_argument('--library', help='directory of feature files (or of video files, '
                       'with --encoder); default: the indexed one')
    build.add_argument('--durations', help='JSON lines with vid and duration (seconds)')
    build.add_argument('--detect', choices=('stat', 'hash'), default='stat',
                       help='a changed file: other size / modification time, or other SHA-256')
    build.add_argument('--segment-clips', type=int, help='clips per indexed segment (new '
                       'index; default 8)')
    build.add_argument('--commit-every', type=int, default=64, help='videos per commit')
    build.add_argument('--skip-bad', action='store_true',
                       help='report a file that cannot be indexed and go on')
    search = parser.add_argument_group('query')
    search.add_argument('--query', action='append', default=[], help='a query text (repeat)')
    search.add_argument('--query-features', nargs='+', default=[],
                        help='query token feature files (N, Dt)')
    search.add_argument('--query-from-dataset', action='store_true',
                        help="look typed queries up among the config's annotated queries")
    search.add_argument('--top-k', type=int, default=10)
    search.add_argument('--num-candidates', type=int, default=20,
                        help='windows of the first stage read by the full model')
    search.add_argument('--out', help='JSON lines: one per query with its moments')
    add_encoder_args(parser)
    args = parser.parse_args(argv)
    if args.command == 'query' and not (args.query or args.query_features):
        parser.error('query needs --query or --query-features')
    return args


def recorded_model(index_dir):
    """(config, checkpoint) an existing index was built with, else (None, None)."""
    from sgdetr.search import IndexStore
    if not IndexStore.exists(index_dir):
        return None, None
    store = IndexStore(index_dir)
    try:
        meta = store.meta
    finally:
        store.close()
    return meta.get('config'), meta.get('checkpoint')


def dataset_lookup(cfg):
    from sgdetr.extractors import DatasetQueryEncoder
    dataset = cfg.test_dataloader.dataset
    root = dataset.get('data_root') or ''
    files = []
    for name in ('train', 'val', 'test'):
        loader = cfg.get(f'{name}_dataloader')
        if loader and loader.dataset.get('ann_file'):
            path = loader.dataset.ann_file
            path = path if not root or osp.isabs(path) else osp.join(root, path)
            if osp.isfile(path) and path not in files:
                files.append(path)
    return DatasetQueryEncoder.from_dataset_cfg(dataset, files)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config

    from sgdetr.apis import MomentSearcher
    from sgdetr.errors import DataError
    from sgdetr.extractors.cli import encoders_from_args
    config, checkpoint = recorded_model(args.index)
    config, checkpoint = args.config or config, args.checkpoint or checkpoint
    if config is None:
        raise SystemExit(f'{args.index}: no index yet: give --config (and --checkpoint)')
    cfg = Config.fromfile(config)
    video_encoder, text_encoder = encoders_from_args(args)
    if text_encoder is None and args.query_from_dataset:
        text_encoder = dataset_lookup(cfg)
    try:
        searcher = MomentSearcher(args.index, config, checkpoint, args.device,
                                  text_encoder=text_encoder, video_encoder=video_encoder,
                                  segment_clips=args.segment_clips)
        with searcher:
            if args.command == 'index':
                return run_index(searcher, args)
            if args.command == 'status':
                return run_status(searcher, args)
            return run_query(searcher, args)
    except (DataError, FileNotFoundError, RuntimeError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1


def run_index(searcher, args):
    start = time.time()
    report = searcher.index(args.library, args.durations, args.detect, args.commit_every,
                            progress=True, skip_bad=args.skip_bad)
    for line in report['skipped']:
        print(f'skipped {line}', file=sys.stderr)
    table = searcher.table()
    counts = ', '.join(f'{len(v)} {k}' for k, v in report.items())
    print(f'{args.index}: {counts} in {time.time() - start:.1f} s; {len(table.vids)} videos, '
          f'{len(table.owner)} segments')
    return 0


def run_status(searcher, args):
    plan = searcher.status(args.library, args.detect)
    table = searcher.table()
    print(f'{args.index}: {len(table.vids)} videos indexed; to add {len(plan.new)}, to update '
          f'{len(plan.changed)}, to remove {len(plan.removed)}')
    for name in ('new', 'changed', 'removed'):
        for vid in getattr(plan, name)[:20]:
            print(f'  {name}: {vid}')
    return 0


def run_query(searcher, args):
    queries = list(args.query) + list(args.query_features)
    lines = []
    for query in queries:
        result = searcher.search(query, args.top_k, args.num_candidates)
        timing = ', '.join(f'{k} {1000 * v:.0f} ms' for k, v in result.timings.items())
        print(f'{query}  ({timing})')
        for rank, moment in enumerate(result.moments, start=1):
            print(f'  {rank:3d}  {moment.video}  {moment.start:8.1f}  {moment.end:8.1f}  '
                  f'{moment.score:.4f}')
        lines.append(dict(query=query, moments=[m._asdict() for m in result.moments]))
    if args.out:
        from sgdetr.evaluation.submission import dump_jsonl
        dump_jsonl(lines, args.out)
        print(f'{args.out}: {len(lines)} queries')
    return 0


if __name__ == '__main__':
    sys.exit(main())
