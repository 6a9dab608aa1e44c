"""1D weighted boxes fusion."""
import pytest
import torch

from sgdetr.models.postprocess import weighted_span_fusion

# model A: [0, .4] (.9), [.6, .8] (.3); model B: [.1, .5] (.6)
SPANS = [torch.tensor([[0.0, 0.4], [0.6, 0.8]]), torch.tensor([[0.1, 0.5]])]
SCORES = [torch.tensor([0.9, 0.3]), torch.tensor([0.6])]


def test_overlapping_cluster_and_singleton():
    # [.1, .5] vs [0, .4]: IoU .3 / .5 = .6 > .55 -> joins; fused
    # (.9 * [0, .4] + .6 * [.1, .5]) / 1.5 = [.04, .44], score mean(.9, .6)
    # * min(2, 2) / 2 = .75. [.6, .8] alone: .3 * 1 / 2 = .15.
    spans, scores = weighted_span_fusion(SPANS, SCORES, iou_thr=0.55)
    torch.testing.assert_close(spans, torch.tensor([[0.04, 0.44], [0.6, 0.8]]))
    torch.testing.assert_close(scores, torch.tensor([0.75, 0.15]))


def test_iou_threshold_separates_clusters_and_is_strict():
    spans, scores = weighted_span_fusion(SPANS, SCORES, iou_thr=0.61)
    # IoU .6 does not reach .61: three singletons, each score * 1 / 2
    torch.testing.assert_close(scores, torch.tensor([0.45, 0.3, 0.15]))
    torch.testing.assert_close(spans, torch.tensor(
        [[0.0, 0.4], [0.1, 0.5], [0.6, 0.8]]))
    # [0, 1] and [.25, 1]: IoU exactly .75
    pair = [torch.tensor([[0., 1.]]), torch.tensor([[.25, 1.]])]
    pair_scores = [torch.tensor([.5]), torch.tensor([.5])]
    assert len(weighted_span_fusion(pair, pair_scores, iou_thr=0.75)[0]) == 2
    assert len(weighted_span_fusion(pair, pair_scores, iou_thr=0.7499)[0]) == 1


def test_model_weights_move_the_fused_span_and_score():
    # weights (2, 1): confidences 1.8, .6 (B), .5 (A's [.6, .8] at .25).
    # fused (1.8 * [0, .4] + .6 * [.1, .5]) / 2.4 = [.025, .425],
    # score mean(1.8, .6) * 2 / 3 = .8; singleton .5 * 1 / 3.
    scores_in = [torch.tensor([0.9, 0.25]), torch.tensor([0.6])]
    spans, scores = weighted_span_fusion(SPANS, scores_in, model_weights=(2, 1))
    torch.testing.assert_close(spans, torch.tensor([[0.025, 0.425], [0.6, 0.8]]))
    torch.testing.assert_close(scores, torch.tensor([0.8, 0.5 / 3]))
    # scaling every weight changes nothing
    spans2, scores2 = weighted_span_fusion(SPANS, scores_in, model_weights=(4, 2))
    torch.testing.assert_close(spans2, spans)
    torch.testing.assert_close(scores2, scores)


def test_skip_threshold_applies_to_model_scores():
    # .3 < .5 is dropped; B's .6 stays although its weighted confidence is .3
    spans, scores = weighted_span_fusion(SPANS, SCORES, model_weights=(1, 0.5),
                                         skip_score_thr=0.5)
    # fused (.9 * [0, .4] + .3 * [.1, .5]) / 1.2 = [.025, .425],
    # score mean(.9, .3) * 2 / 1.5 = .8
    torch.testing.assert_close(spans, torch.tensor([[0.025, 0.425]]))
    torch.testing.assert_close(scores, torch.tensor([0.8]))


def test_zero_score_filler_rows_are_ignored():
    spans, scores = weighted_span_fusion(
        [torch.tensor([[0.2, 0.4], [0.0, 0.0]])], [torch.tensor([0.5, 0.0])])
    torch.testing.assert_close(spans, torch.tensor([[0.2, 0.4]]))
    torch.testing.assert_close(scores, torch.tensor([0.5]))


def test_later_boxes_match_the_updated_fused_span():
    # one model, in twentieths: [0, 10] (.9), [2, 12] (.8) IoU .667 joins -> fused
    # [.9412, 10.9412]. [3.5, 13.5] (.7) overlaps [0, 10] only .481 but the
    # fused span .5925 > .55: joins. Fused (0 + 1.6 + 2.45) / 2.4 = 1.6875,
    # (9 + 9.6 + 9.45) / 2.4 = 11.6875; score mean * min(3, 1) / 1 = .8.
    spans, scores = weighted_span_fusion(
        [torch.tensor([[0., 10.], [2., 12.], [3.5, 13.5]]) / 20],
        [torch.tensor([0.9, 0.8, 0.7])])
    torch.testing.assert_close(spans, torch.tensor([[1.6875, 11.6875]]) / 20)
    torch.testing.assert_close(scores, torch.tensor([0.8]))


def test_box_joins_the_cluster_it_overlaps_most():
    # in twentieths: clusters [0, 10] (.9) and [6, 16] (.8) (IoU .25 < .4 apart);
    # [4, 14] (.5): IoU .43 with the first, .667 with the second -> second:
    # (.8 * [6, 16] + .5 * [4, 14]) / 1.3, score (.8 + .5) / 2.
    spans, scores = weighted_span_fusion(
        [torch.tensor([[0., 10.], [6., 16.], [4., 14.]]) / 20],
        [torch.tensor([0.9, 0.8, 0.5])], iou_thr=0.4)
    torch.testing.assert_close(spans, torch.tensor(
        [[0., 10.], [6.8 / 1.3, 19.8 / 1.3]]) / 20)
    torch.testing.assert_close(scores, torch.tensor([0.9, 0.65]))


def test_spans_are_clipped_to_the_video_and_ordered():
    # [-.2, .3] -> [0, .3]; [1.1, 1.3] is empty once clipped and dropped;
    # [.9, .6] is read as [.6, .9]
    spans, scores = weighted_span_fusion(
        [torch.tensor([[-0.2, 0.3], [1.1, 1.3], [0.9, 0.6]])],
        [torch.tensor([0.5, 0.9, 0.4])])
    torch.testing.assert_close(spans, torch.tensor([[0.0, 0.3], [0.6, 0.9]]))
    torch.testing.assert_close(scores, torch.tensor([0.5, 0.4]))


def test_max_conf_type():
    _, scores = weighted_span_fusion(SPANS, SCORES, conf_type='max')
    torch.testing.assert_close(scores, torch.tensor([0.9, 0.3]))
    with pytest.raises(ValueError):
        weighted_span_fusion(SPANS, SCORES, conf_type='median')


def test_empty_input():
    spans, scores = weighted_span_fusion([torch.zeros(0, 2)], [torch.zeros(0)])
    assert spans.shape == (0, 2) and scores.shape == (0,)
