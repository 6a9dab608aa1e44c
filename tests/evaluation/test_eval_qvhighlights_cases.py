"""QVHighlights evaluation on small cases whose values are worked out by hand
in the comments."""
import math

import pytest

from sgdetr.evaluation.functional import eval_qvhighlights

THRESHOLDS = ['0.5', '0.55', '0.6', '0.65', '0.7', '0.75', '0.8', '0.85', '0.9', '0.95']


def gt(qid, windows, duration=150, clip_ids=(), scores=()):
    return dict(qid=qid, query=f'query {qid}', vid=f'video{qid}', duration=duration,
                relevant_windows=windows, relevant_clip_ids=list(clip_ids),
                saliency_scores=[list(s) for s in scores])


def pred(qid, windows=None, saliency=None):
    entry = dict(qid=qid, query=f'query {qid}', vid=f'video{qid}')
    if windows is not None:
        entry['pred_relevant_windows'] = windows
    if saliency is not None:
        entry['pred_saliency_scores'] = saliency
    return entry


def per_threshold(first, rest_until_08, from_085):
    """Values at 0.5 / 0.55..0.8 / 0.85..0.95."""
    return dict(zip(THRESHOLDS, [first] + [rest_until_08] * 6 + [from_085] * 3))


class TestLengthRanges:
    """Four queries:

    q1 GT [0,10] (short);   pred [0,10]           IoU 1     -> AP 1 everywhere
    q2 GT [20,40] (middle); preds [20,30] (0.9), [20,40] (0.8)
        at 0.5 the first (IoU .5) is a TP, the second a FP: P=[1,.5] R=[1,1] -> AP 1
        above 0.5 the first is a FP, the second a TP: P=[0,.5] R=[0,1] -> AP .5
    q3 GT [0,100] (long);   pred [0,80]           IoU .8    -> AP 1 up to 0.8, then 0
    q4 GT [0,10] (short) + [50,80] (middle); pred [50,80]
        full:   1 TP of 2 GT -> AP .5;  short: only [0,10] -> AP 0;  middle: AP 1
    """

    @pytest.fixture(scope='class')
    def results(self):
        ground_truth = [gt(1, [[0, 10]]), gt(2, [[20, 40]]), gt(3, [[0, 100]]),
                        gt(4, [[0, 10], [50, 80]])]
        submission = [pred(1, [[0, 10, 0.9]]),
                      pred(2, [[20, 30, 0.9], [20, 40, 0.8]]),
                      pred(3, [[0, 80, 0.7]]),
                      pred(4, [[50, 80, 0.9]])]
        return eval_qvhighlights(submission, ground_truth)

    def test_layout(self, results):
        assert list(results) == ['brief', 'full', 'long', 'middle', 'short']
        assert list(results['brief']) == [
            'MR-full-R1@0.5', 'MR-full-R1@0.7', 'MR-full-mAP', 'MR-full-mAP@0.5',
            'MR-full-mAP@0.75', 'MR-long-mAP', 'MR-middle-mAP', 'MR-short-mAP']
        assert list(results['full']) == ['MR-mAP', 'MR-R1']
        assert list(results['full']['MR-mAP']) == THRESHOLDS + ['average']
        assert list(results['full']['MR-R1']) == THRESHOLDS

    def test_short(self, results):
        # q1 (AP 1, IoU 1) and q4 against [0,10] only (AP 0, IoU 0)
        assert results['short']['MR-mAP'] == dict(per_threshold(50.0, 50.0, 50.0),
                                                  average=50.0)
        assert results['short']['MR-R1'] == per_threshold(50.0, 50.0, 50.0)

    def test_middle(self, results):
        # q2 (1 / .5) and q4 against [50,80] only (AP 1, IoU 1)
        assert results['middle']['MR-mAP'] == dict(
            per_threshold(100.0, 75.0, 75.0), average=77.5)  # (100 + 9 * 75) / 10
        # q2's top-1 [20,30] has IoU .5
        assert results['middle']['MR-R1'] == per_threshold(100.0, 50.0, 50.0)

    def test_long(self, results):
        assert results['long']['MR-mAP'] == dict(per_threshold(100.0, 100.0, 0.0),
                                                 average=70.0)
        assert results['long']['MR-R1'] == per_threshold(100.0, 100.0, 0.0)

    def test_full(self, results):
        # 0.5: (1+1+1+.5)/4; 0.55-0.8: (1+.5+1+.5)/4; 0.85+: (1+.5+0+.5)/4
        # average: (87.5 + 6 * 75 + 3 * 50) / 10 = 68.75
        assert results['full']['MR-mAP'] == dict(per_threshold(87.5, 75.0, 50.0),
                                                 average=68.75)
        # top-1 IoUs 1, .5, .8 and 1 (q4's best GT is [50,80])
        assert results['full']['MR-R1'] == per_threshold(100.0, 75.0, 50.0)
        assert results['brief'] == {
            'MR-full-R1@0.5': 100.0, 'MR-full-R1@0.7': 75.0, 'MR-full-mAP': 68.75,
            'MR-full-mAP@0.5': 87.5, 'MR-full-mAP@0.75': 75.0, 'MR-long-mAP': 70.0,
            'MR-middle-mAP': 77.5, 'MR-short-mAP': 50.0}


def mr_only(ground_truth_windows, predicted_windows):
    return eval_qvhighlights([pred(1, predicted_windows)],
                             [gt(1, ground_truth_windows)])['full']


def test_equal_scores_keep_the_submitted_order():
    # both windows score .5: the miss [50,60] stays first -> P=[0,.5], R=[0,1]
    # -> AP .5 (1 if the tie were broken the other way)
    full = mr_only([[0, 10]], [[50, 60, 0.5], [0, 10, 0.5]])
    assert full['MR-mAP']['average'] == 50.0
    full = mr_only([[0, 10]], [[0, 10, 0.5], [50, 60, 0.5]])
    assert full['MR-mAP']['average'] == 100.0


def test_windows_are_ranked_by_score_but_r1_takes_the_first_given():
    # AP ranks [50,60] (0.9) before [0,10] (0.1): AP .5; R1 looks at [0,10]
    full = mr_only([[0, 10]], [[0, 10, 0.1], [50, 60, 0.9]])
    assert full['MR-mAP']['average'] == 50.0
    assert set(full['MR-R1'].values()) == {100.0}


def test_only_the_first_ten_windows_count():
    # the 11th window is the only hit, with the best score: ignored
    misses = [[100, 110, 0.1]] * 10
    full = mr_only([[0, 10]], misses + [[0, 10, 0.99]])
    assert full['MR-mAP']['average'] == 0.0
    assert eval_qvhighlights([pred(1, misses + [[0, 10, 0.99]])], [gt(1, [[0, 10]])],
                             max_pred_windows=None)['full']['MR-mAP']['average'] == 100.0


def test_equal_iou_matches_the_later_gt_window_first():
    # GT [0,2], [2,4]; [0,4] (0.9) has IoU .5 with both and takes [2,4];
    # [2,4] (0.8) then finds its only GT taken: at 0.5 P=[1,.5], R=[.5,.5] -> .5.
    # Above 0.5 [0,4] misses and [2,4] hits: P=[0,.5], R=[0,.5] -> .25.
    full = mr_only([[0, 2], [2, 4]], [[0, 4, 0.9], [2, 4, 0.8]])
    assert full['MR-mAP']['0.5'] == 50.0
    assert full['MR-mAP']['0.55'] == 25.0


def test_r1_iou_divides_by_the_covering_span():
    # top-1 [0,10] vs GT [5,15]: intersection 5, union 15 -> IoU 1/3 < 0.5
    full = mr_only([[5, 15]], [[0, 10, 1.0]])
    assert full['MR-R1']['0.5'] == 0.0
    # top-1 [0,10] vs GT [0,20]: IoU .5 exactly -> counted at 0.5
    full = mr_only([[0, 20]], [[0, 10, 1.0]])
    assert full['MR-R1']['0.5'] == 100.0 and full['MR-R1']['0.55'] == 0.0


def test_repeated_qid_pools_windows_for_ap_and_uses_the_last_entry_for_r1():
    ground_truth = [gt(1, [[0, 10], [20, 30]])]
    submission = [pred(1, [[0, 10, 0.9]]), pred(1, [[20, 30, 0.8]])]
    full = eval_qvhighlights(submission, ground_truth)['full']
    # pooled: two TPs for two GT windows -> AP 1; R1 uses [20,30] -> IoU 1
    assert full['MR-mAP']['average'] == 100.0
    assert full['MR-R1']['0.95'] == 100.0


def test_empty_length_range_gives_nan():
    results = eval_qvhighlights([pred(1, [[0, 10, 1.0]])], [gt(1, [[0, 10]])])
    assert results['short']['MR-mAP']['average'] == 100.0
    assert math.isnan(results['middle']['MR-mAP']['average'])
    assert math.isnan(results['long']['MR-R1']['0.5'])
    assert math.isnan(results['brief']['MR-long-mAP'])


class TestHighlights:
    """q1: 5 clips (duration 10), per-clip annotator scores
         clip0 [4,2,0], clip1 0, clip2 [3,3,0], clip3 0, clip4 [1,4,0];
       prediction has 4 scores [.9,.1,.5,.5], zero-padded to 5 clips ->
       ranking (groups of equal scores): {0}, {2,3}, {1}, {4}
       (precision at each group end: n=1, 3, 4, 5 clips retrieved).
    q2: 3 clips all scored [2,2,2]; prediction [.1,.2,.3,.9] is truncated to
        3 clips for AP, but HIT@1 takes the argmax 3, outside the video.

    AP = mean over groups holding a positive of the best precision at that
    group or later.
    Fair (>=2): q1 a0 pos {0,2}: levels at groups 1,2 -> (1 + 2/3)/2 = 5/6
                q1 a1 pos {0,2,4}: precisions 1, 2/3, 2/4, 3/5 -> (1 + 2/3 + 3/5)/3
                q1 a2 no positive -> 0;  q2 all clips positive -> 1, 1, 1
    Good (>=3): q1 a0 {0,2} -> 5/6;  a1 {2,4}: precisions 0, 1/3, 1/4, 2/5
                -> levels at groups 2 and 4: (2/5 + 2/5)/2;  q2 -> 0
    VeryGood:   q1 a0 {0} -> 1;  a1 {4} -> 1/5;  q2 -> 0
    HIT@1: q1's top clip 0 has a positive annotator at every level; q2 misses.
    """

    @pytest.fixture(scope='class')
    def results(self):
        ground_truth = [
            gt(1, [[0, 2]], duration=10, clip_ids=[0, 2, 4],
               scores=[[4, 2, 0], [3, 3, 0], [1, 4, 0]]),
            gt(2, [[0, 6]], duration=6, clip_ids=[0, 1, 2], scores=[[2, 2, 2]] * 3),
        ]
        submission = [pred(1, saliency=[0.9, 0.1, 0.5, 0.5]),
                      pred(2, saliency=[0.1, 0.2, 0.3, 0.9])]
        return eval_qvhighlights(submission, ground_truth)

    def test_layout(self, results):
        assert list(results) == ['brief', 'HL-min-Fair', 'HL-min-Good', 'HL-min-VeryGood']
        assert list(results['brief']) == [
            'HL-min-Fair-mAP', 'HL-min-Fair-Hit1', 'HL-min-Good-mAP',
            'HL-min-Good-Hit1', 'HL-min-VeryGood-mAP', 'HL-min-VeryGood-Hit1']
        assert list(results['HL-min-Fair']) == ['HL-mAP', 'HL-Hit1']

    def test_values(self, results):
        fair = (5 / 6 + (1 + 2 / 3 + 3 / 5) / 3 + 0 + 3) / 6
        good = (5 / 6 + 2 / 5) / 6
        very_good = (1 + 1 / 5) / 6
        assert results['HL-min-Fair'] == {'HL-mAP': round(100 * fair, 2), 'HL-Hit1': 50.0}
        assert results['HL-min-Good'] == {'HL-mAP': round(100 * good, 2), 'HL-Hit1': 50.0}
        assert results['HL-min-VeryGood'] == {'HL-mAP': round(100 * very_good, 2),
                                              'HL-Hit1': 50.0}
        assert (results['HL-min-Fair']['HL-mAP'], results['HL-min-Good']['HL-mAP'],
                results['HL-min-VeryGood']['HL-mAP']) == (76.48, 20.56, 20.0)


def test_mr_only_and_hd_only_submissions():
    ground_truth = [gt(1, [[0, 10]], duration=10, clip_ids=[0], scores=[[4, 4, 4]])]
    mr = eval_qvhighlights([pred(1, [[0, 10, 1.0]])], ground_truth)
    assert not any(key.startswith('HL') for key in list(mr) + list(mr['brief']))
    hd = eval_qvhighlights([pred(1, saliency=[1.0, 0.0, 0.0, 0.0, 0.0])], ground_truth)
    assert list(hd) == ['brief', 'HL-min-Fair', 'HL-min-Good', 'HL-min-VeryGood']
    assert hd['brief']['HL-min-VeryGood-Hit1'] == 100.0


def test_qid_mismatch_is_reported():
    ground_truth = [gt(1, [[0, 10]]), gt(2, [[0, 10]])]
    submission = [pred(1, [[0, 10, 1.0]]), pred(3, [[0, 10, 1.0]])]
    with pytest.raises(ValueError, match=r'1 missing .*\[2\].*1 not in the ground truth .*\[3\]'):
        eval_qvhighlights(submission, ground_truth)
    shared = eval_qvhighlights(submission, ground_truth, match_number=False)
    assert shared['brief']['MR-full-mAP'] == 100.0


def test_invalid_submissions_raise_clear_errors():
    ground_truth = [gt(1, [[0, 10]])]
    with pytest.raises(ValueError, match='non-empty list'):
        eval_qvhighlights([pred(1, [])], ground_truth)
    with pytest.raises(ValueError, match='empty'):
        eval_qvhighlights([], ground_truth)
    with pytest.raises(ValueError, match='no "relevant_windows"'):
        eval_qvhighlights([pred(1, [[0, 10, 1.0]])], [gt(1, [])])
