"""The synthetic generator: real layout, determinism, a planted signal that
the zero-shot cosine baseline finds only imperfectly."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sgdetr.datasets import QVHighlightsDataset
from sgdetr.datasets.synthetic import make_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]


def read_split(root, split):
    path = Path(root) / 'annotations' / f'highlight_{split}_release.jsonl'
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_layout_and_format(synthetic_root):
    train, val, test = (read_split(synthetic_root, s)
                        for s in ('train', 'val', 'test'))
    assert (len(train), len(val), len(test)) == (40, 12, 8)
    qids = [r['qid'] for r in train + val + test]
    assert len(set(qids)) == len(qids)
    split_vids = [{r['vid'] for r in lines} for lines in (train, val, test)]
    assert not (split_vids[0] & split_vids[1] or split_vids[0] & split_vids[2]
                or split_vids[1] & split_vids[2])
    for line in test:
        assert set(line) == {'qid', 'query', 'duration', 'vid'}
    for line in train + val:
        assert set(line) == {'qid', 'query', 'duration', 'vid',
                             'relevant_clip_ids', 'saliency_scores',
                             'relevant_windows'}
        assert 1 <= len(line['relevant_windows']) <= 3
        scores = np.asarray(line['saliency_scores'])
        assert scores.shape == (len(line['relevant_clip_ids']), 3)
        assert scores.min() >= 0 and scores.max() <= 4
        video = np.load(Path(synthetic_root, 'features', 'video',
                             f'{line["vid"]}.npz'))['features']
        assert video.dtype == np.float32 and video.shape[1] == 32
        assert len(video) == np.ceil(line['duration'] / 2 - 1e-6)
        text = np.load(Path(synthetic_root, 'features', 'text',
                            f'qid{line["qid"]}.npz'))
        assert 8 <= len(text['last_hidden_state']) <= 32
        assert text['pooler_output'].shape == (32, )
    # Every split loads with the QVHighlights reader.
    for split in ('train', 'val', 'test'):
        dataset = QVHighlightsDataset(
            data_root=str(synthetic_root), test_mode=split == 'test',
            ann_file=f'annotations/highlight_{split}_release.jsonl',
            video_feat_dirs='features/video', text_feat_dir='features/text',
            video_dim=32, text_dim=32)
        assert dataset[0]['inputs']['video'].shape[1] == 32


def test_seeded_and_deterministic(tmp_path):
    args = dict(num_train=6, num_val=2, num_test=2, dim=16, num_topics=3,
                nuisance_dim=4, verbose=False)
    make_synthetic_dataset(str(tmp_path / 'a'), seed=1, **args)
    make_synthetic_dataset(str(tmp_path / 'b'), seed=1, **args)
    make_synthetic_dataset(str(tmp_path / 'c'), seed=2, **args)
    files = sorted(p.relative_to(tmp_path / 'a')
                   for p in (tmp_path / 'a').rglob('*') if p.is_file())
    for name in files:
        assert (tmp_path / 'a' / name).read_bytes() == (tmp_path / 'b' /
                                                        name).read_bytes()
    assert ((tmp_path / 'a' / files[0]).read_bytes() !=
            (tmp_path / 'c' / files[0]).read_bytes())


def average_precision(scores, positives):
    order = np.argsort(-scores, kind='stable')
    hits = positives[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return (precision * hits).sum() / hits.sum()


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo')
    start = time.perf_counter()
    make_synthetic_dataset(str(root), num_train=20, num_val=150, num_test=4,
                           seed=0, verbose=False)
    return root, time.perf_counter() - start


def test_demo_size_is_fast(demo_root):
    _, seconds = demo_root
    assert seconds < 5  # ~170 queries at D=256


def test_zero_shot_cosine_is_informative_but_imperfect(demo_root):
    root, _ = demo_root
    hd_ap, hit, window_ap = [], [], []
    for line in read_split(root, 'val'):
        video = np.load(root / 'features' / 'video' /
                        f'{line["vid"]}.npz')['features']
        tokens = np.load(root / 'features' / 'text' /
                         f'qid{line["qid"]}.npz')['last_hidden_state']
        video = video / np.linalg.norm(video, axis=1, keepdims=True)
        tokens = tokens / np.linalg.norm(tokens, axis=1, keepdims=True)
        query = tokens.mean(0)
        cosine = video @ (query / np.linalg.norm(query))
        saliency = np.zeros((len(video), 3))
        saliency[line['relevant_clip_ids']] = line['saliency_scores']
        very_good = [average_precision(cosine, saliency[:, a] >= 4)
                     for a in range(3) if (saliency[:, a] >= 4).any()]
        if very_good:
            hd_ap.append(np.mean(very_good))
        hit.append((saliency[np.argmax(cosine)] >= 4).any())
        window_ap.append(average_precision(cosine, saliency.sum(1) > 0))
    hd_map, hit_at_1 = 100 * np.mean(hd_ap), 100 * np.mean(hit)
    # Far above chance, far below perfect.
    assert 20 < hd_map < 60, hd_map
    assert 25 < hit_at_1 < 70, hit_at_1
    assert 50 < 100 * np.mean(window_ap) < 90


def test_saliency_peaks_in_the_middle_of_windows(demo_root):
    root, _ = demo_root
    middle, edges = [], []
    for line in read_split(root, 'val'):
        scores = dict(zip(line['relevant_clip_ids'],
                          np.mean(line['saliency_scores'], axis=1)))
        for start, end in line['relevant_windows']:
            clips = np.arange(int(start // 2), int(np.ceil(end / 2)))
            if len(clips) >= 5:
                edges += [scores[clips[0]], scores[clips[-1]]]
                middle.append(scores[clips[len(clips) // 2]])
    assert np.mean(middle) > np.mean(edges) + 0.8


def test_command_line_tool(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'data' / 'make_synthetic.py'),
         '--out-dir', str(tmp_path), '--num-train', '4', '--num-val', '2',
         '--num-test', '2', '--dim', '8', '--seed', '1'],
        capture_output=True, text=True, timeout=60,
        env=dict(__import__('os').environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr
    assert 'highlight_train_release.jsonl: 4 queries' in result.stdout
    assert len(read_split(tmp_path, 'val')) == 2


def test_windows_cover_every_length_range(demo_root):
    root, _ = demo_root
    lengths = np.array([end - start for line in read_split(root, 'val')
                        for start, end in line['relevant_windows']])
    assert (lengths <= 10).any() and ((lengths > 10) & (lengths <= 30)).any()
    assert (lengths > 30).any()
