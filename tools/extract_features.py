"""Video files (and annotated queries) -> feature files in the layout the configs read.

    python tools/extract_features.py VIDEO_OR_DIR --out DIR --encoder internvideo2 \\
        --video-encoder-path video_encoder.pt [--text-encoder-path text_encoder.pt \\
        --tokenizer DIR --queries highlight_val_release.jsonl] [--config configs/sgdetr_qvh.py]
    python tools/extract_features.py videos/ --out feats --encoder clip [--queries ANN.jsonl]

Each video is decoded (PyAV, or decord with --backend decord), cut into clips
of ``--clip-len`` seconds (default: the config's ``clip_len``, else 2 s),
``frames_per_clip`` frames are sampled per clip and encoded in batches; one
file per video is written to ``DIR/<video subdir>`` (video id = file name
without extension), one per query (``qid``, ``query`` of the JSON lines) to
``DIR/<text subdir>``. Files that exist are skipped, so an interrupted run
resumes (``--overwrite`` redoes them). Layout: ``released`` (default;
``{vid}.pt``, ``{qid}.npz`` key ``features``) or ``npz`` (``{vid}.npz`` key
``features``, ``qid{qid}.npz`` key ``last_hidden_state``); with ``--config``
the layout and the subdirectory names are the config's.
"""
import argparse
import os.path as osp
import sys
import time

from mmengine.config import Config

from sgdetr.extractors import (extract_queries, extract_videos, list_videos,
                               load_feature_file, text_feature_path, video_feature_path)
from sgdetr.extractors.cli import add_encoder_args, encoders_from_args


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('videos', nargs='?', help='a video file or a directory of videos')
    parser.add_argument('--out', required=True, help='root directory of the feature files')
    parser.add_argument('--queries', help='annotation JSON lines whose queries to encode')
    parser.add_argument('--config', help='take clip_len, layout and subdirectory names from '
                        "this config's test dataset")
    parser.add_argument('--layout', choices=('released', 'npz'))
    parser.add_argument('--clip-len', type=float, help='seconds per clip')
    parser.add_argument('--video-subdir', help='default: video (or the config\'s)')
    parser.add_argument('--text-subdir', help='default: text (or the config\'s)')
    parser.add_argument('--recursive', action='store_true', help='find videos in subdirectories')
    parser.add_argument('--batch-size', type=int, default=16, help='clips per forward')
    parser.add_argument('--backend', default='auto', choices=('auto', 'pyav', 'decord'))
    parser.add_argument('--overwrite', action='store_true', help='redo existing files')
    parser.add_argument('--no-progress', action='store_true')
    add_encoder_args(parser)
    args = parser.parse_args(argv)
    if not args.videos and not args.queries:
        parser.error('give videos and/or --queries')
    return args


def settings(args):
    """clip_len, layout, video dir, text dir, expected dims."""
    clip_len, layout, video_sub, text_sub, dims = 2.0, 'released', 'video', 'text', (None, None)
    if args.config:
        dataset = Config.fromfile(args.config).test_dataloader.dataset
        clip_len = dataset.get('clip_len') or clip_len
        layout = dataset.get('feature_layout', 'npz')
        dirs = dataset.get('video_feat_dirs')
        if dirs:
            video_sub = osp.basename(osp.normpath(dirs if isinstance(dirs, str) else dirs[0]))
        if dataset.get('text_feat_dir'):
            text_sub = osp.basename(osp.normpath(dataset.text_feat_dir))
        dims = (dataset.get('video_dim'), dataset.get('text_dim'))
    clip_len = args.clip_len or clip_len
    layout = args.layout or layout
    video_dir = osp.join(args.out, args.video_subdir or video_sub)
    text_dir = osp.join(args.out, args.text_subdir or text_sub)
    return clip_len, layout, video_dir, text_dir, dims


def read_queries(path):
    from sgdetr.datasets.annotations import read_jsonl
    pairs = {}
    for line, record in read_jsonl(path):
        if 'qid' not in record or 'query' not in record:
            raise SystemExit(f'{path}:{line}: a query needs "qid" and "query"')
        pairs.setdefault(record['qid'], record['query'])
    return list(pairs.items())


def _dim(path):
    try:
        return load_feature_file(path).shape[1]
    except Exception:  # a report only
        return None


def main(argv=None):
    args = parse_args(argv)
    clip_len, layout, video_dir, text_dir, (video_dim, text_dim) = settings(args)
    video_encoder, text_encoder = encoders_from_args(args)
    start, failed = time.time(), 0
    first_vid = first_qid = None
    if args.videos:
        if video_encoder is None:
            raise SystemExit('videos need a video encoder: --encoder internvideo2 '
                             '--video-encoder-path video_encoder.pt, or --encoder clip')
        paths = list_videos(args.videos, args.recursive)
        if not paths:
            raise SystemExit(f'{args.videos}: no video files')
        print(f'{len(paths)} videos -> {video_dir} ({layout} layout, {clip_len:g} s clips, '
              f'{video_encoder.frames_per_clip} frames per clip, {type(video_encoder).__name__})')
        summary = extract_videos(paths, video_encoder, video_dir, clip_len, layout,
                                 args.batch_size, args.overwrite, args.backend,
                                 progress=not args.no_progress)
        failed = len(summary['failed'])
        print(f'videos: {len(summary["written"])} written, {len(summary["skipped"])} already '
              f'there, {failed} failed')
        for path, error in summary['failed']:
            print(f'  {path}: {error}', file=sys.stderr)
        done = summary['written'] + summary['skipped']
        first_vid = done[0] if done else None
    if args.queries:
        if text_encoder is None:
            raise SystemExit('--queries needs a text encoder: --encoder internvideo2 '
                             '--text-encoder-path text_encoder.pt, or --encoder clip')
        queries = read_queries(args.queries)
        summary = extract_queries(queries, text_encoder, text_dir, layout,
                                  overwrite=args.overwrite, progress=not args.no_progress)
        print(f'queries: {len(summary["written"])} written, {len(summary["skipped"])} already '
              f'there -> {text_dir}')
        first_qid = queries[0][0] if queries else None
    found_video = _dim(video_feature_path(video_dir, first_vid, layout)) if first_vid else None
    found_text = _dim(text_feature_path(text_dir, first_qid, layout)) if first_qid else None
    for name, found, expected in (('video', found_video, video_dim), ('text', found_text,
                                                                      text_dim)):
        if found is not None and expected is not None and found != expected:
            print(f'warning: {name} features have dim {found}, the config reads {expected}',
                  file=sys.stderr)
    print(f'done in {time.time() - start:.1f} s. Dataset config fields for these files:\n'
          f"  feature_layout='{layout}', clip_len={clip_len:g}, "
          f"video_feat_dirs=['{video_dir}'], text_feat_dir='{text_dir}'"
          + (f', video_dim={found_video}' if found_video else '')
          + (f', text_dim={found_text}' if found_text else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
