"""tools/analysis/run_seeds.py: N seeds of a config trained and evaluated,
mean +- std of the key metrics over the runs."""
import json
import sys

import numpy as np
import torch

from workflow_utils import DIM, HIDDEN, REPO, load_tool

DEMO = REPO / 'configs' / 'sgdetr_demo.py'
#: the QVHighlights columns of the paper's Table 3, as the metric names them
KEY_NAMES = ['MR-full-R1@0.5', 'MR-full-R1@0.7', 'MR-full-mAP@0.5', 'MR-full-mAP@0.75',
             'MR-full-mAP', 'HL-min-VeryGood-mAP', 'HL-min-VeryGood-Hit1']

TINY_CONFIG = '''\
_base_ = [{base!r}]
_root = {root!r}
_dataset = dict(data_root=_root, video_dim={dim}, text_dim={dim}, cache_features=False)
model = dict(encoder=dict(video_dim={dim} + 2, text_dim={dim}, embed_dims={hidden}),
             detr_head=dict(num_queries=5))
train_dataloader = dict(batch_size=4, dataset=_dataset)
val_dataloader = dict(dataset=_dataset)
test_dataloader = dict(dataset=dict(_dataset, ann_file='annotations/{test}'))
val_evaluator = dict(ann_file=_root + 'annotations/highlight_val_release.jsonl')
test_evaluator = dict(ann_file=_root + 'annotations/{test}')
train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = [dict(type='MultiStepLR', by_epoch=True, begin=0, end=2,
                        milestones=[1], gamma=0.5)]
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
log_level = 'WARNING'
'''


def write_config(path, root, test):
    path.write_text(TINY_CONFIG.format(base=str(DEMO), root=str(root) + '/', dim=DIM,
                                       hidden=HIDDEN, test=test))
    return path


def test_two_seeds_differ_and_are_summarised_with_numpy(tiny_data, tmp_path, capsys):
    config = write_config(tmp_path / 'tiny_seeds.py', tiny_data, 'test_with_gt.jsonl')
    out = tmp_path / 'summary.json'
    status = load_tool('analysis/run_seeds').main([
        str(config), '--seeds', '2', '--first-seed', '3', '--work-dir', str(tmp_path / 'runs'),
        '--out', str(out), '--cfg-options', 'train_cfg.max_epochs=1'])
    printed = capsys.readouterr().out
    assert status == 0
    report = json.loads(out.read_text())
    assert report['seeds'] == [3, 4]
    assert report['split'] == 'test'  # the test split has ground truth
    runs = report['runs']
    # each run trained 1 epoch (--cfg-options) into its own dir; the best checkpoint
    assert [r['work_dir'] for r in runs] == [str(tmp_path / 'runs' / f'seed_{s}') for s in (3, 4)]
    assert all(r['checkpoint'].endswith('best_MR-full-mAP_epoch_1.pth') for r in runs)
    weights = [torch.load(r['checkpoint'], weights_only=False)['state_dict'] for r in runs]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert any(runs[0]['metrics'][k] != runs[1]['metrics'][k] for k in KEY_NAMES)

    assert list(report['summary']) == KEY_NAMES
    for name in KEY_NAMES:
        values = np.array([r['metrics'][name] for r in runs])
        row = report['summary'][name]
        assert row['values'] == values.tolist()
        assert row['mean'] == np.mean(values)
        assert row['std'] == np.std(values, ddof=1)
        line, = [ln for ln in printed.splitlines() if ln.startswith(name + ' ')]
        assert line.split()[1:] == [f'{np.mean(values):.2f}', '+-',
                                    f'{np.std(values, ddof=1):.2f}']


def test_a_test_split_without_ground_truth_falls_back_to_val(tiny_data, tmp_path):
    config = write_config(tmp_path / 'tiny_release.py', tiny_data, 'test_release.jsonl')
    out = tmp_path / 'summary.json'
    assert load_tool('analysis/run_seeds').main([
        str(config), '--seeds', '1', '--work-dir', str(tmp_path / 'runs'), '--out', str(out),
        '--checkpoint', 'last', '--cfg-options', 'train_cfg.max_epochs=1']) == 0
    report = json.loads(out.read_text())
    assert report['split'] == 'val'
    run, = report['runs']
    assert run['checkpoint'].endswith('epoch_1.pth')
    # one run: std 0
    assert all(row['std'] == 0.0 for row in report['summary'].values())


def test_run_ablation_still_loads():
    module = load_tool('analysis/run_ablation')
    assert module.train_run.__module__ == 'sgdetr.apis.experiments'


def test_distributed_runs_train_through_dist_train_sh(tiny_data, tmp_path, monkeypatch):
    """--launcher pytorch: torch.distributed.run with one CPU process (gloo)."""
    monkeypatch.setenv('PYTHON', sys.executable)
    config = write_config(tmp_path / 'tiny_dist.py', tiny_data, 'test_with_gt.jsonl')
    out = tmp_path / 'summary.json'
    assert load_tool('analysis/run_seeds').main([
        str(config), '--seeds', '1', '--first-seed', '5', '--launcher', 'pytorch', '--gpus', '1',
        '--work-dir', str(tmp_path / 'runs'), '--out', str(out),
        '--cfg-options', 'train_cfg.max_epochs=1']) == 0
    run, = json.loads(out.read_text())['runs']
    assert run['checkpoint'] == str(tmp_path / 'runs' / 'seed_5' / 'best_MR-full-mAP_epoch_1.pth')
    # the seed reached the training processes
    saved = torch.load(run['checkpoint'], weights_only=False)['meta']
    assert saved['seed'] == 5
