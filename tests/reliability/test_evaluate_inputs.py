"""tools/evaluate.py refuses predictions that would be scored wrongly, naming
the line and the qid, and says how it scores what the official evaluation
accepts."""
import json

import pytest

from sgdetr.evaluation.submission import SubmissionError, validate_submission

from reliability_utils import load_tool, write_jsonl

GT = [dict(qid=1, query='q1', vid='v1', duration=10, relevant_windows=[[0, 4]],
           relevant_clip_ids=[0, 1], saliency_scores=[[4, 4, 4], [2, 1, 0]]),
      dict(qid=2, query='q2', vid='v2', duration=20, relevant_windows=[[10, 20]],
           relevant_clip_ids=[5, 6], saliency_scores=[[3, 3, 3], [1, 1, 1]])]


def prediction(qid, windows, saliency=None):
    saliency = saliency if saliency is not None else [0.0] * (5 if qid == 1 else 10)
    return dict(qid=qid, query=f'q{qid}', vid=f'v{qid}', pred_relevant_windows=windows,
                pred_saliency_scores=saliency)


GOOD = [prediction(1, [[0, 4, 0.9]]), prediction(2, [[0, 5, 0.8]])]


@pytest.fixture(scope='module')
def evaluate_tool():
    return load_tool('evaluate')


def run(tool, tmp_path, capsys, entries, raw=None):
    gt = write_jsonl(tmp_path / 'gt.jsonl', GT)
    pred = tmp_path / 'pred.jsonl'
    if raw is None:
        write_jsonl(pred, entries)
    else:
        pred.write_bytes(raw)
    status = tool.main(['--pred', str(pred), '--gt', str(gt)])
    captured = capsys.readouterr()
    return status, captured.err, pred


@pytest.mark.parametrize('entries, message', [
    (GOOD + [prediction(2, [[10, 20, 1.0]])],
     'line 3 (qid 2): qid given again (first on line 2): the official server would pool'),
    ([GOOD[0], prediction(2, [['10', '20', 0.5]])],
     "line 2 (qid 2): window 0 ['10', '20', 0.5] is not [start, end, score] numbers"),
    ([GOOD[0], prediction(2, [[10, 20, float('inf')]])],
     'line 2 (qid 2): window 0 [10, 20, inf] holds NaN or Inf'),
    ([GOOD[0], prediction(2, [[20, 10, 0.5]])],
     'line 2 (qid 2): window 0 [20, 10, 0.5] ends before it starts'),
    ([GOOD[0], prediction(2, [[10, 20, 0.5]], saliency=[0.1, 'x'])],
     'line 2 (qid 2): "pred_saliency_scores" must be a non-empty list of numbers'),
    ([GOOD[0], prediction(2, [])], 'line 2 (qid 2): "pred_relevant_windows" is empty'),
    ([GOOD[0], {k: v for k, v in GOOD[1].items() if k != 'pred_saliency_scores'}],
     'line 2 (qid 2): no "pred_saliency_scores"'),
    ([GOOD[0], dict(GOOD[1], qid=2.0)], 'line 2 (qid 2.0): "qid" must be an int or a string'),
])
def test_bad_predictions_are_errors_naming_line_and_qid(evaluate_tool, tmp_path, capsys,
                                                       entries, message):
    status, error, pred = run(evaluate_tool, tmp_path, capsys, entries)
    assert status == 1
    assert f'error: {pred}: 1 entr(ies) cannot be scored' in error
    assert message in error


def test_duplicate_qid_no_longer_inflates_map(evaluate_tool, tmp_path, capsys):
    status, _, _ = run(evaluate_tool, tmp_path, capsys, GOOD)
    assert status == 0
    status, _, _ = run(evaluate_tool, tmp_path, capsys, GOOD + [prediction(2, [[10, 20, 1.0]])])
    assert status == 1


def test_what_the_server_accepts_is_scored_with_a_warning(evaluate_tool, tmp_path, capsys):
    entries = [prediction(1, [[0, 4, 0.9]], saliency=[0.1] * 3),
               prediction(2, [[i, i + 25, 0.1] for i in range(12)])]
    status, error, pred = run(evaluate_tool, tmp_path, capsys, entries)
    assert status == 0
    assert (f"warning: {pred}: 1 entr(ies) have a saliency list whose length differs from "
            "the video's clips (qid 1: 3 scores, 5 clips); scored as the official "
            "evaluation does") in error
    assert 'more than 10 windows (qid 2: 12); only the first 10' in error
    assert 'windows outside [0, duration] (qid 2: duration 20 s); scored as given' in error


def test_non_utf8_prediction_names_file_and_line(evaluate_tool, tmp_path, capsys):
    raw = (json.dumps(GOOD[0]) + '\n' + json.dumps(GOOD[1]).replace('q2', 'q\\u00e9')
           + '\n').encode().replace(b'\\u00e9', b'\xe9')
    status, error, pred = run(evaluate_tool, tmp_path, capsys, None, raw=raw)
    assert status == 1
    assert f"error: {pred}:2: not valid UTF-8 (byte(s) b'\\xe9' at column" in error


def test_recall_benchmarks_take_windows_with_or_without_score():
    gt = [dict(qid='a', query='q', vid='v', duration=30.0, relevant_windows=[[0, 10]])]
    assert validate_submission([dict(qid='a', pred_relevant_windows=[[0, 5], [0, 10, 0.5]])],
                               gt, 'charades') == []
    with pytest.raises(SubmissionError, match='no "pred_relevant_windows"'):
        validate_submission([dict(qid='a')], gt, 'tacos')
    with pytest.raises(SubmissionError, match='no "pred_saliency_scores"'):
        validate_submission([dict(qid='a')], [dict(gt[0], label=[[1], [0]])], 'youtube')
