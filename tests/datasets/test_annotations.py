"""Annotation parsing: canonical records and clear errors for bad lines."""
import numpy as np
import pytest

from sgdetr.datasets import (DataError, MomentRetrievalDataset,
                             QVHighlightsDataset)
from sgdetr.datasets.annotations import parse_annotation

from dataset_test_utils import record, write_jsonl


def annotation_only(path, cls=MomentRetrievalDataset, **kwargs):
    return cls(ann_file=str(path), **kwargs)


def test_parse_qvhighlights_line():
    raw = dict(qid=7, query='q', duration=150, vid='v',
               relevant_windows=[[2, 6], [10, 12]],
               relevant_clip_ids=[1, 2, 5], saliency_scores=[[1, 2, 3],
                                                             [4, 4, 4],
                                                             [0, 1, 2]])
    parsed = parse_annotation(raw, 'f:1', clip_len=2.0)
    assert parsed['qid'] == 7 and parsed['duration'] == 150.0
    np.testing.assert_array_equal(parsed['windows'], [[2, 6], [10, 12]])
    np.testing.assert_array_equal(parsed['saliency_clip_ids'], [1, 2, 5])
    assert parsed['saliency_scores'].shape == (3, 3)
    assert parsed['label'] is None


def test_parse_highlight_line_with_nulls():
    raw = dict(qid='abc', query='dog', duration=8.0, vid='abc',
               relevant_clip_ids=None, relevant_windows=None,
               label=[[0], [1], [1]], domain='dog')
    parsed = parse_annotation(raw, 'f:1', clip_len=None)
    assert parsed['windows'] is None and parsed['saliency_clip_ids'] is None
    assert parsed['label'].shape == (3, 1)
    assert parsed['domain'] == 'dog'


def test_window_slightly_outside_is_clipped():
    raw = record(1, 'v', duration=10.0, windows=[(-0.2, 10.3)])
    parsed = parse_annotation(raw, 'f:1', clip_len=1.0, window_tolerance=0.5)
    np.testing.assert_array_equal(parsed['windows'], [[0.0, 10.0]])


@pytest.mark.parametrize('raw, message', [
    (dict(qid=1, query='q', vid='v'), "missing key(s) ['duration']"),
    (record(1, 'v', windows=[(5.0, 5.0)]), 'end <= start'),
    (record(1, 'v', windows=[(6.0, 2.0)]), 'end <= start'),
    (record(1, 'v', duration=10.0, windows=[(2.0, 12.0)]), 'outside'),
    (record(1, 'v', windows=[(1.0, 2.0, 3.0)]), 'relevant_windows'),
    (record(1, 'v', windows=[(1.0, 'x')]), 'relevant_windows'),
    (record(1, 'v', duration=-3), 'duration'),
    (record(1, 'v', duration='long'), 'duration'),
    (record(1, 'v', relevant_clip_ids=[1, 2],
            saliency_scores=[[1, 1, 1]]), '2 relevant_clip_ids but 1'),
    (record(1, 'v', relevant_clip_ids=[1]), 'given together'),
    (record(1, 'v', duration=20.0, relevant_clip_ids=[40],
            saliency_scores=[[1, 1, 1]]), 'beyond the video'),
    (record(1, 'v', relevant_clip_ids=[1, 2],
            saliency_scores=[[1, 1, 1], [1, 1]]), 'saliency_scores'),
])
def test_bad_lines_name_file_line_and_problem(tmp_path, raw, message):
    good = record(0, 'v0')
    path = write_jsonl(tmp_path / 'ann.jsonl', [good, raw])
    with pytest.raises(DataError) as error:
        annotation_only(path)
    assert f'{path}:2' in str(error.value)
    assert message in str(error.value)


def test_malformed_json_names_line(tmp_path):
    path = write_jsonl(tmp_path / 'ann.jsonl', [record(0, 'v0')],
                       raw_lines=['', '{"qid": 3, "query": "q",'])
    with pytest.raises(DataError, match=rf'{path}:3: malformed JSON'):
        annotation_only(path)


def test_non_object_line_and_missing_file(tmp_path):
    path = write_jsonl(tmp_path / 'ann.jsonl', [], raw_lines=['[1, 2]'])
    with pytest.raises(DataError, match=rf'{path}:1: expected a JSON object'):
        annotation_only(path)
    with pytest.raises(DataError, match='cannot read annotation file'):
        annotation_only(tmp_path / 'absent.jsonl')


def test_duplicate_qid_and_empty_file(tmp_path):
    path = write_jsonl(tmp_path / 'ann.jsonl',
                       [record(4, 'a'), record(4, 'b')])
    with pytest.raises(DataError, match='qid 4 already used on line 1'):
        annotation_only(path)
    empty = write_jsonl(tmp_path / 'empty.jsonl', [])
    with pytest.raises(DataError, match='no annotations'):
        annotation_only(empty)


def test_training_sample_needs_ground_truth(tmp_path):
    path = write_jsonl(tmp_path / 'ann.jsonl',
                       [dict(qid=1, query='q', duration=10, vid='v')])
    with pytest.raises(DataError, match='needs ground truth'):
        annotation_only(path)
    assert len(annotation_only(path, test_mode=True)) == 1
    # QVHighlights training needs both windows and saliency scores.
    path = write_jsonl(tmp_path / 'qvh.jsonl', [record(1, 'v')])
    with pytest.raises(DataError, match='needs `saliency_scores`'):
        annotation_only(path, cls=QVHighlightsDataset)
