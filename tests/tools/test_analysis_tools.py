"""tools/analysis/visualize.py and tools/analysis/analyze_logs.py; the logs come
from a real (toy) MMEngine training run, with the runtime config's TensorBoard
option switched on when tensorboard is installed."""
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).parents[2]
RUNTIME = REPO / 'configs' / '_base_' / 'default_runtime.py'
pytest.importorskip('matplotlib')


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


visualize = _load('visualize_tool', REPO / 'tools' / 'analysis' / 'visualize.py')
analyze_logs = _load('analyze_logs_tool', REPO / 'tools' / 'analysis' / 'analyze_logs.py')


def tensorboard_backends():
    """The commented TensorBoard option of the runtime config, as written there."""
    lines = [line for line in RUNTIME.read_text().splitlines()
             if re.match(r'#\s*vis_backends\s*=.*TensorboardVisBackend', line)]
    assert len(lines) == 1, 'default_runtime.py documents the TensorBoard backend'
    scope = {}
    exec(lines[0].lstrip('# '), {}, scope)
    return scope['vis_backends']


@pytest.fixture(scope='module')
def training_log(tmp_path_factory):
    """A 3-epoch toy run: JSON log lines as MMEngine's LoggerHook writes them."""
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.linear(torch.stack(inputs))
            if mode == 'loss':
                return dict(loss=(out - 1).pow(2).mean())
            return [dict(pred=float(v)) for v in out] if mode == 'predict' else out

    class Metric(BaseMetric):
        def process(self, data_batch, data_samples):
            self.results += [s['pred'] for s in data_samples]

        def compute_metrics(self, results):
            return {'MR-full-mAP': 100 - abs(sum(results) / len(results) - 1) * 10}

    torch.manual_seed(0)
    data = [dict(inputs=torch.randn(2)) for _ in range(8)]
    loader = dict(dataset=data, batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False))
    backends = [dict(type='LocalVisBackend')]
    try:
        importlib.import_module('tensorboard')
        tensorboard = True
    except ImportError:
        tensorboard = False
    if tensorboard:
        backends = tensorboard_backends()
    work_dir = tmp_path_factory.mktemp('toy_run')
    runner = Runner(
        model=Toy(), work_dir=str(work_dir), train_dataloader=loader, val_dataloader=loader,
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=1), val_cfg=dict(),
        val_evaluator=[Metric()], optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=2),
                           checkpoint=dict(type='CheckpointHook', interval=10)),
        visualizer=dict(type='Visualizer', vis_backends=backends,
                        name=f'toy_visualizer_{time.time()}'),
        experiment_name=f'toy_{time.time_ns()}', default_scope='mmengine')
    runner.train()
    return dict(work_dir=work_dir, tensorboard=tensorboard)


def test_logs_are_read_from_a_work_dir(training_log):
    log = analyze_logs.load_log(str(training_log['work_dir']))
    assert log['path'].endswith('vis_data/scalars.json')
    assert len(log['train']) == 6 and len(log['val']) == 3  # 4 iterations / epoch, every 2nd
    assert [r['step'] for r in log['val']] == [1, 2, 3]
    keys = analyze_logs.available_keys(log)
    assert 'loss' in keys['train'] and 'lr' in keys['train'] and keys['val'][0] == 'MR-full-mAP'


def test_plot_curve_and_cal_train_time(training_log, tmp_path, capsys):
    out = tmp_path / 'curves.png'
    run = str(training_log['work_dir'])
    assert analyze_logs.main(['plot_curve', run, run, '--keys', 'loss', 'MR-full-mAP',
                              '--legend', 'a', 'b', '--out', str(out)]) == 0
    assert out.read_bytes()[:4] == b'\x89PNG'
    assert analyze_logs.main(['plot_curve', run, '--out', str(tmp_path / 'default.png')]) == 0
    assert 'loss, MR-full-mAP of 1 log(s)' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='no log has the key'):
        analyze_logs.main(['plot_curve', run, '--keys', 'nope', '--out', str(out)])
    assert analyze_logs.main(['cal_train_time', run]) == 0
    printed = capsys.readouterr().out
    assert 'slowest epoch' in printed and 'average iter time' in printed
    stats = analyze_logs.train_time(analyze_logs.load_log(run))
    assert list(stats['per_epoch']) == [1, 2, 3]


def test_tensorboard_backend_of_the_runtime_config(training_log):
    if not training_log['tensorboard']:
        pytest.skip('tensorboard is not installed')
    events = list(Path(training_log['work_dir']).rglob('events.out.tfevents.*'))
    assert events, 'the TensorBoard backend wrote no event file'


def test_visualize_writes_per_query_figures_and_a_summary(tmp_path, capsys):
    entries = [dict(qid=q, query=f'query {q}', vid='v',
                    pred_relevant_windows=[[2.0 * q, 2.0 * q + 6, 0.8], [20.0, 24.0, 0.3]],
                    pred_saliency_scores=[float(i % 7) for i in range(20)]) for q in (1, 2, 3)]
    gts = [dict(qid=q, query=f'query {q}', vid='v', duration=40.0,
                relevant_windows=[[2.0 * q, 2.0 * q + 6]], relevant_clip_ids=[q, q + 1],
                saliency_scores=[[2, 3, 4], [4, 4, 4]]) for q in (1, 2)]
    pred, gt = tmp_path / 'pred.jsonl', tmp_path / 'gt.jsonl'
    pred.write_text(''.join(json.dumps(e) + '\n' for e in entries))
    gt.write_text(''.join(json.dumps(g) + '\n' for g in gts))
    assert visualize.main([str(pred), '--gt', str(gt)]) == 0
    out_dir = tmp_path / 'pred_vis'
    assert sorted(p.name for p in out_dir.iterdir()) == ['1.png', '2.png', '3.png',
                                                          'summary.png']
    assert 'R1@0.5 100.00' in capsys.readouterr().out
    assert visualize.main([str(pred), '--qids', '2', '--out-dir', str(tmp_path / 'one')]) == 0
    assert sorted(p.name for p in (tmp_path / 'one').iterdir()) == ['2.png', 'summary.png']
