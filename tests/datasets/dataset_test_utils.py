"""Helpers of the dataset tests: tiny custom annotation/feature files."""
import json
from pathlib import Path

import numpy as np

SHARED_ANNOTATIONS = (Path(__file__).resolve().parents[2].parent / 'shared' /
                      'data' / 'annotations')
#: the released pipeline of the dataset configs, at QVHighlights' limits
RELEASED_PIPELINE = [
    dict(type='TruncateFeatures', max_clips=75, max_tokens=40),
    dict(type='AppendTemporalEndpoints'),
    dict(type='PadClips', multiple=4),
    dict(type='BuildMomentTargets'),
    dict(type='PackMomentInputs'),
]


def synthetic_args(root: Path, split: str = 'train', **kwargs) -> dict:
    """Constructor args of QVHighlightsDataset on the synthetic data."""
    args = dict(data_root=str(root),
                ann_file=f'annotations/highlight_{split}_release.jsonl',
                video_feat_dirs='features/video',
                text_feat_dir='features/text', test_mode=split != 'train')
    args.update(kwargs)
    return args


def write_jsonl(path: Path, records, raw_lines=()) -> Path:
    """JSON lines of ``records`` followed by verbatim ``raw_lines``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records] + list(raw_lines)
    path.write_text('\n'.join(lines) + '\n')
    return path


def write_features(root: Path, videos: dict, queries: dict,
                   video_dir='video', text_dir='text'):
    """``videos``: vid -> (L, Dv) array; ``queries``: qid -> (N, Dt)."""
    (root / video_dir).mkdir(parents=True, exist_ok=True)
    (root / text_dir).mkdir(parents=True, exist_ok=True)
    for vid, array in videos.items():
        np.savez(root / video_dir / f'{vid}.npz', features=array)
    for qid, array in queries.items():
        np.savez(root / text_dir / f'qid{qid}.npz', last_hidden_state=array)


def record(qid, vid, duration=20.0, windows=((2.0, 6.0), ), **extra) -> dict:
    line = dict(qid=qid, query=f'query {qid}', duration=duration, vid=vid,
                relevant_windows=[list(w) for w in windows])
    line.update(extra)
    return line
