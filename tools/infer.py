"""Moments and highlight curves for new videos and queries, as submission-format JSON lines.

    # a video file and query texts (with the encoders the model's features came from)
    python tools/infer.py configs/sgdetr_qvh.py CKPT --video clip.mp4 \\
        --query "a man opens the door" --query "a dog runs" --out pred.jsonl \\
        --encoder internvideo2 --video-encoder-path video_encoder.pt \\
        --text-encoder-path text_encoder.pt --tokenizer bert-large-uncased
    # feature files
    python tools/infer.py configs/sgdetr_demo.py CKPT --video feats/vid.npz \\
        --query-features feats/qid1.npz feats/qid2.npz --out pred.jsonl
    # every video of a config's split (features as the dataset reads them)
    python tools/infer.py configs/sgdetr_demo.py CKPT --split val --out pred.jsonl --vis-dir vis

All queries of a video go through the model in one batched forward (the
config's test pipeline, then the model's preprocessor and ``test_step``).
One line per query: ``qid, query, vid, pred_relevant_windows`` ([start_s,
end_s, score], best first), ``pred_saliency_scores`` (one per clip). The qid of a
query feature file named as the datasets name them (``qid{N}.npz`` or ``{N}.npz``) is
N, of another file its name without extension; a query text's is its position among
the queries (from 0) unless its ``--queries-file`` line gives one; repeated qids are
an error. ``--duration`` must be positive and agree with the video's clips (within
the datasets' tolerance, ``max(2 clips, 10%)``).
``--vis-dir`` also writes one figure per query (see
``tools/analysis/visualize.py``). The checkpoint may be omitted for
parameter-free configs (``configs/zero_shot/*``).
"""
import argparse
import json
import math
import os.path as osp
import re
import sys
import time

from mmengine.config import Config, DictAction

from sgdetr.apis import DatasetSplit, MomentInferencer
from sgdetr.errors import DataError
from sgdetr.evaluation.submission import dump_jsonl
from sgdetr.extractors.cli import add_encoder_args, encoders_from_args
from sgdetr.extractors.feature_files import is_feature_file

#: errors of the inputs, reported as one message without a traceback
INPUT_ERRORS = (ValueError, OSError, DataError)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='omit for parameter-free models')
    parser.add_argument('--out', required=True, help='JSON lines to write')
    source = parser.add_argument_group('inputs')
    source.add_argument('--video', help='a video file or a feature file (.pt / .npz / .npy)')
    source.add_argument('--query', action='append', default=[], help='a query text (repeat)')
    source.add_argument('--query-features', nargs='+', default=[],
                        help='query feature files (N, Dt)')
    source.add_argument('--queries-file', help='query texts, one per line, or JSON lines with '
                        '"query" (and "qid")')
    source.add_argument('--duration', type=float, help='seconds (default: the video\'s)')
    source.add_argument('--vid', help='video id in the output (default: the file name)')
    source.add_argument('--split', choices=('train', 'val', 'test'),
                        help="every video of this split of the config's dataset")
    source.add_argument('--ann-file', help='with --split: another annotation file')
    source.add_argument('--max-videos', type=int, help='with --split: the first N videos')
    parser.add_argument('--vis-dir', help='also write one figure per query here')
    parser.add_argument('--top-k', type=int, default=5, help='windows drawn per figure')
    parser.add_argument('--all-heads', action='store_true',
                        help='also write pred_relevant_windows_<head> of extra outputs')
    parser.add_argument('--batch-size', type=int, default=64, help='queries per forward')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_encoder_args(parser)
    args = parser.parse_args(argv)
    if bool(args.split) == bool(args.video):
        parser.error('give --video (with queries) or --split')
    if args.video and not (args.query or args.query_features or args.queries_file):
        parser.error('--video needs --query, --query-features or --queries-file')
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        parser.error(f'--duration must be a positive number of seconds, got {args.duration:g}')
    for path in args.query_features:
        if not is_feature_file(path):
            parser.error(f'--query-features {path}: ' + (
                'not a feature file (.pt / .npz / .npy)' if osp.isfile(path) else 'no such file'))
    return args


def feature_file_query(path):
    """A query feature file as a query with the qid its name gives."""
    name = osp.splitext(osp.basename(path))[0]
    number = re.fullmatch(r'(?:qid)?(\d+)', name)
    return dict(query=name, qid=int(number.group(1)) if number else name, features=path)


def read_queries_file(path):
    queries = []
    with open(path, encoding='utf-8') as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith('{'):
                record = json.loads(line)
                if 'query' not in record:
                    raise SystemExit(f'{path}:{number}: no "query"')
                queries.append({k: record[k] for k in ('query', 'qid') if k in record})
            else:
                queries.append(line)
    return queries


def official(entry, all_heads):
    if all_heads:
        return entry
    return {k: v for k, v in entry.items() if not k.startswith('pred_relevant_windows_')}


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except INPUT_ERRORS as error:
        print(f'error: {error}', file=sys.stderr)
        return 1


def run(args):
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    video_encoder, text_encoder = encoders_from_args(args)
    inferencer = MomentInferencer(cfg, args.checkpoint, args.device, video_encoder,
                                  text_encoder, batch_size=args.batch_size)
    start = time.time()
    gts = {}
    if args.split:
        split = DatasetSplit(cfg, args.split, args.ann_file)
        vids = split.vids[:args.max_videos] if args.max_videos else split.vids
        entries = []
        for vid in vids:
            entries += split.predict(inferencer, vid)
        gts = {r['qid']: r for r in split.records}
        where = f'{len(vids)} videos of {split.ann_file}'
    else:
        queries = list(args.query) + [feature_file_query(p) for p in args.query_features]
        if args.queries_file:
            queries += read_queries_file(args.queries_file)
        result = inferencer(args.video, queries, duration=args.duration, vid=args.vid,
                            progress=True)
        entries = result['predictions']
        where = args.video
        qids = [e['qid'] for e in entries]
        repeated = sorted({str(q) for q in qids if qids.count(q) > 1})
        if repeated:
            raise ValueError(f'qid(s) {repeated} given to more than one query: give each its '
                             'own (a --queries-file line may set "qid")')
    dump_jsonl([official(e, args.all_heads) for e in entries], args.out)
    print(f'{len(entries)} queries of {where}: {args.out} ({time.time() - start:.1f} s)')
    if args.vis_dir:
        from sgdetr.apis.visualization import plot_prediction, save_figure
        for entry in entries:
            figure = plot_prediction(entry, gts.get(entry['qid']), inferencer.clip_len,
                                     args.top_k, duration=None if entry['qid'] in gts
                                     else args.duration)
            save_figure(figure, osp.join(args.vis_dir, f'{entry["qid"]}.png'))
        print(f'figures: {args.vis_dir}/<qid>.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
