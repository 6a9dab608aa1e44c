"""Long videos from short ones: a benchmark of whole-video inference.

:func:`join_videos` joins K videos of a split, in a seeded order, into one:
their clip features are concatenated, and every query of a joined video is
moved by its video's offset (windows, relevant clip ids; saliency scores
belong to those ids and stay as they are), so the split's official metric
applies unchanged to the long videos. Used by
``tools/data/make_long_videos.py``.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np


def video_groups(vids: Sequence[str], videos_per_group: int, seed: int = 0) -> List[List[str]]:
    """The split's videos in a seeded random order, cut into groups of
    ``videos_per_group`` (the last one may be shorter)."""
    if videos_per_group < 1:
        raise ValueError(f'videos_per_group must be >= 1, got {videos_per_group}')
    order = np.random.default_rng(seed).permutation(len(vids))
    shuffled = [vids[i] for i in order]
    return [shuffled[i:i + videos_per_group] for i in range(0, len(shuffled), videos_per_group)]


def join_records(records_by_vid: Dict[str, List[dict]], group: Sequence[str],
                 num_clips: Dict[str, int], clip_len: float, vid: str) -> Tuple[List[dict], float]:
    """The queries of ``group``'s videos as queries of one joined video ``vid``.

    Video j starts at ``clip_len * sum(num_clips of the videos before it)``
    seconds, so its clips and its timeline stay aligned; the joined duration
    is that offset of the last video plus its duration (the sum of the
    durations when every video is ``num_clips * clip_len`` long).

    Args:
        records_by_vid: annotation records of the split, by video.
        group: the videos to join, in order.
        num_clips: clips of each video's feature file.
    Returns:
        the moved records (in the order of ``group``), the joined duration.
    """
    offsets = np.concatenate([[0], np.cumsum([num_clips[v] for v in group])])[:-1]
    joined, duration = [], 0.0
    for video, offset_clips in zip(group, offsets.tolist()):
        offset = offset_clips * clip_len
        video_duration = float(records_by_vid[video][0].get('duration') or
                               num_clips[video] * clip_len)
        duration = offset + video_duration
        for record in records_by_vid[video]:
            moved = dict(record, vid=vid)
            if record.get('relevant_windows') is not None:
                moved['relevant_windows'] = [[s + offset, e + offset]
                                             for s, e in record['relevant_windows']]
            if record.get('relevant_clip_ids') is not None:
                moved['relevant_clip_ids'] = [int(i) + offset_clips
                                              for i in record['relevant_clip_ids']]
            joined.append(moved)
    for record in joined:
        record['duration'] = duration
    return joined, duration
