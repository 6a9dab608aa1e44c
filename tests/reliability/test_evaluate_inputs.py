"""tools/evaluate.py refuses predictions that would be scored wrongly, naming
the line and the qid, and says how it scores what the official evaluation
accepts."""
import json

import pytest

from sgdetr.evaluation.submission import SubmissionError, validate_submission

from reliability_utils import load_tool, read_jsonl, write_jsonl

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
    entries = [prediction(1, [[0, 4, 0.9]], saliency=[0.1] * 7),
               prediction(2, [[i, i + 25, 0.1] for i in range(12)])]
    status, error, pred = run(evaluate_tool, tmp_path, capsys, entries)
    assert status == 0
    assert (f"warning: {pred}: 1 entr(ies) have more saliency scores than the video has "
            "clips (qid 1: 7 scores, 5 clips); scored as the official evaluation does") in error
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


# -- every metric the ground truth supports, or an error ----------------------------
@pytest.mark.parametrize('entries, message', [
    ([{('pred_relevant_window' if k == 'pred_relevant_windows' else k): v
       for k, v in e.items()} for e in GOOD],
     'line 1 (qid 1): no "pred_relevant_windows" (did you mean "pred_relevant_window"?)'),
    ([{k: v for k, v in GOOD[0].items() if k != 'pred_relevant_windows'}, GOOD[1]],
     'line 1 (qid 1): no "pred_relevant_windows"'),
    ([GOOD[0], prediction(2, [[10, 20, 0.5]], saliency=[0.0] * 9)],
     'line 2 (qid 2): "pred_saliency_scores" has 9 scores for the 10 clips of the video; '
     'give one per clip'),
])
def test_a_metric_the_ground_truth_supports_must_be_computed(evaluate_tool, tmp_path, capsys,
                                                             entries, message):
    status, error, pred = run(evaluate_tool, tmp_path, capsys, entries)
    assert status == 1
    assert f'error: {pred}: ' in error and message in error


def test_swapped_files_are_an_error_not_an_empty_table(evaluate_tool, tmp_path, capsys):
    gt = write_jsonl(tmp_path / 'gt.jsonl', GT)
    pred = write_jsonl(tmp_path / 'pred.jsonl', GOOD)
    status = evaluate_tool.main(['--pred', str(gt), '--gt', str(pred)])
    captured = capsys.readouterr()
    assert status == 1 and 'brief' not in captured.out
    assert (f'error: {pred}: no query has the ground truth that qvhighlights scores '
            '("relevant_windows" or "relevant_clip_ids" + "saliency_scores"); nothing can be '
            'scored. It holds predictions: are the prediction and annotation files '
            'swapped?') in captured.err


def test_predictions_without_ground_truth_are_left_out_with_a_warning(evaluate_tool, tmp_path,
                                                                     capsys):
    gt = write_jsonl(tmp_path / 'gt.jsonl', [{k: v for k, v in g.items()
                                             if k != 'saliency_scores'} for g in GT])
    pred = write_jsonl(tmp_path / 'pred.jsonl', GOOD)
    status = evaluate_tool.main(['--pred', str(pred), '--gt', str(gt)])
    captured = capsys.readouterr()
    assert status == 0 and 'MR-full-mAP' in captured.out and 'HL-' not in captured.out
    assert f"warning: {gt} has no ground truth for ['pred_saliency_scores']: not scored" \
        in captured.err


def test_our_submissions_have_one_saliency_score_per_clip(evaluate_tool, tmp_path, capsys):
    """The features count a partial last clip (20 for 39 s), the benchmark
    int(39 / 2) = 19 clips: the written file has 19 scores and is scored as
    logged, without a warning."""
    from sgdetr.evaluation.metrics import QVHighlightsMetric
    gt = [dict(GT[0], duration=39), dict(GT[1], duration=38.5)]
    ann_file = write_jsonl(tmp_path / 'gt.jsonl', gt)
    metric = QVHighlightsMetric(str(ann_file), submission_dir=str(tmp_path / 'subm'))
    saliency = {1: [0.5] * 20, 2: [0.1 * i for i in range(18)]}  # 19 clips each
    metric.process(None, [dict(qid=qid, query=f'q{qid}', vid=f'v{qid}', duration=g['duration'],
                               pred_instances=dict(spans=[[0.0, 4.0]], scores=[0.9]),
                               pred_saliency=saliency[qid])
                          for qid, g in zip((1, 2), gt)])
    logged = metric.compute_metrics(metric.results)
    written = {e['qid']: e['pred_saliency_scores']
               for e in read_jsonl(tmp_path / 'subm' / 'hl_val_submission.jsonl')}
    assert written[1] == [0.5] * 19
    # a clip the features do not reach ranks last
    assert written[2] == saliency[2] + [0.0]
    status = evaluate_tool.main(['--pred', str(tmp_path / 'subm' / 'hl_val_submission.jsonl'),
                                 '--gt', str(ann_file)])
    captured = capsys.readouterr()
    assert status == 0 and 'warning' not in captured.err
    table = dict(line.split() for line in captured.out.splitlines()
                 if line.startswith(('HL-', 'MR-')))
    assert table['HL-min-Fair-mAP'] == f"{logged['HL-min-Fair-mAP']:.2f}"
