"""Long videos for whole-video inference: join K videos of a split into one.

    python tools/data/make_long_videos.py --data-root data/synthetic \
        --ann-file annotations/highlight_val_release.jsonl --videos-per-group 8 \
        --out-dir data/synthetic_long8 [--feature-layout npz] [--seed 0]

Reads a split in the QVHighlights layout (either feature layout: ``npz`` or
``released``), joins its videos K at a time in a seeded order (clip features
concatenated, every query's windows and clip ids moved by its video's
offset, durations summed; see :mod:`sgdetr.datasets.long_videos`) and writes
the same layout under ``--out-dir``: ``annotations/<name of --ann-file>``, the
joined video features in every video directory, and the text feature
directory linked to the original (queries are unchanged). Point a config's
``data_root`` (and its evaluator's ``ann_file``) at the output to evaluate.
"""
import argparse
import json
import os
import os.path as osp
import time

import numpy as np
from mmengine.utils import ProgressBar

from sgdetr.datasets import LAYOUTS, read_jsonl, read_npz_array, read_pt_array
from sgdetr.datasets.long_videos import join_records, video_groups
from sgdetr.engine.atomic_local_backend import atomic_output
from sgdetr.extractors.feature_files import save_video_features


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--ann-file', required=True, help='relative to --data-root')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--videos-per-group', '-k', type=int, required=True)
    parser.add_argument('--feature-layout', choices=sorted(LAYOUTS), default='npz')
    parser.add_argument('--video-feat-dirs', nargs='+', default=['features/video'],
                        help='relative to --data-root')
    parser.add_argument('--text-feat-dir', default='features/text')
    parser.add_argument('--clip-len', type=float, default=2.0)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.perf_counter()
    name, key = LAYOUTS[args.feature_layout][:2]
    read = (lambda p: read_pt_array(p)) if key is None else (lambda p: read_npz_array(p, key))
    records_by_vid = {}
    for _, record in read_jsonl(osp.join(args.data_root, args.ann_file)):
        records_by_vid.setdefault(record['vid'], []).append(record)
    groups = video_groups(list(records_by_vid), args.videos_per_group, args.seed)
    lines = []
    progress = ProgressBar(len(groups))
    for index, group in enumerate(groups):
        vid = f'long{args.videos_per_group}_{index:04d}'
        num_clips = None
        for directory in args.video_feat_dirs:
            features = [read(osp.join(args.data_root, directory, name.format(vid=v)))
                        for v in group]
            lengths = {v: len(f) for v, f in zip(group, features)}
            if num_clips is not None and lengths != num_clips:
                raise SystemExit(f'{directory}: clip counts differ from '
                                 f'{args.video_feat_dirs[0]} for the videos of {vid}')
            num_clips = lengths
            save_video_features(np.concatenate(features), osp.join(args.out_dir, directory),
                                vid, args.feature_layout)
        joined, _ = join_records(records_by_vid, group, num_clips, args.clip_len, vid)
        lines += joined
        progress.update()
    ann_out = osp.join(args.out_dir, args.ann_file)
    os.makedirs(osp.dirname(ann_out), exist_ok=True)
    with atomic_output(ann_out) as tmp, open(tmp, 'w') as handle:
        handle.writelines(json.dumps(line) + '\n' for line in lines)
    text_out = osp.join(args.out_dir, args.text_feat_dir)
    if not osp.exists(text_out):
        os.makedirs(osp.dirname(text_out), exist_ok=True)
        os.symlink(osp.abspath(osp.join(args.data_root, args.text_feat_dir)), text_out)
    print(f'\n{len(groups)} videos of up to {args.videos_per_group} joined, {len(lines)} queries '
          f'-> {ann_out} ({time.perf_counter() - start:.1f} s)')


if __name__ == '__main__':
    main()
