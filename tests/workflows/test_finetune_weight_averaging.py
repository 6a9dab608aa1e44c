"""Stochastic weight averaging of the fine-tune config (MMEngine's EMAHook with
StochasticWeightAverage): the saved weights are the mean of the weights after
every iteration from ``begin_epoch`` on, and tools/test.py evaluates them."""
import numpy as np
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from sgdetr.engine import SGDETRRunner

from workflow_utils import REPO, load_tool, tiny_qvh_options

FINETUNE = REPO / 'configs' / 'pretrain' / 'sgdetr_qvh_finetune.py'
QVH = REPO / 'configs' / 'sgdetr_qvh.py'


class RecordWeights(Hook):
    """The model's parameters after every training iteration, with the epoch."""
    priority = 'LOWEST'

    def __init__(self):
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        params = {k: v.detach().clone() for k, v in runner.model.named_parameters()}
        self.records.append((runner.epoch, params))


def test_saved_weights_are_the_average_from_begin_epoch(tiny_data, tmp_path):
    cfg = Config.fromfile(str(FINETUNE))
    cfg.merge_from_dict(tiny_qvh_options(tiny_data, test='test_with_gt.jsonl'))
    cfg.merge_from_dict({'train_cfg.max_epochs': 3, 'load_from': None,
                         'work_dir': str(tmp_path / 'work'),
                         'experiment_name': 'workflow-swa'})
    cfg.custom_hooks[0].begin_epoch = 2  # averaging from the second epoch (0-based 1)
    runner = SGDETRRunner.from_cfg(cfg)
    recorder = RecordWeights()
    runner.register_hook(recorder)
    runner.train()

    averaged = [p for epoch, p in recorder.records if epoch >= 1]
    assert 0 < len(averaged) < len(recorder.records)
    checkpoint = torch.load(tmp_path / 'work' / 'epoch_3.pth', weights_only=False)
    last = recorder.records[-1][1]
    for name in last:
        expected = torch.stack([p[name] for p in averaged]).mean(0)
        torch.testing.assert_close(checkpoint['state_dict'][name], expected,
                                   rtol=1e-5, atol=1e-6)
        # the current weights, for resuming
        torch.testing.assert_close(checkpoint['ema_state_dict'][f'module.{name}'], last[name])
    differs = [n for n in last if not torch.equal(checkpoint['state_dict'][n], last[n])]
    assert differs

    # tools/test.py evaluates the averaged weights, with or without the hook
    tool = load_tool('test')
    metrics = []
    for config in (FINETUNE, QVH):
        args = tool.parse_args([str(config), str(tmp_path / 'work' / 'epoch_3.pth'),
                                '--work-dir', str(tmp_path / f'test_{config.stem}')])
        args.cfg_options = tiny_qvh_options(tiny_data, test='test_with_gt.jsonl')
        metrics.append(tool.run(args))
    assert 'MR-full-mAP' in metrics[0]
    np.testing.assert_equal(metrics[0], metrics[1])  # NaN where a length range is empty
