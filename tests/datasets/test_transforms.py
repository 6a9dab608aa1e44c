"""The pipeline transforms of the released data path: truncation, temporal
endpoint features, clip padding and the saliency clip pairs."""
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose

from sgdetr.datasets import (AppendTemporalEndpoints, BuildMomentTargets,
                             PackMomentInputs, PadClips, TruncateFeatures,
                             sample_saliency_pairs)


def results(num_clips=10, dim_v=3, num_tokens=9, dim_t=2, with_features=True, **extra):
    """A ``results`` dict as the dataset hands it to its pipeline."""
    rng = np.random.default_rng(0)
    out = dict(qid=0, vid='v', query='q', duration=num_clips * 2.0, clip_len=2.0,
               num_clips=num_clips, windows=None, saliency_clip_ids=None,
               saliency_scores=None, label=None)
    if with_features:
        out['video'] = rng.standard_normal((num_clips, dim_v)).astype(np.float32)
        out['text'] = rng.standard_normal((num_tokens, dim_t)).astype(np.float32)
    out.update(extra)
    return out


# -- TruncateFeatures ----------------------------------------------------------
def test_truncate_keeps_the_first_clips_and_tokens():
    given = results(num_clips=10, num_tokens=9)
    video, text = given['video'].copy(), given['text'].copy()
    out = TruncateFeatures(max_clips=6, max_tokens=4)(given)
    np.testing.assert_array_equal(out['video'], video[:6])
    np.testing.assert_array_equal(out['text'], text[:4])
    assert out['num_clips'] == 6


@pytest.mark.parametrize('max_clips, max_tokens', [(None, None), (10, 9), (50, 40)])
def test_truncate_within_the_limits_changes_nothing(max_clips, max_tokens):
    given = results(num_clips=10, num_tokens=9)
    video, text = given['video'].copy(), given['text'].copy()
    out = TruncateFeatures(max_clips, max_tokens)(given)
    np.testing.assert_array_equal(out['video'], video)
    np.testing.assert_array_equal(out['text'], text)
    assert out['num_clips'] == 10


def test_truncate_in_annotation_only_mode_caps_num_clips():
    out = TruncateFeatures(max_clips=8, max_tokens=4)(results(11, with_features=False))
    assert out['num_clips'] == 8 and 'video' not in out and 'text' not in out
    assert TruncateFeatures(max_clips=8)(results(5, with_features=False))['num_clips'] == 5
    assert TruncateFeatures()(results(11, with_features=False))['num_clips'] == 11


def test_truncated_timeline_drops_and_clips_windows():
    pipeline = Compose([TruncateFeatures(max_clips=6), BuildMomentTargets()])
    out = pipeline(results(10, windows=np.array([[2.0, 6.0], [8.0, 14.0], [16.0, 20.0]])))
    assert out['timeline'] == 12.0
    np.testing.assert_allclose(out['gt_spans'], [[2 / 12, 6 / 12], [8 / 12, 1.0]])


# -- AppendTemporalEndpoints ---------------------------------------------------
def test_endpoints_of_four_clips():
    given = results(num_clips=4, dim_v=3)
    video = given['video'].copy()
    out = AppendTemporalEndpoints()(given)['video']
    assert out.shape == (4, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :3], video)
    np.testing.assert_array_equal(out[:, 3], [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(out[:, 4], [0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize('num_clips', [1, 3, 7, 75, 200])
def test_endpoints_are_the_released_start_and_end(num_clips):
    out = AppendTemporalEndpoints()(results(num_clips=num_clips, dim_v=2))['video']
    # bit for bit the released float32 computation ...
    start = torch.arange(0, num_clips, 1.0) / num_clips
    end = start + 1.0 / num_clips
    np.testing.assert_array_equal(out[:, 2], start.numpy())
    np.testing.assert_array_equal(out[:, 3], end.numpy())
    # ... i.e. i / L and (i + 1) / L
    index = np.arange(num_clips)
    np.testing.assert_allclose(out[:, 2], index / num_clips, rtol=0, atol=1e-7)
    np.testing.assert_allclose(out[:, 3], (index + 1) / num_clips, rtol=0, atol=1e-7)


def test_endpoints_without_features_change_nothing():
    given = results(num_clips=5, with_features=False)
    assert AppendTemporalEndpoints()(dict(given)) == given


# -- PadClips ------------------------------------------------------------------
@pytest.mark.parametrize('num_clips, padded', [(1, 4), (6, 8), (8, 8), (75, 76)])
def test_pad_appends_zero_clips_up_to_a_multiple_of_four(num_clips, padded):
    given = results(num_clips=num_clips, dim_v=3)
    video = given['video'].copy()
    out = PadClips(multiple=4)(given)
    assert out['video'].shape == (padded, 3) and out['video'].dtype == np.float32
    np.testing.assert_array_equal(out['video'][:num_clips], video)
    assert not out['video'][num_clips:].any()
    assert (out['num_clips'], out['num_real_clips']) == (padded, num_clips)


def test_pad_other_multiples_and_annotation_only_mode():
    assert PadClips(multiple=3)(results(7, dim_v=2))['video'].shape == (9, 2)
    out = PadClips()(results(5, with_features=False))
    assert (out['num_clips'], out['num_real_clips']) == (8, 5) and 'video' not in out


def test_padded_clips_count_as_clips_of_the_video():
    # 6 real clips of 2 s padded to 8: the timeline is 16 s, not 12 s
    pipeline = Compose([TruncateFeatures(max_clips=75), AppendTemporalEndpoints(),
                        PadClips(4), BuildMomentTargets(), PackMomentInputs()])
    sample = pipeline(results(
        num_clips=6, dim_v=3, windows=np.array([[2.0, 6.0]]),
        saliency_clip_ids=np.array([1, 2]),
        saliency_scores=np.array([[4, 2, 3], [1, 1, 1]], np.float32)))
    video, data_sample = sample['inputs']['video'], sample['data_samples']
    assert video.shape == (8, 5)
    # endpoints of the 6 real clips (i / 6, (i + 1) / 6); the padding is zeros
    torch.testing.assert_close(video[:6, 3], torch.arange(6) / 6.0)
    torch.testing.assert_close(video[:6, 4], torch.arange(1, 7) / 6.0)
    assert not video[6:].any()
    assert (data_sample.num_clips, data_sample.num_real_clips) == (8, 6)
    assert data_sample.timeline == 16.0
    torch.testing.assert_close(data_sample.gt_instances.spans,
                               torch.tensor([[2 / 16, 6 / 16]]))
    assert data_sample.gt_saliency.shape == (8, 3)
    assert data_sample.gt_saliency.sum(1).tolist() == [0, 9, 3, 0, 0, 0, 0, 0]


# -- sample_saliency_pairs -----------------------------------------------------
def graded(num_clips=8):
    """Relevant clips 1, 2, 4, 5 summing to 3, 9, 1, 6; clip 7 (not
    relevant) scores more than any of them."""
    saliency = np.zeros((num_clips, 3), np.float32)
    saliency[[1, 2, 4, 5]] = [[1, 1, 1], [3, 3, 3], [0, 1, 0], [2, 2, 2]]
    saliency[7] = [4, 4, 4]
    return saliency, np.array([1, 2, 4, 5])


def test_hard_pair_is_the_best_and_worst_relevant_clip():
    saliency, relevant = graded()
    for seed in range(20):
        pos, neg = sample_saliency_pairs(saliency, relevant, 8,
                                         rng=np.random.default_rng(seed))
        assert pos.shape == neg.shape == (2, )
        assert pos.dtype == neg.dtype == np.int64
        assert (pos[0], neg[0]) == (2, 4)


def test_easy_pair_draws_a_relevant_clip_and_one_outside():
    saliency, relevant = graded()
    easy_pos, easy_neg = set(), set()
    for seed in range(200):
        pos, neg = sample_saliency_pairs(saliency, relevant, 8,
                                         rng=np.random.default_rng(seed))
        easy_pos.add(int(pos[1]))
        easy_neg.add(int(neg[1]))
    assert easy_pos == {1, 2, 4, 5}
    # never a relevant clip; any other clip, whatever its score
    assert easy_neg == {0, 3, 6, 7}


def test_easy_negative_may_be_a_padded_clip():
    saliency, relevant = graded(num_clips=8)
    padded = np.concatenate([saliency, np.zeros((4, 3), np.float32)])
    drawn = {int(sample_saliency_pairs(padded, relevant, 12,
                                       rng=np.random.default_rng(seed))[1][1])
             for seed in range(300)}
    assert drawn == {0, 3, 6, 7, 8, 9, 10, 11}


def test_module_generator_is_the_default():
    saliency, relevant = graded()
    np.random.seed(3)
    first = sample_saliency_pairs(saliency, relevant, 8)
    np.random.seed(3)
    again = sample_saliency_pairs(saliency, relevant, 8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def test_every_clip_relevant_uses_the_hard_pair_twice():
    saliency = np.array([[2.], [5.], [1.], [3.]], np.float32)
    pos, neg = sample_saliency_pairs(saliency, np.arange(4), 4)
    assert pos.tolist() == [1, 1] and neg.tolist() == [2, 2]


def test_no_relevant_clip_gives_minus_one():
    pos, neg = sample_saliency_pairs(np.zeros((5, 1), np.float32),
                                     np.zeros(0, np.int64), 5)
    assert pos.tolist() == neg.tolist() == [-1, -1]
    assert pos.dtype == neg.dtype == np.int64


def test_relevant_ids_past_the_clips_are_the_last_clip():
    saliency = np.zeros((4, 1), np.float32)
    saliency[[1, 3]] = [[2.], [1.]]
    pos, neg = sample_saliency_pairs(saliency, np.array([1, 3, 6]), 4,
                                     rng=np.random.default_rng(0))
    assert (pos[0], neg[0]) == (1, 3)
    assert pos[1] in (1, 3) and neg[1] in (0, 2)


# -- BuildMomentTargets --------------------------------------------------------
def test_clip_pairs_of_annotated_scores():
    saliency, _ = graded()
    clip_ids = np.array([5, 1, 4, 2])  # any order in the annotation
    out = BuildMomentTargets()(results(
        num_clips=8, saliency_clip_ids=clip_ids, saliency_scores=saliency[clip_ids]))
    assert (out['pos_clip_indices'][0], out['neg_clip_indices'][0]) == (2, 4)
    assert out['pos_clip_indices'][1] in clip_ids
    assert out['neg_clip_indices'][1] not in clip_ids


def test_clip_pairs_of_binary_saliency_are_the_window_clips():
    # 8 clips of 2 s; [4, 10] covers clips 2, 3, 4
    for seed in range(10):
        np.random.seed(seed)
        out = BuildMomentTargets()(results(num_clips=8, windows=np.array([[4.0, 10.0]])))
        assert np.flatnonzero(out['gt_saliency'][:, 0]).tolist() == [2, 3, 4]
        # equal scores: the hard pair is the first and the last (stable order)
        assert (out['pos_clip_indices'][0], out['neg_clip_indices'][0]) == (4, 2)
        assert out['pos_clip_indices'][1] in (2, 3, 4)
        assert out['neg_clip_indices'][1] in (0, 1, 5, 6, 7)


def test_max_windows_keeps_a_random_subset_in_order():
    windows = np.array([[0.0, 2.0], [4.0, 6.0], [8.0, 10.0], [12.0, 14.0], [16.0, 18.0]])
    spans = windows / 20.0
    subsets = set()
    for seed in range(30):
        np.random.seed(seed)
        out = BuildMomentTargets(max_windows=2)(results(num_clips=10, windows=windows))
        kept = out['gt_spans']
        assert kept.shape == (2, 2) and kept.dtype == np.float32
        rows = [int(np.flatnonzero(np.isclose(spans, row).all(1))[0]) for row in kept]
        assert rows == sorted(rows) and len(set(rows)) == 2  # distinct, in order
        subsets.add(tuple(rows))
    assert len(subsets) > 3  # a random subset, not always the first ones
    for max_windows in (None, 5, 10):
        out = BuildMomentTargets(max_windows=max_windows)(results(10, windows=windows))
        np.testing.assert_allclose(out['gt_spans'], spans, rtol=1e-6)


def test_max_windows_counts_the_windows_inside_the_timeline():
    # two windows past the 20 s timeline are dropped first: both others kept
    windows = np.array([[0.0, 4.0], [22.0, 24.0], [6.0, 8.0], [25.0, 30.0]])
    out = BuildMomentTargets(max_windows=2)(results(num_clips=10, windows=windows))
    np.testing.assert_allclose(out['gt_spans'], [[0.0, 0.2], [0.3, 0.4]], rtol=1e-6)


def test_repr_names_the_arguments():
    assert repr(BuildMomentTargets(max_windows=10)) == \
        'BuildMomentTargets(binary_saliency=True, max_windows=10)'
    assert repr(TruncateFeatures(75, 40)) == 'TruncateFeatures(max_clips=75, max_tokens=40)'
    assert repr(PadClips(4)) == 'PadClips(multiple=4)'
