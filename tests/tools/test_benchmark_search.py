"""tools/analysis/benchmark_search.py at toy sizes: a VCMR report on a small
synthetic split and a scale report on tiny synthetic indexes."""
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_search', REPO / 'tools' / 'analysis' / 'benchmark_search.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vcmr_report(tool, tmp_path, capsys):
    from sgdetr.datasets.synthetic import make_synthetic_dataset
    root = tmp_path / 'data'
    make_synthetic_dataset(str(root), num_train=2, num_val=8, num_test=2, dim=16, num_topics=2,
                           min_clips=10, max_clips=30, seed=3, verbose=False)
    config = tmp_path / 'zs.py'
    config.write_text(f"_base_ = ['{REPO}/configs/zero_shot/zero_shot_synthetic.py']\n"
                      "video_dim = text_dim = 16\n"
                      "_f = dict(video_dim=16, text_dim=16)\n"
                      "val_dataloader = dict(dataset=_f)\ntest_dataloader = dict(dataset=_f)\n")
    report = tool.main(['vcmr', '--config', str(config), '--data-root', str(root),
                        '--work-dir', str(tmp_path / 'bench'), '--num-candidates', '3',
                        '--recall-at', '1', '3', '--scores', 'window*saliency'])
    assert report['queries'] == 8 and report['videos'] >= 1
    metrics = report['scores']['window*saliency']['metrics']
    assert set(metrics) == {f'R{k}@{m}' for k in (1, 10, 100) for m in (0.5, 0.7)}
    assert metrics['R1@0.5'] <= metrics['R10@0.5'] <= metrics['R100@0.5']
    recall = report['first_stage_video_recall']
    assert recall['video_R@1'] <= recall['video_R@3']
    assert '| `window*saliency` |' in capsys.readouterr().out


def test_scale_report(tool, tmp_path, capsys):
    report = tool.main(['scale', '--config', str(REPO / 'configs' / 'sgdetr_demo.py'),
                        '--sizes', '30', '60', '--minutes', '1', '--queries', '2',
                        '--work-dir', str(tmp_path)])
    sizes = report['sizes']
    assert [e['videos'] for e in sizes] == [30, 60]
    assert [e['segments'] for e in sizes] == [30 * 4, 60 * 4]  # 30 clips in 8-clip segments
    assert sizes[1]['index_bytes'] > 60 * 4 * (256 + 4)  # int8 rows of the demo's 256-d space
    assert not (tmp_path / 'scale_30').exists()  # removed unless --keep
    assert '| 60 (1 h) | 240 |' in capsys.readouterr().out
