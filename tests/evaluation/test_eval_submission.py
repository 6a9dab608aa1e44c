"""Submission entries, the completeness check, atomic writing and zipping."""
import json
import os
import zipfile

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from sgdetr.evaluation.submission import (SubmissionError, check_submission_qids,
                                          dedupe_by_qid, format_windows, load_jsonl,
                                          prediction_to_submission,
                                          samples_to_submission, write_submission,
                                          zip_submission)
from sgdetr.structures import MomentDataSample


def predicted_sample(qid=7, duration=20.0, num_windows=12):
    sample = MomentDataSample(metainfo=dict(qid=qid, vid='vid', query='a query',
                                            duration=duration))
    spans = torch.tensor([[float(i), float(i) + 30.0] for i in range(-1, num_windows - 1)])
    scores = torch.arange(num_windows, dtype=torch.float32) / num_windows
    sample.pred_instances = InstanceData(spans=spans, scores=scores)
    sample.pred_saliency = torch.tensor([0.25, -0.5, 1.0])
    return sample


def test_format_windows_keeps_the_order_clips_and_limits():
    windows = format_windows(np.array([[-1., 5.], [2., 30.], [4., 6.]]),
                             np.array([0.1, 0.9, 0.1]), duration=20.0, max_windows=2)
    # the given order (not the scores'), clipped to [0, 20], the first two
    assert windows == [[0.0, 5.0, 0.1], [2.0, 20.0, 0.9]]
    assert format_windows(np.zeros((0, 2)), np.zeros(0)) == []
    with pytest.raises(SubmissionError, match='3 spans but 2 scores'):
        format_windows(np.ones((3, 2)), np.ones(2))


def test_prediction_to_submission_from_sample_and_from_dict():
    sample = predicted_sample()
    for given in (sample, sample.to_dict()):
        entry = prediction_to_submission(given)
        assert list(entry) == ['qid', 'query', 'vid', 'pred_relevant_windows',
                               'pred_saliency_scores']
        assert entry['qid'] == 7 and entry['vid'] == 'vid'
        windows = np.array(entry['pred_relevant_windows'])
        assert windows.shape == (10, 3)
        # the first 10 as the model gave them (here in increasing score)
        np.testing.assert_allclose(windows[:, 2], np.arange(10) / 12, rtol=1e-6)
        np.testing.assert_array_equal(windows[:, 0], [0.0] + list(range(9)))
        assert windows[:, :2].min() >= 0 and windows[:, :2].max() <= 20.0
        assert entry['pred_saliency_scores'] == [0.25, -0.5, 1.0]
    assert len(prediction_to_submission(sample, max_windows=None)
               ['pred_relevant_windows']) == 12


def test_prediction_to_submission_of_another_head():
    sample = predicted_sample(num_windows=3)
    sample.pred_instances_fusion = InstanceData(
        spans=torch.tensor([[8.0, 12.0], [1.0, 3.0]]), scores=torch.tensor([0.2, 0.7]))
    entry = prediction_to_submission(sample, instances_field='pred_instances_fusion')
    assert entry['pred_relevant_windows'] == [[8.0, 12.0, pytest.approx(0.2)],
                                              [1.0, 3.0, pytest.approx(0.7)]]
    assert entry['pred_saliency_scores'] == [0.25, -0.5, 1.0]
    assert len(prediction_to_submission(sample)['pred_relevant_windows']) == 3
    # a field the sample lacks: no windows at all
    assert 'pred_relevant_windows' not in prediction_to_submission(
        sample, instances_field='pred_instances_atss')


def test_dedupe_keeps_the_first_entry_of_each_qid():
    entries = [{'qid': 1, 'x': 'a'}, {'qid': 2}, {'qid': 1, 'x': 'b'}]
    assert dedupe_by_qid(entries) == [{'qid': 1, 'x': 'a'}, {'qid': 2}]
    assert [e['qid'] for e in samples_to_submission(
        [predicted_sample(1), predicted_sample(2), predicted_sample(1)])] == [1, 2]


def test_completeness_check_lists_every_problem():
    entries = [{'qid': 1}, {'qid': 1}, {'qid': 9}]
    with pytest.raises(SubmissionError) as info:
        check_submission_qids(entries, [1, 2, 3])
    message = str(info.value)
    assert '2 missing: [2, 3]' in message
    assert '1 duplicate: [1]' in message
    assert '1 not in the split: [9]' in message
    check_submission_qids([{'qid': 2}, {'qid': 1}], [1, 2])


def test_write_submission_normalises_and_checks(tmp_path):
    annotations = [dict(qid=1, query='q1', vid='v1', duration=10.0),
                   dict(qid=2, query='q2', vid='v2', duration=10.0)]
    entries = [dict(qid=2, pred_relevant_windows=[[0, 4, 0.1], [5, 12, 0.8]]),
               dict(qid=1, pred_relevant_windows=[[1, 2, 0.3]],
                    pred_saliency_scores=[1, 2])]
    path = tmp_path / 'sub' / 'hl_val_submission.jsonl'
    write_submission(entries, str(path), annotations)
    written = load_jsonl(str(path))
    # windows in the given order, clipped to the annotated duration
    assert written[0] == dict(qid=2, query='q2', vid='v2',
                              pred_relevant_windows=[[0.0, 4.0, 0.1], [5.0, 10.0, 0.8]])
    assert written[1]['pred_saliency_scores'] == [1.0, 2.0]
    assert os.listdir(path.parent) == ['hl_val_submission.jsonl']  # no temp file left

    with pytest.raises(SubmissionError, match=r'1 missing: \[1\]'):
        write_submission(entries[:1], str(tmp_path / 'other.jsonl'), annotations)
    assert not (tmp_path / 'other.jsonl').exists()


def test_written_windows_are_the_first_ones_not_the_best(tmp_path):
    annotations = [dict(qid=1, query='q1', vid='v1', duration=30.0)]
    windows = [[0, 2, 0.1], [2, 4, 0.2], [4, 6, 0.9], [6, 8, 0.8]]
    written = write_submission([dict(qid=1, pred_relevant_windows=windows)],
                               str(tmp_path / 'sub.jsonl'), annotations, max_windows=2)
    assert written[0]['pred_relevant_windows'] == [[0.0, 2.0, 0.1], [2.0, 4.0, 0.2]]
    assert load_jsonl(str(tmp_path / 'sub.jsonl')) == written


def test_zip_submission(tmp_path):
    with pytest.raises(SubmissionError, match='hl_test_submission.jsonl'):
        zip_submission(str(tmp_path))
    for split in ('val', 'test'):
        (tmp_path / f'hl_{split}_submission.jsonl').write_text(f'{{"qid": "{split}"}}\n')
    path = zip_submission(str(tmp_path))
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ['hl_test_submission.jsonl',
                                              'hl_val_submission.jsonl']
        assert json.loads(archive.read('hl_val_submission.jsonl')) == {'qid': 'val'}
    assert sorted(os.listdir(tmp_path)) == ['hl_test_submission.jsonl',
                                            'hl_val_submission.jsonl', 'submission.zip']


def test_load_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / 'broken.jsonl'
    path.write_text('{"qid": 1}\n\n{"qid": 2,\n')
    with pytest.raises(SubmissionError, match=r'broken.jsonl:3: malformed JSON'):
        load_jsonl(str(path))
    path.write_text('{"qid": 1}\n[1, 2]\n')
    with pytest.raises(SubmissionError, match=r'broken.jsonl:2: expected a JSON object'):
        load_jsonl(str(path))
    with pytest.raises(SubmissionError, match='cannot read'):
        load_jsonl(str(tmp_path / 'absent.jsonl'))
