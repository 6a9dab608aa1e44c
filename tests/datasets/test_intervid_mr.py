"""InterVid-MR relabelling (paper §4.3.2, eqs. 16-18): hand-computed
thresholds, runs and grades, the sample builder and its command line."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from sgdetr.datasets import (DataError, MomentDataPreprocessor,
                             QVHighlightsDataset)
from sgdetr.datasets.intervid_mr import (clip_caption_similarity,
                                         load_caption_embedding,
                                         relabel_moment, saliency_grades,
                                         seconds_to_clip_interval,
                                         similarity_threshold, true_runs)
from sgdetr.datasets.intervid_mr_builder import build_intervid_mr

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'data' / 'make_intervid_mr.py'
PRETRAIN_CONFIG = REPO / 'configs' / 'pretrain' / \
    'sgdetr_pretrain_intervid_mr.py'
FINETUNE_CONFIG = REPO / 'configs' / 'pretrain' / 'sgdetr_qvh_finetune.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('make_intervid_mr', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_clip_caption_similarity_is_cosine():
    video = np.array([[1., 0.], [0., 2.], [-3., 0.], [1., 1.], [0., 0.]])
    similarity = clip_caption_similarity(video, np.array([2., 0.]))
    np.testing.assert_allclose(similarity,
                               [1., 0., -1., np.sqrt(0.5), 0.], atol=1e-12)
    with pytest.raises(ValueError):
        clip_caption_similarity(video, np.ones(3))


def test_threshold_is_mean_minus_three_population_stds():
    # S_pos = [1, 3]: mean 2, std (ddof=0) 1 -> S_min = 2 - 3 = -1.
    assert similarity_threshold(np.array([9., 1., 3., 9.]), (1, 3)) == -1.0
    # Nine 1s and one -9: mean 0, std 3 -> S_min = -9, the outlier itself.
    assert similarity_threshold(np.array([1.] * 9 + [-9.]), (0, 10)) == -9.0
    # Equal scores: exactly their value (no rounding residue of np.std).
    assert similarity_threshold(np.array([0.1, 0.1, 0.1]), (0, 3)) == 0.1
    with pytest.raises(ValueError):
        similarity_threshold(np.zeros(4), (2, 2))


@pytest.mark.parametrize('mask, runs', [
    ([], np.zeros((0, 2))),
    ([0, 0, 0], np.zeros((0, 2))),
    ([1, 1, 1], [[0, 3]]),
    ([1, 0, 1, 1, 0, 0, 1], [[0, 1], [2, 4], [6, 7]]),
    ([0, 1, 1, 0, 1, 0], [[1, 3], [4, 5]]),
])
def test_true_runs(mask, runs):
    found = true_runs(np.array(mask, dtype=bool))
    assert found.shape == (len(runs), 2) and found.dtype == np.int64
    np.testing.assert_array_equal(found, np.reshape(runs, (-1, 2)))


def test_grade_boundaries_are_closed_as_in_eq_18():
    # mean 0, std exactly 1: the values sit on mu - 1.5 sigma, mu and
    # mu + 1.5 sigma, each of which belongs to the interval on its left.
    np.testing.assert_array_equal(
        saliency_grades(np.array([-1.5, -0.5, 0., 0.5, 1.5])),
        [1, 2, 2, 3, 3])
    # mean 0, std 3: 9 > mu + 1.5 sigma = 4.5 -> 4; -1 in (-4.5, 0] -> 2.
    np.testing.assert_array_equal(saliency_grades(np.array([-1.] * 9 + [9.])),
                                  [2] * 9 + [4])
    # Mirrored: -9 < -4.5 -> 1; 1 in (0, 4.5] -> 3.
    np.testing.assert_array_equal(saliency_grades(np.array([1.] * 9 + [-9.])),
                                  [3] * 9 + [1])
    # sigma = 0: every score equals mu, in the closed grade-1 interval.
    np.testing.assert_array_equal(saliency_grades(np.full(4, 0.1)), [1] * 4)


def test_relabel_finds_runs_touching_both_ends():
    similarity = np.array([0.5, -1., 1., 3., -1.5, 2.])
    labels = relabel_moment(similarity, (2, 4), clip_len=2.0)
    # S_pos = [1, 3] -> S_min = -1; the clip at exactly -1 is not "higher".
    assert labels['relevant_windows'] == [[0., 2.], [4., 8.], [10., 12.]]
    assert labels['relevant_clip_ids'] == [0, 2, 3, 5]
    # Positive scores [0.5, 1, 3, 2]: mu = 1.625, sigma = 0.9601, so
    # mu - 1.5 sigma = 0.185 and mu + 1.5 sigma = 3.065: grades 2, 2, 3, 3.
    assert labels['saliency_scores'] == [[2] * 3, [2] * 3, [3] * 3, [3] * 3]
    json.dumps(labels)  # plain JSON types


def test_annotated_interval_is_kept_below_ten_clips():
    # A value lies at most sqrt(n - 1) stds from the mean of n values, so
    # with n <= 9 (sqrt(8) < 3) no annotated clip reaches S_min.
    rng = np.random.default_rng(0)
    for _ in range(50):
        similarity = rng.uniform(-1, 1, 30)
        start = int(rng.integers(0, 20))
        end = start + int(rng.integers(1, 10))
        positive = relabel_moment(similarity, (start, end))[
            'relevant_clip_ids']
        assert set(range(start, end)) <= set(positive)


def test_annotated_outliers_are_dropped_from_ten_clips():
    # n = 10, nine 1s and one -9: S_min = -9 exactly, the outlier is out.
    labels = relabel_moment(np.array([1.] * 9 + [-9.]), (0, 10))
    assert labels['relevant_windows'] == [[0., 18.]]
    # n = 11, ten 1s around one -10: mean 0, std sqrt(10), S_min = -9.49:
    # the outlier in the middle splits the annotated interval.
    labels = relabel_moment(np.array([1.] * 5 + [-10.] + [1.] * 5), (0, 11))
    assert labels['relevant_windows'] == [[0., 10.], [12., 22.]]


def test_constant_annotated_scores_use_an_inclusive_threshold():
    # One clip: std 0 and S_min = 0.3; with "> S_min" nothing would be
    # positive, so clips scoring >= 0.3 are.
    labels = relabel_moment(np.array([0.1, 0.3, 0.2, 0.3]), (1, 2))
    assert labels['relevant_windows'] == [[2., 4.], [6., 8.]]
    assert labels['saliency_scores'] == [[1] * 3, [1] * 3]
    labels = relabel_moment(np.array([0.1, 0.1, 0.1, 0.05]), (0, 3))
    assert labels['relevant_windows'] == [[0., 6.]]


def test_seconds_to_clip_interval():
    # Clips covered by more than half (exactly half is not enough).
    assert seconds_to_clip_interval((3.0, 9.0), 2.0, 10) == (2, 4)
    assert seconds_to_clip_interval((2.9, 9.1), 2.0, 10) == (1, 5)
    assert seconds_to_clip_interval((4.2, 4.6), 2.0, 10) == (2, 3)
    assert seconds_to_clip_interval((17.5, 30.0), 2.0, 10) == (9, 10)
    assert seconds_to_clip_interval((30.0, 40.0), 2.0, 10) is None


def test_caption_embedding_keys(tmp_path):
    tokens = np.array([[1., 2.], [3., 4.]], np.float32)
    np.savez(tmp_path / 'both.npz', pooler_output=np.array([[5., 6.]]),
             last_hidden_state=tokens)
    np.savez(tmp_path / 'tokens.npz', last_hidden_state=tokens)
    np.savez(tmp_path / 'other.npz', embedding=tokens)
    np.testing.assert_array_equal(
        load_caption_embedding(str(tmp_path / 'both.npz')), [5., 6.])
    np.testing.assert_array_equal(
        load_caption_embedding(str(tmp_path / 'tokens.npz')), [2., 3.])
    with pytest.raises(DataError, match='pooler_output'):
        load_caption_embedding(str(tmp_path / 'other.npz'))


def profile_clips(scores) -> np.ndarray:
    """(L, 4) unit clips whose cosine to the axis e_0 is ``scores``."""
    scores = np.asarray(scores, np.float64)
    clips = np.zeros((len(scores), 4))
    clips[:, 0], clips[:, 1] = scores, np.sqrt(1 - scores**2)
    return clips.astype(np.float32)


def write_tiny_dataset(root: Path) -> Path:
    """Features and raw samples: 2 usable samples and 4 to skip."""
    video_dir, caption_dir = root / 'video', root / 'caption'
    video_dir.mkdir(parents=True)
    caption_dir.mkdir()
    axis = np.eye(4, dtype=np.float32)[0]
    np.savez(video_dir / 'v1.npz', features=profile_clips(
        [0.9, 0.1, 0.5, 0.6, 0.55, 0.1, 0.1, 0.58, 0.62, 0.1]))
    # 9 s: 5 feature clips, 4 whole ones (the 5th would match best).
    np.savez(video_dir / 'v2.npz',
             features=profile_clips([0.2, 0.3, 0.2, 0.8, 0.95]))
    np.savez(video_dir / 'v4.npz', features=profile_clips([0.5] * 40))
    np.savez(caption_dir / 'qid1.npz', pooler_output=axis)
    np.savez(caption_dir / 'qid2.npz', last_hidden_state=np.stack(
        [axis * 2, axis * 4]))
    for qid in (3, 4, 5):
        np.savez(caption_dir / f'qid{qid}.npz', pooler_output=axis)
    samples = [
        dict(vid='v1', qid=1, query='a man plays the guitar', duration=20,
             interval=[4, 10]),
        dict(vid='v2', qid=2, query='a dog runs on the beach', duration=9.0,
             interval=[6, 9]),
        dict(vid='v3', qid=3, query='a woman is cooking pasta', duration=20,
             interval=[0, 4]),
        dict(vid='v1', qid=4, query='the crowd is cheering', duration=20,
             interval=[6, 6]),
        dict(vid='v4', qid=5, query='a car drives at night', duration=20,
             interval=[0, 4]),
        dict(vid='v1', qid=6, query='a boy climbs a tree', duration=20,
             interval=[0, 4]),
    ]
    raw = root / 'raw.jsonl'
    raw.write_text(''.join(json.dumps(s) + '\n' for s in samples))
    return raw


def test_builder_skips_and_counts(tmp_path):
    raw = write_tiny_dataset(tmp_path)
    samples = [json.loads(line) for line in raw.read_text().splitlines()]
    lines, summary = build_intervid_mr(samples, str(tmp_path / 'video'),
                                       str(tmp_path / 'caption'))
    assert [line['qid'] for line in lines] == [1, 2]
    assert summary['num_samples'] == 6 and summary['num_written'] == 2
    assert summary['skipped'] == dict(
        missing_video_features=1, missing_caption_features=1,
        empty_interval=1, length_mismatch=1)
    # v1: S_pos = [0.5, 0.6, 0.55] -> S_min = 0.55 - 3 * 0.0408 = 0.4275.
    assert lines[0]['relevant_windows'] == [[0., 2.], [4., 10.], [14., 18.]]
    # Positives [0.9, .5, .6, .55, .58, .62]: mu = 0.625, sigma = 0.1288:
    # only 0.9 > mu + 1.5 sigma = 0.818; the rest lie in (0.432, 0.625].
    assert [s[0] for s in lines[0]['saliency_scores']] == [4, 2, 2, 2, 2, 2]
    # v2: one annotated clip (3) -> inclusive threshold 0.8; the partial
    # 5th clip is not labelled.
    assert lines[1]['relevant_clip_ids'] == [3]
    assert lines[1]['relevant_windows'] == [[6., 8.]]
    assert summary['grade_histogram'] == [1, 5, 0, 1]
    assert summary['num_windows'] == 4
    # Duplicated qids are skipped; a malformed sample is an error.
    _, summary = build_intervid_mr(samples[:1] * 2, str(tmp_path / 'video'),
                                   str(tmp_path / 'caption'))
    assert summary['skipped'] == dict(duplicate_qid=1)
    with pytest.raises(DataError, match='interval'):
        build_intervid_mr([dict(samples[0], interval=[4])],
                          str(tmp_path / 'video'), str(tmp_path / 'caption'))


def test_builder_rejects_captions_outside_the_video_space(tmp_path):
    raw = write_tiny_dataset(tmp_path)
    np.savez(tmp_path / 'caption' / 'qid1.npz', pooler_output=np.ones(3))
    sample = json.loads(raw.read_text().splitlines()[0])
    with pytest.raises(DataError, match='aligned space'):
        build_intervid_mr([sample], str(tmp_path / 'video'),
                          str(tmp_path / 'caption'))


def test_command_line_end_to_end(tmp_path, capsys):
    raw = write_tiny_dataset(tmp_path)
    out = tmp_path / 'out' / 'intervid_mr.jsonl'
    segments = tmp_path / 'segments'
    args = ['--input', str(raw), '--video-dir', str(tmp_path / 'video'),
            '--caption-dir', str(tmp_path / 'caption'), '--out', str(out),
            '--segment-dir', str(segments)]
    assert load_tool().main(args) == 0
    report = capsys.readouterr().out
    assert 'samples in: 6, written: 2, skipped: 4' in report
    assert ('caption filter removed: too_short 0, stop_words_only 0, '
            'duplicate_in_video 0\n') in report
    assert 'windows per sample: 2.00' in report
    assert 'grade histogram' in report and '4: 1 (14.3%)' in report
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp
    dataset = QVHighlightsDataset(ann_file=str(out), video_feat_dirs=None,
                                  text_feat_dir=None)
    assert len(dataset) == 2
    sample = dataset[0]['data_samples']
    np.testing.assert_allclose(sample.gt_instances.spans.numpy(),
                               [[0., .1], [.2, .5], [.7, .9]])
    assert sample.gt_saliency.shape == (10, 3)
    assert sample.gt_saliency[:, 0].tolist() == [4, 0, 2, 2, 2, 0, 0, 2, 2, 0]
    # Short videos are kept whole: their whole clips are the segment, the
    # 9 s video has 4 (8 s).
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line['vid'], line['duration']) for line in lines] == [
        ('v1_0.0_20.0', 20.0), ('v2_0.0_8.0', 8.0)]
    assert sorted(p.name for p in segments.iterdir()) == [
        'v1_0.0_20.0.npz', 'v2_0.0_8.0.npz']
    with np.load(segments / 'v2_0.0_8.0.npz') as npz:
        np.testing.assert_array_equal(
            npz['features'],
            np.load(tmp_path / 'video' / 'v2.npz')['features'][:4])


def test_pretrain_and_finetune_configs():
    pretrain = Config.fromfile(str(PRETRAIN_CONFIG))
    finetune = Config.fromfile(str(FINETUNE_CONFIG))
    train_set = pretrain.train_dataloader.dataset
    assert train_set.type == 'QVHighlightsDataset'
    # trained with the pipeline of QVHighlights training
    assert [t.type for t in train_set.pipeline] == [
        'TruncateFeatures', 'AppendTemporalEndpoints', 'PadClips', 'BuildMomentTargets',
        'PackMomentInputs']
    assert train_set.ann_file == 'annotations/intervid_mr_train.jsonl'
    # Validation is QVHighlights val: zero-shot for the pretrained model.
    assert pretrain.val_evaluator.ann_file.endswith(
        'qvhighlights/annotations/highlight_val_release.jsonl')
    assert pretrain.val_dataloader.dataset.data_root == 'data/qvhighlights/'
    # Fine-tuning starts from the last checkpoint of the pretrain work dir.
    assert finetune.load_from == (f'work_dirs/{PRETRAIN_CONFIG.stem}/epoch_'
                                  f'{pretrain.train_cfg.max_epochs}.pth')
    assert finetune.train_dataloader.dataset.data_root == 'data/qvhighlights/'


def test_command_line_on_the_synthetic_layout(synthetic_root, tmp_path,
                                              capsys):
    out = tmp_path / 'intervid_mr.jsonl'
    segments = tmp_path / 'segments'  # not in the shared synthetic root
    assert load_tool().main(['--demo-from-synthetic', str(synthetic_root),
                             '--segment-dir', str(segments),
                             '--out', str(out)]) == 0
    assert 'planted windows found' in capsys.readouterr().out
    # The pretrain config trains on it as on any QVHighlights split.
    loader_cfg = Config.fromfile(str(PRETRAIN_CONFIG)).train_dataloader
    loader_cfg.update(num_workers=0, persistent_workers=False, batch_size=4)
    loader_cfg.dataset.update(
        data_root=str(synthetic_root), ann_file=str(out), feature_layout='npz',
        video_feat_dirs=[str(segments)],
        text_feat_dir='features/text',
        video_dim=32, text_dim=32)
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    assert len(loader.dataset) == 40
    batch = MomentDataPreprocessor()(next(iter(loader)), training=True)
    assert batch['inputs']['video'].shape[0] == 4
    assert batch['inputs']['video'].shape[2] == 32 + 2
