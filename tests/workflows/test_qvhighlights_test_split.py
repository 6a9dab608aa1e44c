"""The QVHighlights test split scored locally: ``tools/test.py --split test
--ann-file highlight_test_with_gt.jsonl`` gives the metrics of
``tools/evaluate.py`` on the submission it writes; the release without ground
truth gives the same submission and no metric."""
import json

import numpy as np
import pytest
from mmengine.config import Config

from sgdetr.datasets import QVHighlightsDataset
from sgdetr.evaluation.metrics import QVHighlightsMetric

from workflow_utils import (REPO, SHARED_ANNOTATIONS, load_tool, read_jsonl, save_model,
                            tiny_qvh_options)

QVH_CONFIG = REPO / 'configs' / 'sgdetr_qvh.py'
REAL_TEST_GT = SHARED_ANNOTATIONS / 'qvhighlights' / 'highlight_test_with_gt.jsonl'
REAL_TEST_RELEASE = SHARED_ANNOTATIONS / 'qvhighlights' / 'highlight_test_release.jsonl'
#: queries of the QVHighlights test split (1541 newlines: the last line has none)
NUM_TEST_QUERIES = 1542


@pytest.fixture(scope='module')
def checkpoint(tiny_data, tmp_path_factory):
    cfg = Config.fromfile(str(QVH_CONFIG))
    cfg.merge_from_dict(tiny_qvh_options(tiny_data, test='test_release.jsonl'))
    return save_model(cfg, tmp_path_factory.mktemp('ckpt') / 'tiny.pth')


def run_test(tiny_data, checkpoint, work_dir, *flags):
    """tools/test.py on the tiny QVHighlights setting (test split = the release
    without ground truth); returns (metrics, submission dir)."""
    tool = load_tool('test')
    submission_dir = work_dir / 'submission'
    args = tool.parse_args([str(QVH_CONFIG), str(checkpoint), '--split', 'test',
                            '--work-dir', str(work_dir), '--submission-dir',
                            str(submission_dir), *flags])
    args.cfg_options = tiny_qvh_options(tiny_data, test='test_release.jsonl')
    return tool.run(args), submission_dir


def assert_same_metrics(ours, official):
    """Same names and values (NaN where a length range has no moment)."""
    assert set(ours) == set(official)
    for name, value in official.items():
        assert ours[name] == value or (np.isnan(ours[name]) and np.isnan(value)), name


def evaluate_tool(prediction, ground_truth, out):
    assert load_tool('evaluate').main(['--pred', str(prediction), '--gt', str(ground_truth),
                                       '--out', str(out)]) == 0
    return json.loads(out.read_text())


def test_the_test_split_with_ground_truth_is_scored_as_tools_evaluate_does(
        tiny_data, checkpoint, tmp_path):
    gt = tiny_data / 'annotations' / 'test_with_gt.jsonl'
    metrics, submission_dir = run_test(tiny_data, checkpoint, tmp_path / 'gt',
                                       '--ann-file', str(gt))
    submission = submission_dir / 'hl_test_submission.jsonl'
    assert [e['qid'] for e in read_jsonl(submission)] == [a['qid'] for a in read_jsonl(gt)]
    official = evaluate_tool(submission, gt, tmp_path / 'official.json')
    assert {'MR-full-mAP', 'MR-full-R1@0.5', 'HL-min-VeryGood-mAP'} <= set(metrics)
    # the model's output; the fused DETR + ATSS windows are scored alongside
    assert_same_metrics({k: v for k, v in metrics.items() if '/' not in k}, official['brief'])
    assert any(k.startswith('fusion/') for k in metrics)
    # the full official JSON is written next to the submission
    written = json.loads((submission_dir / 'hl_test_submission_metrics.json').read_text())
    assert_same_metrics(written['brief'], official['brief'])

    # the release without ground truth: the same submission, nothing scored
    metrics, release_dir = run_test(tiny_data, checkpoint, tmp_path / 'release')
    assert metrics == {}
    assert (release_dir / 'hl_test_submission.jsonl').read_text() == submission.read_text()
    assert not (release_dir / 'hl_test_submission_metrics.json').exists()


def test_ann_file_must_exist(tiny_data, checkpoint, tmp_path, capsys):
    missing = tmp_path / 'nowhere.jsonl'
    status = load_tool('test').main([str(QVH_CONFIG), str(checkpoint), '--ann-file',
                                     str(missing), '--work-dir', str(tmp_path)])
    assert status == 1
    assert f'--ann-file {missing}: no such file' in capsys.readouterr().err


def perfect_entry(annotation: dict) -> dict:
    """Predictions equal to the ground truth: its windows, its mean saliency."""
    saliency = np.zeros(int(annotation['duration'] // 2))
    for clip, scores in zip(annotation['relevant_clip_ids'], annotation['saliency_scores']):
        saliency[clip] = np.mean(scores)
    return dict(qid=annotation['qid'], query=annotation['query'], vid=annotation['vid'],
                pred_relevant_windows=[[s, e, 1.0] for s, e in annotation['relevant_windows']],
                pred_saliency_scores=saliency.tolist())


@pytest.mark.skipif(not REAL_TEST_GT.exists(), reason='needs ../shared (real annotations)')
def test_the_released_test_ground_truth_is_accepted_and_scored(tmp_path):
    dataset = QVHighlightsDataset(ann_file=str(REAL_TEST_GT), video_feat_dirs=None,
                                  text_feat_dir=None, test_mode=True)
    assert len(dataset) == NUM_TEST_QUERIES
    annotations = read_jsonl(REAL_TEST_GT)
    # the queries of the release, with their ground truth
    assert [a['qid'] for a in annotations] == [a['qid'] for a in read_jsonl(REAL_TEST_RELEASE)]
    metric = QVHighlightsMetric(ann_file=str(REAL_TEST_GT), split_name='test',
                                submission_dir=str(tmp_path))
    assert metric.check_ground_truth() == {'moment retrieval': True,
                                           'highlight detection': True}
    assert {'MR-full-mAP', 'HL-min-VeryGood-Hit1'} <= set(metric.metric_names())
    results = [dict(entry=perfect_entry(a), heads={}) for a in annotations]
    metrics = metric.compute_metrics(results)
    official = evaluate_tool(tmp_path / 'hl_test_submission.jsonl', REAL_TEST_GT,
                             tmp_path / 'official.json')
    assert_same_metrics(metrics, official['brief'])
    # the ground truth's own windows: the top one always matches; AP loses a
    # little on the queries with more than the 10 windows the server scores
    assert max(len(a['relevant_windows']) for a in annotations) > 10
    assert metrics['MR-full-R1@0.5'] == metrics['MR-full-R1@0.7'] == 100.0
    assert metrics['MR-full-mAP'] > 99.0
