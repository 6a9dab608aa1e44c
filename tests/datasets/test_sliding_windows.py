"""SlidingWindows / moment_collate / RandomClipCrop: a long video as windows of the
trained length, each prepared as a video of its own."""
import numpy as np
import pytest
import torch

from sgdetr.datasets.sliding_windows import (RandomClipCrop, SlidingWindows, moment_collate,
                                             window_starts)
from sgdetr.registry import FUNCTIONS, TRANSFORMS

INNER = [dict(type='AppendTemporalEndpoints'), dict(type='PadClips', multiple=4),
         dict(type='BuildMomentTargets'), dict(type='PackMomentInputs')]


def results(num_clips, dim=6, windows=((10.0, 20.0),), clip_len=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return dict(video=rng.normal(size=(num_clips, dim)).astype(np.float32),
                text=rng.normal(size=(5, dim)).astype(np.float32), qid=7, vid='v', query='q',
                duration=num_clips * clip_len, clip_len=clip_len, num_clips=num_clips,
                windows=np.array(windows, np.float64).reshape(-1, 2))


@pytest.mark.parametrize('num_clips,window,stride,expected', [
    (75, 75, 56, [0]), (10, 75, 56, [0]), (76, 75, 56, [0, 1]),
    (200, 75, 56, [0, 56, 112, 125]), (150, 75, 75, [0, 75]), (190, 75, 75, [0, 75, 115])])
def test_window_starts_cover_the_video(num_clips, window, stride, expected):
    starts = window_starts(num_clips, window, stride)
    assert starts.tolist() == expected
    covered = np.zeros(num_clips, bool)
    for s in starts:
        covered[s:s + window] = True
    assert covered.all() and starts[-1] + min(window, num_clips) == num_clips


def test_a_video_that_fits_is_the_inner_pipeline_exactly():
    inner = TRANSFORMS.build(dict(type='SlidingWindows', window=75, transforms=[]))
    assert inner.stride == 56
    plain = [TRANSFORMS.build(t) for t in INNER]
    expected = results(75)
    for t in plain:
        expected = t(expected)
    got = TRANSFORMS.build(dict(type='SlidingWindows', window=75, transforms=INNER))(results(75))
    assert torch.equal(got['inputs']['video'], expected['inputs']['video'])
    assert torch.equal(got['inputs']['text'], expected['inputs']['text'])
    assert got['data_samples'].metainfo == expected['data_samples'].metainfo


def test_windows_are_videos_of_their_own():
    sample = results(200, windows=((100.0, 130.0), (2.0, 4.0)))
    out = SlidingWindows(75, 56, [TRANSFORMS.build(t) for t in INNER])(sample)
    starts = [0, 56, 112, 125]
    assert len(out['inputs']) == len(out['data_samples']) == 4
    for index, (inputs, data_sample) in enumerate(zip(out['inputs'], out['data_samples'])):
        start = starts[index]
        video = inputs['video']
        assert video.shape == (76, 6 + 2)  # 75 clips + endpoints, padded to 76
        np.testing.assert_array_equal(video[:75, :6].numpy(), sample['video'][start:start + 75])
        # the window's own temporal endpoints: i / 75
        np.testing.assert_allclose(video[:75, 6].numpy(), np.arange(75) / 75, atol=1e-7)
        meta = data_sample.metainfo
        assert (meta['window_index'], meta['num_windows'], meta['window_start']) == (
            index, 4, start)
        assert meta['video_num_clips'] == 200 and meta['video_duration'] == 400.0
        assert meta['num_real_clips'] == 75 and meta['timeline'] == 152.0
        # ground truth moved by the window's start, windows outside it dropped
        expected = [[s - 2 * start, e - 2 * start] for s, e in ((100, 130), (2, 4))
                    if e > 2 * start and s < 2 * start + 150]
        spans = data_sample.gt_instances.spans.numpy() * 152.0
        np.testing.assert_allclose(spans, np.clip(expected, 0, 150).reshape(-1, 2), atol=1e-4)
    # the original sample is not modified
    assert sample['video'].shape == (200, 6)


def test_saliency_clip_ids_move_with_the_window():
    sample = results(100)
    sample['saliency_clip_ids'] = np.array([5, 40, 90])
    sample['saliency_scores'] = np.array([[1, 2, 3], [4, 4, 4], [0, 1, 2]], np.float32)
    out = SlidingWindows(75, 50, [TRANSFORMS.build(t) for t in INNER])(sample)
    second = out['data_samples'][1]  # clips 25..99
    saliency = second.gt_saliency.numpy()
    assert saliency.shape == (76, 3)
    np.testing.assert_array_equal(saliency[15], [4, 4, 4])
    np.testing.assert_array_equal(saliency[65], [0, 1, 2])
    assert saliency.sum() == 12 + 3


def test_bad_window_settings_are_errors():
    with pytest.raises(ValueError, match='stride must be in'):
        SlidingWindows(75, 80)
    with pytest.raises(ValueError, match='window must be'):
        SlidingWindows(0)


def test_moment_collate_lays_windows_side_by_side():
    transform = SlidingWindows(75, 56, [TRANSFORMS.build(t) for t in INNER])
    batch = [transform(results(30)), transform(results(200)), transform(results(75))]
    collate = FUNCTIONS.get('sgdetr.moment_collate')
    assert collate is moment_collate
    out = collate(batch)
    assert len(out['data_samples']) == len(out['inputs']['video']) == 1 + 4 + 1
    assert [s.metainfo.get('window_index') for s in out['data_samples']] == [
        None, 0, 1, 2, 3, None]


def test_random_clip_crop_keeps_the_windows_and_is_seeded():
    crop = RandomClipCrop(75)
    starts = set()
    for seed in range(30):
        np.random.seed(seed)
        out = crop(results(400, windows=((300.0, 340.0), (330.0, 360.0))))
        assert out['video'].shape == (75, 6) and out['num_clips'] == 75
        windows = out['windows']
        assert len(windows) == 2 and windows.min() >= 0 and windows.max() <= 150
        start = int(round((300.0 - windows[0, 0]) / 2))
        np.testing.assert_array_equal(out['video'], results(400)['video'][start:start + 75])
        starts.add(start)
    assert len(starts) > 5  # random, not fixed
    np.random.seed(3)
    first = crop(results(400))['video']
    np.random.seed(3)
    np.testing.assert_array_equal(crop(results(400))['video'], first)
    # a video that fits is untouched
    short = results(50)
    assert crop(short) is short
