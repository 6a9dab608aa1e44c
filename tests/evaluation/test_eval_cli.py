"""tools/evaluate.py: table on stdout, full JSON out, clear input errors."""
import importlib.util
import json
from pathlib import Path

import pytest

TOOL = Path(__file__).parents[2] / 'tools' / 'evaluate.py'


@pytest.fixture(scope='module')
def evaluate_tool():
    spec = importlib.util.spec_from_file_location('evaluate_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_jsonl(path, entries):
    path.write_text(''.join(json.dumps(e) + '\n' for e in entries))
    return str(path)


def test_qvhighlights_table_and_json(tmp_path, capsys, evaluate_tool):
    gt = write_jsonl(tmp_path / 'gt.jsonl', [
        dict(qid=1, query='q', vid='v', duration=10, relevant_windows=[[0, 4]],
             relevant_clip_ids=[0], saliency_scores=[[4, 4, 4]])])
    pred = write_jsonl(tmp_path / 'pred.jsonl', [
        dict(qid=1, query='q', vid='v', pred_relevant_windows=[[0, 4, 0.5]],
             pred_saliency_scores=[1.0, 0.0, 0.0, 0.0, 0.0])])
    out = tmp_path / 'metrics' / 'm.json'
    assert evaluate_tool.main(['--pred', pred, '--gt', gt, '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'MR-full-mAP' in printed and 'HL-min-VeryGood-Hit1' in printed
    with open(out) as f:
        metrics = json.load(f)
    assert list(metrics)[:2] == ['brief', 'HL-min-Fair']
    assert metrics['brief']['MR-full-R1@0.7'] == 100.0


def test_charades_recall(tmp_path, capsys, evaluate_tool):
    gt = write_jsonl(tmp_path / 'gt.jsonl', [
        dict(qid='a', query='q', vid='v', duration=30.0, relevant_windows=[[0, 10]])])
    pred = write_jsonl(tmp_path / 'pred.jsonl', [
        dict(qid='a', pred_relevant_windows=[[0, 5, 0.9], [0, 10, 0.5]])])
    assert evaluate_tool.main(['--pred', pred, '--gt', gt, '--dataset', 'charades']) == 0
    printed = capsys.readouterr().out
    assert 'R1@0.5' in printed and 'mIoU' in printed and '50.00' in printed


def test_malformed_line_names_file_and_line(tmp_path, capsys, evaluate_tool):
    gt = write_jsonl(tmp_path / 'gt.jsonl', [dict(qid=1, relevant_windows=[[0, 4]])])
    bad = tmp_path / 'pred.jsonl'
    bad.write_text('{"qid": 1, "pred_relevant_windows": [[0, 4, 1]]}\n{"qid": 2,,}\n')
    assert evaluate_tool.main(['--pred', str(bad), '--gt', gt]) == 1
    error = capsys.readouterr().err
    assert f'{bad}:2: malformed JSON' in error


def test_qid_mismatch_is_an_error(tmp_path, capsys, evaluate_tool):
    gt = write_jsonl(tmp_path / 'gt.jsonl', [dict(qid=1, duration=10, relevant_windows=[[0, 4]]),
                                             dict(qid=2, duration=10, relevant_windows=[[0, 4]])])
    pred = write_jsonl(tmp_path / 'pred.jsonl', [dict(qid=1, pred_relevant_windows=[[0, 4, 1]])])
    assert evaluate_tool.main(['--pred', pred, '--gt', gt]) == 1
    assert 'missing from the submission [2]' in capsys.readouterr().err
    assert evaluate_tool.main(['--pred', pred, '--gt', gt, '--partial']) == 0
