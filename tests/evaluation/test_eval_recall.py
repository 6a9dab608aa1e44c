"""R@k / mIoU of single-moment benchmarks, values worked out by hand."""
import pytest

from sgdetr.evaluation.functional import eval_moment_recall


def gt(qid, windows):
    return dict(qid=qid, query='q', vid='v', duration=60.0, relevant_windows=windows)


def pred(qid, windows):
    return dict(qid=qid, query='q', vid='v', pred_relevant_windows=windows)


def test_recall_and_miou():
    # top-1 IoU / best IoU in the top 5:
    # q1 [0,10] on [0,10]: 1 / 1
    # q2 [0,10] on [10,20] touches only: 0; [12,20] 0.8 and [10,20] 1 later -> 1
    # q3 [28,40] vs GTs [0,10] and [30,40]: best 10/12 -> .833 / .833
    # q4 [5,10] on [0,10]: .5 / .5
    # q5 no prediction: 0 / 0
    ground_truth = [gt(1, [[0, 10]]), gt(2, [[10, 20]]), gt(3, [[0, 10], [30, 40]]),
                    gt(4, [[0, 10]]), gt(5, [[0, 10]])]
    submission = [pred(1, [[0, 10, 0.9]]),
                  pred(2, [[0, 10, 0.9], [12, 20, 0.8], [10, 20, 0.1]]),
                  pred(3, [[28, 40, 0.9]]),
                  pred(4, [[5, 10, 0.9]]),
                  pred(5, [])]
    results = eval_moment_recall(submission, ground_truth)
    assert results == {
        'R1@0.3': 60.0, 'R1@0.5': 60.0, 'R1@0.7': 40.0,
        'R5@0.3': 80.0, 'R5@0.5': 80.0, 'R5@0.7': 60.0,
        'mIoU': 46.67,  # (1 + 0 + 10/12 + .5 + 0) / 5
    }


def test_only_the_first_k_windows_count_and_scores_are_optional():
    ground_truth = [gt(1, [[0, 10]])]
    misses = [[40, 50]] * 5
    results = eval_moment_recall([pred(1, misses + [[0, 10]])], ground_truth,
                                 top_k=(1, 5, 6))
    assert results['R5@0.7'] == 0.0 and results['R6@0.7'] == 100.0


def test_qid_checks():
    ground_truth = [gt(1, [[0, 10]]), gt(2, [[0, 10]])]
    with pytest.raises(ValueError, match='1 missing'):
        eval_moment_recall([pred(1, [[0, 10, 1.0]])], ground_truth)
    with pytest.raises(ValueError, match='duplicate'):
        eval_moment_recall([pred(1, [[0, 10, 1.0]])] * 2, ground_truth)
    partial = eval_moment_recall([pred(1, [[0, 10, 1.0]])], ground_truth,
                                 match_number=False)
    assert partial['mIoU'] == 100.0
