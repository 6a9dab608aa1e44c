"""The official sample predictions must score exactly as the official
evaluation scored them (every value, key order included)."""
import json
from pathlib import Path

import pytest

from sgdetr.evaluation.functional import eval_qvhighlights
from sgdetr.evaluation.submission import load_jsonl

SHARED = Path(__file__).parents[2].parent / 'shared'
SAMPLE_DIR = SHARED / 'data' / 'qvhighlights_eval_sample'
VAL_GT = SHARED / 'data' / 'annotations' / 'qvhighlights' / 'highlight_val_release.jsonl'


@pytest.fixture(scope='module')
def golden():
    paths = (SAMPLE_DIR / 'sample_val_preds.jsonl', VAL_GT,
             SAMPLE_DIR / 'sample_val_preds_metrics_raw.json')
    if not all(p.is_file() for p in paths):
        pytest.skip(f'shared QVHighlights sample data not found under {SHARED}')
    with open(paths[2]) as f:
        expected = json.load(f)
    return load_jsonl(str(paths[0])), load_jsonl(str(paths[1])), expected


def test_sample_predictions_score_exactly_as_official(golden):
    submission, ground_truth, expected = golden
    results = eval_qvhighlights(submission, ground_truth)
    # same keys in the same order at every level, same values
    assert json.dumps(results) == json.dumps(expected)


def test_mr_only_and_hd_only_parts_match_official(golden):
    submission, ground_truth, expected = golden
    mr_only = [{k: v for k, v in e.items() if k != 'pred_saliency_scores'}
               for e in submission]
    results = eval_qvhighlights(mr_only, ground_truth)
    assert list(results) == ['brief', 'full', 'long', 'middle', 'short']
    for name in ('full', 'long', 'middle', 'short'):
        assert results[name] == expected[name]
    assert results['brief'] == {k: v for k, v in expected['brief'].items()
                                if k.startswith('MR-')}

    hd_only = [{k: v for k, v in e.items() if k != 'pred_relevant_windows'}
               for e in submission]
    results = eval_qvhighlights(hd_only, ground_truth)
    assert list(results) == ['brief', 'HL-min-Fair', 'HL-min-Good', 'HL-min-VeryGood']
    assert list(results['brief']) == [k for k in expected['brief'] if k.startswith('HL-')]
    for name in ('HL-min-Fair', 'HL-min-Good', 'HL-min-VeryGood'):
        assert results[name] == expected[name]


def test_submission_order_does_not_change_scores(golden):
    submission, ground_truth, expected = golden
    assert eval_qvhighlights(submission[::-1], ground_truth)['brief'] == expected['brief']
