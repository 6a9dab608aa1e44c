"""YouTube-Highlights and TVSum mAP, values worked out by hand with
AP = sum_j (rec_j - rec_j-1) * (prec_j-1 + prec_j) / 2, prec_0 = 1."""
import pytest

from sgdetr.evaluation.functional import eval_tvsum, eval_youtube_highlights


def video(qid, domain, label):
    return dict(qid=qid, query=domain, vid=qid, duration=2.0 * len(label),
                domain=domain, label=label)


def pred(qid, saliency):
    return dict(qid=qid, pred_saliency_scores=saliency)


def test_youtube_highlights_per_domain():
    ground_truth = [
        # ranked labels [0,1,1,0]: .5*(0+.5)/2 + .5*(.5+2/3)/2 = 5/12
        video('a', 'dog', [[0], [1], [0], [1]]),
        # ranked [1,0]: 1
        video('b', 'dog', [[1], [0]]),
        # prediction truncated to 3 clips, ranked [0,0,1]: 1*(0+1/3)/2 = 1/6
        video('c', 'surfing', [[0], [0], [1]]),
    ]
    submission = [pred('a', [0.9, 0.8, 0.1, 0.5]), pred('b', [0.2, 0.1]),
                  pred('c', [0.3, 0.2, 0.1, 0.9])]
    results = eval_youtube_highlights(submission, ground_truth)
    assert results == {'dog': 70.83, 'surfing': 16.67,
                       'mAP': 43.75}  # ((5/12 + 1)/2 + 1/6) / 2
    assert list(results) == ['dog', 'surfing', 'mAP']


def test_tvsum_top5_per_category():
    ground_truth = [
        # annotator 0: lower median 3 -> positives clips 3,4,5
        # annotator 1: lower median 1 -> positives clips 0,5
        video('v1', 'VT', [[1, 5], [2, 1], [3, 1], [4, 1], [5, 1], [5, 2]]),
        # annotator 0: no clip above the median -> AP 0
        # annotator 1: lower median 2 -> positives clips 2,3
        video('v2', 'BK', [[1, 1], [1, 2], [1, 3], [1, 4]]),
    ]
    submission = [
        # top 5 = clips 0..4 (clip 5 is left out):
        # a0 [0,0,0,1,1]: .5*(0+1/4)/2 + .5*(1/4+2/5)/2 = .225;  a1 [1,0,0,0,0]: 1
        pred('v1', [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]),
        # a1 ranked [0,0,1,1]: .5*(0+1/3)/2 + .5*(1/3+1/2)/2 = 7/24
        pred('v2', [0.4, 0.3, 0.2, 0.1]),
    ]
    results = eval_tvsum(submission, ground_truth)
    assert results == {'BK': 14.58,  # (0 + 7/24) / 2
                       'VT': 61.25,  # (.225 + 1) / 2
                       'mAP': 37.92}
    # with the top 6, v1's a0 ranks [0,0,0,1,1,1]: recall is now over 3 positives
    assert eval_tvsum(submission, ground_truth, top_k=6)['VT'] != 61.25


def test_equal_scores_rank_earlier_clips_first():
    ground_truth = [video('a', 'dog', [[0], [1]])]
    assert eval_youtube_highlights([pred('a', [0.5, 0.5])], ground_truth)['mAP'] == 25.0


def test_missing_prediction_is_reported():
    ground_truth = [video('a', 'dog', [[0], [1]]), video('b', 'dog', [[1]])]
    with pytest.raises(ValueError, match=r"1 missing from the submission \['b'\]"):
        eval_youtube_highlights([pred('a', [0.1, 0.2])], ground_truth)
