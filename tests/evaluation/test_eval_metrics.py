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
        # windows past the video: clipped; their order is kept
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
    assert submission[0]['pred_relevant_windows'] == [[5.0, 10.0, pytest.approx(0.2)],
                                                      [0.0, 4.0, pytest.approx(0.9)]]
    full = eval_qvhighlights(submission, QVH_GT)
    with open(tmp_path / 'out' / 'hl_val_submission_metrics.json') as f:
        # (no middle / long GT window here: those ranges hold NaN)
        assert json.dumps(json.load(f)) == json.dumps(full)
    assert json.dumps(flat) == json.dumps(full['brief'])
    # mAP ranks by score; R1 reads the first window, which misses q1's GT
    assert flat['MR-full-mAP'] == 100.0 and flat['MR-full-R1@0.7'] == 50.0
    # top clips score [4,4,4] and [3,3,3]
    assert flat['HL-min-Good-Hit1'] == 100.0 and flat['HL-min-VeryGood-Hit1'] == 50.0
    assert metric.prefix == ''


def with_head(data_sample, head, spans, scores):
    data_sample.set_field(InstanceData(spans=torch.tensor(spans), scores=torch.tensor(scores)),
                          f'pred_instances_{head}')
    return data_sample


def test_other_heads_are_scored_under_their_name(tmp_path):
    metric = METRICS.build(dict(type='QVHighlightsMetric',
                                ann_file=write_jsonl(tmp_path / 'val.jsonl', QVH_GT),
                                submission_dir=str(tmp_path / 'out')))
    first, second = predictions()
    # the fusion head finds q1's window first, misses q2's
    with_head(first, 'fusion', [[0.0, 4.0], [6.0, 8.0]], [0.5, 0.4])
    with_head(second, 'fusion', [[0.0, 5.0]], [0.9])
    metric.process({}, [first.to_dict(), second])
    metric.process({}, [first])  # repeated by a distributed sampler
    flat = metric.compute_metrics(metric.results)

    submission = load_jsonl(str(tmp_path / 'out' / 'hl_val_submission.jsonl'))
    own = eval_qvhighlights(submission, QVH_GT)
    fusion_entries = [dict(qid=1, query='q1', vid='v1',
                           pred_relevant_windows=[[0.0, 4.0, 0.5], [6.0, 8.0, 0.4]]),
                      dict(qid=2, query='q2', vid='v2', pred_relevant_windows=[[0.0, 5.0, 0.9]])]
    fusion = eval_qvhighlights(fusion_entries, QVH_GT)
    # the output's metrics as without other heads, the head's under 'fusion/'
    # (json: the ranges without GT windows hold NaN)
    assert json.dumps({k: v for k, v in flat.items() if '/' not in k}) == json.dumps(
        own['brief'])
    assert json.dumps({k: v for k, v in flat.items() if k.startswith('fusion/')}) == \
        json.dumps({f'fusion/{k}': v for k, v in fusion['brief'].items()})
    assert set(flat) == set(own['brief']) | {f'fusion/{k}' for k in fusion['brief']}
    # the head's entries carry windows only: no highlight metrics of its own
    assert not any(k.startswith('fusion/HL-') for k in flat)
    assert flat['MR-full-mAP'] == 100.0 and flat['MR-full-R1@0.7'] == 50.0
    assert flat['fusion/MR-full-mAP'] == 50.0 and flat['fusion/MR-full-R1@0.7'] == 50.0
    # only the output is written; the full metrics hold the head's too
    assert [e['pred_relevant_windows'][0][:2] for e in submission] == [[5.0, 10.0],
                                                                     [10.0, 20.0]]
    assert all(set(e) == {'qid', 'query', 'vid', 'pred_relevant_windows',
                          'pred_saliency_scores'} for e in submission)
    with open(tmp_path / 'out' / 'hl_val_submission_metrics.json') as f:
        written = json.load(f)
    assert json.dumps(written['fusion']) == json.dumps(fusion)
    assert json.dumps({k: v for k, v in written.items() if k != 'fusion'}) == json.dumps(own)


def test_other_heads_of_the_recall_metric(tmp_path):
    ann = [dict(qid='a', query='q', vid='v', duration=30.0, relevant_windows=[[0, 10]])]
    metric = METRICS.build(dict(type='MomentRecallMetric',
                                ann_file=write_jsonl(tmp_path / 'test.jsonl', ann)))
    # the output ranks its miss first; the atss head its hit
    prediction = sample('a', 30.0, [[20.0, 30.0], [0.0, 10.0]], [0.1, 0.9], [0.0])
    with_head(prediction, 'atss', [[0.0, 10.0], [20.0, 30.0]], [0.1, 0.9])
    metric.process({}, [prediction])
    flat = metric.compute_metrics(metric.results)
    assert flat['R1@0.5'] == 0.0 and flat['R5@0.5'] == 100.0
    assert flat['atss/R1@0.5'] == 100.0 and flat['atss/mIoU'] == 100.0
    assert len(flat) == 2 * 7


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
