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


def test_format_windows_sorts_clips_and_limits():
    windows = format_windows(np.array([[-1., 5.], [2., 30.], [4., 6.]]),
                             np.array([0.1, 0.9, 0.1]), duration=20.0, max_windows=2)
    # best first; equal scores keep their order; clipped to [0, 20]
    assert windows == [[2.0, 20.0, 0.9], [0.0, 5.0, 0.1]]


def test_prediction_to_submission_from_sample_and_from_dict():
    sample = predicted_sample()
    for given in (sample, sample.to_dict()):
        entry = prediction_to_submission(given)
        assert list(entry) == ['qid', 'query', 'vid', 'pred_relevant_windows',
                               'pred_saliency_scores']
        assert entry['qid'] == 7 and entry['vid'] == 'vid'
        windows = np.array(entry['pred_relevant_windows'])
        assert windows.shape == (10, 3)
        assert (np.diff(windows[:, 2]) <= 0).all()
        assert windows[:, :2].min() >= 0 and windows[:, :2].max() <= 20.0
        assert entry['pred_saliency_scores'] == [0.25, -0.5, 1.0]
    assert len(prediction_to_submission(sample, max_windows=None)
               ['pred_relevant_windows']) == 12


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
    assert written[0] == dict(qid=2, query='q2', vid='v2',
                              pred_relevant_windows=[[5.0, 10.0, 0.8], [0.0, 4.0, 0.1]])
    assert written[1]['pred_saliency_scores'] == [1.0, 2.0]
    assert os.listdir(path.parent) == ['hl_val_submission.jsonl']  # no temp file left

    with pytest.raises(SubmissionError, match=r'1 missing: \[1\]'):
        write_submission(entries[:1], str(tmp_path / 'other.jsonl'), annotations)
    assert not (tmp_path / 'other.jsonl').exists()


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
