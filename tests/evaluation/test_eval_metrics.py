"""MMEngine metrics: predicted samples in, deduped submission + scores out."""
import json

import pytest
import torch
from mmengine.structures import InstanceData

from sgdetr.evaluation.functional import eval_qvhighlights
from sgdetr.evaluation.submission import SubmissionError, load_jsonl
from sgdetr.registry import METRICS
from sgdetr.structures import MomentDataSample

QVH_GT = [
    dict(qid=1, query='q1', vid='v1', duration=10, relevant_windows=[[0, 4]],
         relevant_clip_ids=[0, 1], saliency_scores=[[4, 4, 4], [2, 1, 0]]),
    dict(qid=2, query='q2', vid='v2', duration=20, relevant_windows=[[10, 20]],
         relevant_clip_ids=[5, 6], saliency_scores=[[3, 3, 3], [1, 1, 1]]),
]


def write_jsonl(path, entries):
    path.write_text(''.join(json.dumps(e) + '\n' for e in entries))
    return str(path)


def sample(qid, duration, spans, scores, saliency):
    data_sample = MomentDataSample(metainfo=dict(qid=qid, vid=f'v{qid}', query=f'q{qid}',
                                                 duration=duration))
    data_sample.pred_instances = InstanceData(spans=torch.tensor(spans),
                                              scores=torch.tensor(scores))
    data_sample.pred_saliency = torch.tensor(saliency)
    return data_sample


def predictions():
    return [
        # windows out of order and past the video: sorted and clipped
        sample(1, 10.0, [[5.0, 12.0], [0.0, 4.0]], [0.2, 0.9], [1.0, 0.0, 0.0, 0.0, 0.0]),
        sample(2, 20.0, [[10.0, 20.0]], [0.7], [0.0] * 5 + [1.0] + [0.0] * 4),
    ]


def test_qvhighlights_metric_dedupes_scores_and_writes(tmp_path):
    metric = METRICS.build(dict(type='QVHighlightsMetric',
                                ann_file=write_jsonl(tmp_path / 'val.jsonl', QVH_GT),
                                submission_dir=str(tmp_path / 'out')))
    first, second = predictions()
    metric.process({}, [first.to_dict()])
    # a distributed sampler pads the last batch with an already-seen sample
    metric.process({}, [second, first])
    flat = metric.compute_metrics(metric.results)

    submission = load_jsonl(str(tmp_path / 'out' / 'hl_val_submission.jsonl'))
    assert [e['qid'] for e in submission] == [1, 2]
    assert submission[0]['pred_relevant_windows'] == [[0.0, 4.0, pytest.approx(0.9)],
                                                      [5.0, 10.0, pytest.approx(0.2)]]
    full = eval_qvhighlights(submission, QVH_GT)
    with open(tmp_path / 'out' / 'hl_val_submission_metrics.json') as f:
        # (no middle / long GT window here: those ranges hold NaN)
        assert json.dumps(json.load(f)) == json.dumps(full)
    assert json.dumps(flat) == json.dumps(full['brief'])
    assert flat['MR-full-mAP'] == 100.0 and flat['MR-full-R1@0.7'] == 100.0
    # top clips score [4,4,4] and [3,3,3]
    assert flat['HL-min-Good-Hit1'] == 100.0 and flat['HL-min-VeryGood-Hit1'] == 50.0
    assert metric.prefix == ''


def test_metric_evaluate_through_mmengine_api(tmp_path):
    metric = METRICS.build(dict(type='QVHighlightsMetric',
                                ann_file=write_jsonl(tmp_path / 'val.jsonl', QVH_GT)))
    metric.process({}, predictions())
    results = metric.evaluate(size=2)
    assert results['MR-full-mAP'] == 100.0
    assert metric.results == []  # cleared for the next round


def test_split_without_ground_truth_only_writes_the_submission(tmp_path):
    test_ann = [{k: e[k] for k in ('qid', 'query', 'vid', 'duration')} for e in QVH_GT]
    metric = METRICS.build(dict(type='QVHighlightsMetric', split_name='test',
                                ann_file=write_jsonl(tmp_path / 'test.jsonl', test_ann),
                                submission_dir=str(tmp_path)))
    metric.process({}, predictions())
    assert metric.compute_metrics(metric.results) == {}
    assert len(load_jsonl(str(tmp_path / 'hl_test_submission.jsonl'))) == 2
    assert not (tmp_path / 'hl_test_submission_metrics.json').exists()

    metric.results = metric.results[:1]
    with pytest.raises(SubmissionError, match=r'1 missing: \[2\]'):
        metric.compute_metrics(metric.results)


def test_partial_evaluation_on_a_subset(tmp_path):
    metric = METRICS.build(dict(type='QVHighlightsMetric', match_number=False,
                                ann_file=write_jsonl(tmp_path / 'val.jsonl', QVH_GT)))
    metric.process({}, predictions()[:1])
    assert metric.compute_metrics(metric.results)['MR-full-mAP'] == 100.0


def test_moment_recall_metric(tmp_path):
    ann = [dict(qid='a', query='q', vid='v', duration=30.0, relevant_windows=[[0, 10]]),
           dict(qid='b', query='q', vid='v', duration=30.0, relevant_windows=[[10, 20]])]
    metric = METRICS.build(dict(type='MomentRecallMetric',
                                ann_file=write_jsonl(tmp_path / 'test.jsonl', ann),
                                submission_dir=str(tmp_path)))
    metric.process({}, [
        sample('a', 30.0, [[0.0, 10.0], [20.0, 30.0]], [0.9, 0.1], [0.0]),
        # top-1 misses, the second window hits
        sample('b', 30.0, [[0.0, 5.0], [10.0, 20.0]], [0.9, 0.1], [0.0])])
    flat = metric.compute_metrics(metric.results)
    assert flat == {'R1@0.3': 50.0, 'R1@0.5': 50.0, 'R1@0.7': 50.0,
                    'R5@0.3': 100.0, 'R5@0.5': 100.0, 'R5@0.7': 100.0, 'mIoU': 50.0}
    assert (tmp_path / 'test_submission.jsonl').exists()
    assert (tmp_path / 'test_submission_metrics.json').exists()
    with pytest.raises(ValueError, match='max_windows'):
        METRICS.build(dict(type='MomentRecallMetric', ann_file='x', max_windows=3))


@pytest.mark.parametrize('protocol', ['youtube', 'tvsum'])
def test_highlight_map_metric(tmp_path, protocol):
    label = [[0], [1]] if protocol == 'youtube' else [[1, 1], [5, 5]]
    ann = [dict(qid='x', query='dog', vid='x', duration=4.0, domain='dog', label=label),
           dict(qid='y', query='ski', vid='y', duration=4.0, domain='skiing', label=label)]
    metric = METRICS.build(dict(type='HighlightMAPMetric', protocol=protocol,
                                ann_file=write_jsonl(tmp_path / 'val.jsonl', ann),
                                domains=['dog']))
    data_sample = MomentDataSample(metainfo=dict(qid='x', vid='x', query='dog',
                                                 duration=4.0))
    data_sample.pred_saliency = torch.tensor([0.1, 0.9])
    metric.process({}, [data_sample])
    assert metric.compute_metrics(metric.results) == {'HL-mAP': 100.0,
                                                      'HL-mAP-dog': 100.0}
    with pytest.raises(ValueError, match='protocol'):
        METRICS.build(dict(type='HighlightMAPMetric', ann_file='x', protocol='other'))
