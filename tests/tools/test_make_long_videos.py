"""tools/data/make_long_videos.py: K videos of a split joined into one, with every
query moved by its video's offset, so the official metric applies unchanged."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sgdetr.datasets import read_jsonl
from sgdetr.datasets.long_videos import join_records, video_groups
from sgdetr.datasets.synthetic import make_synthetic_dataset
from sgdetr.evaluation.functional.qvhighlights import eval_qvhighlights

REPO = Path(__file__).resolve().parents[2]
ANN = 'annotations/highlight_val_release.jsonl'


def test_video_groups_are_seeded_and_cover_every_video():
    vids = [f'v{i}' for i in range(10)]
    groups = video_groups(vids, 4, seed=1)
    assert [len(g) for g in groups] == [4, 4, 2]
    assert sorted(sum(groups, [])) == vids
    assert video_groups(vids, 4, seed=1) == groups != video_groups(vids, 4, seed=2)
    with pytest.raises(ValueError, match='videos_per_group'):
        video_groups(vids, 0)


def test_join_records_moves_windows_and_clip_ids():
    records = {'a': [dict(qid=1, vid='a', duration=20.0, relevant_windows=[[2, 6]],
                          relevant_clip_ids=[1, 2], saliency_scores=[[1, 2, 3], [4, 4, 4]])],
               'b': [dict(qid=2, vid='b', duration=9.0, relevant_windows=[[0, 4], [6, 8]],
                          relevant_clip_ids=[0, 3], saliency_scores=[[1, 1, 1], [2, 2, 2]]),
                     dict(qid=3, vid='b', duration=9.0)]}
    joined, duration = join_records(records, ['b', 'a'], dict(a=10, b=5), 2.0, 'long')
    assert duration == 10.0 + 20.0
    assert [r['qid'] for r in joined] == [2, 3, 1]
    assert all(r['vid'] == 'long' and r['duration'] == 30.0 for r in joined)
    assert joined[0]['relevant_windows'] == [[0, 4], [6, 8]]
    assert joined[2]['relevant_windows'] == [[12, 16]]
    assert joined[2]['relevant_clip_ids'] == [6, 7]
    assert joined[2]['saliency_scores'] == [[1, 2, 3], [4, 4, 4]]
    assert 'relevant_windows' not in joined[1]
    assert records['a'][0]['relevant_windows'] == [[2, 6]]  # originals untouched


def test_the_tool_writes_a_split_the_metric_scores_unchanged(tmp_path):
    root = tmp_path / 'short'
    make_synthetic_dataset(str(root), num_train=2, num_val=24, num_test=2, dim=8, num_topics=2,
                           nuisance_dim=2, seed=3, verbose=False)
    out = tmp_path / 'long'
    subprocess.run([sys.executable, str(REPO / 'tools' / 'data' / 'make_long_videos.py'),
                    '--data-root', str(root), '--ann-file', ANN, '--out-dir', str(out),
                    '-k', '4'], check=True, capture_output=True)
    short = {r['qid']: r for _, r in read_jsonl(str(root / ANN))}
    long = {r['qid']: r for _, r in read_jsonl(str(out / ANN))}
    assert set(short) == set(long)
    vids = {r['vid'] for r in long.values()}
    assert len(vids) == -(-len({r['vid'] for r in short.values()}) // 4)
    for qid, record in long.items():
        original = short[qid]
        video = np.load(out / 'features' / 'video' / f'{record["vid"]}.npz')['features']
        clips = np.load(root / 'features' / 'video' / f'{original["vid"]}.npz')['features']
        offset = int(round((record['relevant_windows'][0][0]
                            - original['relevant_windows'][0][0]) / 2.0))
        np.testing.assert_array_equal(video[offset:offset + len(clips)], clips)
        assert record['relevant_clip_ids'] == [i + offset for i in original['relevant_clip_ids']]
        assert (len(video) - 1) * 2.0 < record['duration'] <= len(video) * 2.0
        assert (out / 'features' / 'text' / f'qid{qid}.npz').exists()
    # the ground truth as predictions scores the same on both
    brief = []
    for records in (short, long):
        predictions = [dict(qid=r['qid'], vid=r['vid'], query=r['query'],
                            pred_relevant_windows=[w + [1.0] for w in r['relevant_windows']],
                            pred_saliency_scores=[0.0] * int(r['duration'] / 2))
                       for r in records.values()]
        for p, r in zip(predictions, records.values()):
            for clip, scores in zip(r['relevant_clip_ids'], r['saliency_scores']):
                p['pred_saliency_scores'][clip] = float(sum(scores))
        brief.append(eval_qvhighlights(predictions, list(records.values()))['brief'])
    assert brief[0]['MR-full-R1@0.7'] == brief[1]['MR-full-R1@0.7'] == 100.0
    assert brief[0]['HL-min-VeryGood-Hit1'] == brief[1]['HL-min-VeryGood-Hit1'] > 50
