"""tools/analysis/benchmark.py at toy sizes: batches shaped like the data, a report per
batch size and precision."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).parents[2]
TOOL = REPO / 'tools' / 'analysis' / 'benchmark.py'


@pytest.fixture(scope='module')
def benchmark_tool():
    spec = importlib.util.spec_from_file_location('benchmark_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_queries_follow_the_statistics(benchmark_tool):
    rng = np.random.default_rng(0)
    queries = [benchmark_tool.synthetic_annotation(rng, i) for i in range(400)]
    counts = [len(q['relevant_windows']) for q in queries]
    assert 0.55 < np.mean(np.array(counts) == 1) < 0.8 and max(counts) > 3
    for q in queries:
        windows = q['relevant_windows']
        assert all(0 <= s < e <= q['duration'] for s, e in windows)
        assert all(e <= s2 for (_, e), (s2, _) in zip(windows, windows[1:]))  # disjoint
        assert len(q['saliency_scores']) == len(q['relevant_clip_ids'])


def test_samples_go_through_the_config_pipeline(benchmark_tool):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(str(REPO / 'configs' / 'sgdetr_qvh.py'))
    init_default_scope('sgdetr')
    samples = benchmark_tool.make_samples(cfg, None, 3, np.random.default_rng(0))
    for sample in samples:
        video = sample['inputs']['video']
        assert video.shape[1] == 514 and video.shape[0] % 4 == 0  # endpoints, padding
        assert sample['inputs']['text'].shape[1] == 512
        assert len(sample['data_samples'].gt_instances) >= 1


def test_toy_run_reports_each_batch_size_and_precision(benchmark_tool, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    report = benchmark_tool.main([
        '--config', str(REPO / 'configs' / 'sgdetr_demo.py'), '--batch-sizes', '2',
        '--precisions', 'fp32', 'bf16', '--iters', '1', '--warmup', '0', '--infer-batch', '2',
        '--threads', '1', '--cfg-options', 'model.encoder.embed_dims=16',
        'model.detr_head.num_queries=5', '--json', str(out)])
    printed = capsys.readouterr().out
    assert 'Measured on this machine' in printed and 'torch ' in printed
    assert json.loads(out.read_text())['results'] == report['results']
    rows = report['results']
    assert [(r['batch_size'], r['precision']) for r in rows] == [(2, 'fp32'), (2, 'bf16')]
    for r in rows:
        assert r['train_step_median_s'] > 0 and r['inference_queries_per_s'] > 0
        assert r['train_gflop_per_step'] > 0 and r['peak_rss_gb'] > 0
        assert r['matmul_peak_gflop_per_s'] > 0


def test_long_video_mode_reports_seconds_and_memory(benchmark_tool, capsys):
    report = benchmark_tool.main([
        '--config', str(REPO / 'configs' / 'sgdetr_demo.py'), '--long-video', '60', '200',
        '--long-queries', '2', '--iters', '1', '--warmup', '0', '--threads', '1',
        '--cfg-options', 'model.encoder.embed_dims=16', 'model.detr_head.num_queries=5'])
    assert 'Measured on this machine' in capsys.readouterr().out
    rows = report['long_video']
    assert [(r['clips'], r['queries']) for r in rows] == [(60, 2), (200, 2)]
    # 200 clips: windows of 75 at a stride of 56
    assert [r['windows_per_query'] for r in rows] == [1, 4]
    assert all(r['seconds_median'] > 0 and r['peak_rss_gb'] > 0 for r in rows)
