"""Merging the windows of a long video back onto its timeline."""
import pytest
import torch
from mmengine.structures import InstanceData

from sgdetr.models.postprocess import merge_moments, merge_saliency, merge_window_samples
from sgdetr.models.postprocess.window_merge import clip_saliency_mean
from sgdetr.structures import MomentDataSample


def test_merge_saliency_averages_overlaps():
    starts = torch.tensor([0, 3, 5])
    saliency = [torch.ones(4), 3 * torch.ones(4), 5 * torch.ones(4)]
    merged = merge_saliency(saliency, starts, 9)
    assert merged.shape == (9,)
    torch.testing.assert_close(merged, torch.tensor([1, 1, 1, 2, 3, 4, 4, 5, 5.]))


def test_overlapping_windows_keep_the_best_and_the_limit():
    spans = torch.tensor([[0., 10], [1, 10], [20, 30], [0, 9], [50, 60]])
    scores = torch.tensor([0.9, 0.95, 0.5, 0.1, 0.7])
    one = InstanceData(spans=spans, scores=scores)
    args = dict(starts=torch.tensor([0]), clip_len=1.0, duration=100.0)
    kept, kept_scores = merge_moments([one], max_windows=10, nms_thr=0.7, **args)
    assert kept.tolist() == [[1, 10], [50, 60], [20, 30]]
    assert kept_scores.tolist() == pytest.approx([0.95, 0.7, 0.5])
    assert merge_moments([one], max_windows=2, nms_thr=0.7, **args)[0].tolist() == [
        [1, 10], [50, 60]]
    # without overlap nothing is suppressed: a sort by score
    assert merge_moments([one], max_windows=10, nms_thr=1.0, **args)[1].tolist() == \
        pytest.approx([0.95, 0.9, 0.7, 0.5, 0.1])


def test_clip_saliency_mean_reads_the_clips_a_span_covers():
    saliency = torch.tensor([0., 1, 2, 3, 4, 5])
    spans = torch.tensor([[0., 4], [4, 12], [2.5, 3.0], [10, 10]])
    torch.testing.assert_close(clip_saliency_mean(spans, saliency, 2.0),
                               torch.tensor([0.5, 3.5, 1.0, 5.0]))


def test_merge_moments_moves_windows_and_suppresses_duplicates():
    starts = torch.tensor([0, 50])
    first = InstanceData(spans=torch.tensor([[110., 130], [0, 10]]), scores=torch.tensor([.9, .3]))
    second = InstanceData(spans=torch.tensor([[10., 30], [60, 80]]), scores=torch.tensor([.8, .6]))
    spans, scores = merge_moments([first, second], starts, clip_len=2.0, duration=220.0,
                                  max_windows=10, nms_thr=0.7)
    # [110, 130] of window 0 and [10, 30] + 100 of window 1 are one moment
    assert spans.tolist() == [[110, 130], [160, 180], [0, 10]]
    assert scores.tolist() == pytest.approx([0.9, 0.6, 0.3])
    # clipped to the video, empty windows dropped
    spans, _ = merge_moments([second], torch.tensor([100]), 2.0, duration=250.0,
                             max_windows=10, nms_thr=0.7)
    assert spans.tolist() == [[210, 230]]
    spans, scores = merge_moments([second], torch.tensor([100]), 2.0, duration=240.0,
                                  max_windows=10, nms_thr=0.7)
    assert spans.tolist() == [[210, 230]] and len(scores) == 1


def test_saliency_rescoring_ranks_the_matching_window_first():
    """Each window thinks its best span is good; the video's saliency decides."""
    starts = torch.tensor([0, 10])
    saliency = torch.cat([torch.full((10,), -3.0), torch.full((10,), 3.0)])
    first = InstanceData(spans=torch.tensor([[2., 8]]), scores=torch.tensor([0.9]))
    second = InstanceData(spans=torch.tensor([[2., 8]]), scores=torch.tensor([0.8]))
    plain = merge_moments([first, second], starts, 1.0, 20.0, 10, 0.7)[0]
    assert plain[0].tolist() == [2, 8]
    rescored, scores = merge_moments([first, second], starts, 1.0, 20.0, 10, 0.7,
                                     rescore='saliency', saliency=saliency)
    assert rescored[0].tolist() == [12, 18]
    assert scores[0] == pytest.approx(0.8 * torch.sigmoid(torch.tensor(3.0)).item())
    with pytest.raises(ValueError, match='unknown rescore rule'):
        merge_moments([first], starts[:1], 1.0, 20.0, 10, 0.7, rescore='max')


def window_sample(index, count, start, spans, scores, saliency, num_clips=20):
    sample = MomentDataSample(metainfo=dict(
        qid=1, clip_len=1.0, duration=10.0, num_clips=12, num_real_clips=10, timeline=12.0,
        window_index=index, num_windows=count, window_start=start,
        video_num_clips=num_clips, video_duration=float(num_clips)))
    sample.pred_instances = InstanceData(spans=torch.tensor(spans), scores=torch.tensor(scores))
    sample.pred_saliency = torch.tensor(saliency)
    return sample


def test_merge_window_samples_one_sample_per_query():
    short = MomentDataSample(metainfo=dict(qid=0, num_clips=8))
    windows = [window_sample(0, 2, 0, [[1., 3]], [0.5], [1.0] * 10),
               window_sample(1, 2, 10, [[1., 3]], [0.7], [3.0] * 10)]
    merged = merge_window_samples([short, *windows], dict(nms_thr=0.7, max_windows=10))
    assert len(merged) == 2 and merged[0] is short
    video = merged[1]
    assert video.metainfo['duration'] == 20.0 and video.metainfo['num_clips'] == 20
    assert video.pred_saliency.tolist() == [1.0] * 10 + [3.0] * 10
    assert video.pred_instances.spans.tolist() == [[11, 13], [1, 3]]
    # whole_video=False: the first window only, the released truncation
    windows = [window_sample(0, 2, 0, [[1., 3]], [0.5], [1.0] * 10),
               window_sample(1, 2, 10, [[1., 3]], [0.7], [3.0] * 10)]
    first = merge_window_samples(windows[:1], dict(nms_thr=0.7, max_windows=10),
                                 whole_video=False)
    assert len(first) == 1 and first[0].pred_saliency.tolist() == [1.0] * 10
    assert first[0].metainfo['duration'] == 20.0


def test_windows_out_of_order_or_missing_are_an_error():
    windows = [window_sample(1, 2, 10, [[1., 3]], [0.7], [3.0] * 10),
               window_sample(0, 2, 0, [[1., 3]], [0.5], [1.0] * 10)]
    with pytest.raises(RuntimeError, match='moment_collate'):
        merge_window_samples(windows, dict(nms_thr=0.7, max_windows=10))
    with pytest.raises(RuntimeError, match='consecutive'):
        merge_window_samples(windows[1:], dict(nms_thr=0.7, max_windows=10))


def test_a_span_cut_by_a_window_edge_loses_to_the_whole_moment():
    """Clips 68-82 cross the end of window [0, 75): window [56, 131) holds them whole."""
    starts = torch.tensor([0, 56])
    cut = InstanceData(spans=torch.tensor([[136., 150]]), scores=torch.tensor([0.9]))
    whole = InstanceData(spans=torch.tensor([[24., 52]]), scores=torch.tensor([0.8]))
    args = dict(clip_len=2.0, duration=262.0, max_windows=10, nms_thr=0.7, window_clips=75,
                num_clips=131)
    spans, _ = merge_moments([cut, whole], starts, **args)
    assert spans[0].tolist() == [136, 150]
    spans, scores = merge_moments([cut, whole], starts, edge_factor=0.5, **args)
    assert spans.tolist() == [[136, 164], [136, 150]]
    assert scores.tolist() == pytest.approx([0.8, 0.45])
    # the video's own start and end are no cut
    first = InstanceData(spans=torch.tensor([[0., 10]]), scores=torch.tensor([0.9]))
    last = InstanceData(spans=torch.tensor([[140., 150]]), scores=torch.tensor([0.9]))
    _, scores = merge_moments([first, last], starts, edge_factor=0.5,
                              **dict(args, duration=262.0, num_clips=131))
    assert scores.tolist() == pytest.approx([0.9, 0.9])
