"""tools/analysis/benchmark.py at toy sizes: it runs, reports the machine,
and its variants remove what they say they remove."""
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
TOOL = REPO / 'tools' / 'analysis' / 'benchmark.py'
NUM_QUERIES = 25  # matching queries of the configs' DETR head


@pytest.fixture(scope='module')
def benchmark_tool():
    spec = importlib.util.spec_from_file_location('benchmark_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_random_windows_are_disjoint_and_inside(benchmark_tool):
    import torch
    generator = torch.Generator().manual_seed(0)
    for num_clips in (4, 9, 75):
        for _ in range(50):
            windows = benchmark_tool.random_windows(num_clips, generator)
            assert 1 <= len(windows) <= 3
            for (first, end), (next_first, _) in zip(windows, windows[1:]):
                assert end <= next_first
            assert all(0 <= first < end <= num_clips for first, end in windows)


def test_toy_run_reports_every_variant(benchmark_tool, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    report = benchmark_tool.main([
        '--config', str(REPO / 'configs' / 'sgdetr_demo.py'), '--batch-size', '2',
        '--num-clips', '8', '--num-tokens', '4', '--iters', '1', '--warmup', '0',
        '--variants', 'no_atss', 'no_denoising', 'detr_only',
        '--json', str(out)])
    printed = capsys.readouterr().out
    assert 'Measured on this machine' in printed and 'torch ' in printed
    assert json.loads(out.read_text())['settings'] == report['settings']

    results = report['results']
    assert list(results) == ['full', 'no_atss', 'no_denoising', 'detr_only']
    for result in results.values():
        assert result['train_step_median_s'] > 0
        assert result['inference_queries_per_s'] > 0
        # query groups are training-only
        assert result['decoder_queries_test'] == NUM_QUERIES
    train_queries = {name: r['decoder_queries_train'] for name, r in results.items()}
    assert train_queries['detr_only'] == NUM_QUERIES
    assert train_queries['full'] > train_queries['no_atss'] > NUM_QUERIES
    assert train_queries['full'] > train_queries['no_denoising'] > NUM_QUERIES
    assert results['no_atss']['parameters'] < results['full']['parameters']
