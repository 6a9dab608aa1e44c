"""Checkpoints of SGDETRRunner resume on torch >= 2.6 (weights-only load),
without changing MMEngine or torch for anyone else."""
import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from sgdetr.engine import SGDETRRunner, WeightsOnlyCheckpointHook, load_checkpoint_file


class _Regression(Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, idx):
        x = torch.full((4,), float(idx) / 16)
        return dict(inputs=x, targets=x.sum(0, keepdim=True) * 2)


class _TinyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            targets = torch.stack(targets) if isinstance(targets, list) else targets
            return dict(loss=((out - targets) ** 2).mean())
        return out


def _runner(work_dir, max_epochs, resume):
    return SGDETRRunner(
        model=_TinyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Regression(), batch_size=4,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-2)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], gamma=0.5, by_epoch=True,
                             begin=0, end=10),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='sgdetr',
        # MessageHub instances are keyed by experiment name: keep runs apart.
        experiment_name=f'{work_dir.name}-{max_epochs}-{resume}')


def test_checkpoint_loads_weights_only(tmp_path):
    runner = _runner(tmp_path, 1, False)
    runner.train()
    ckpt = load_checkpoint_file(tmp_path / 'epoch_1.pth')  # weights-only
    assert ckpt['meta']['epoch'] == 1
    assert 'message_hub' in ckpt and 'optimizer' in ckpt


def test_resume_one_to_two_epochs(tmp_path):
    first = _runner(tmp_path, 1, False)
    first.train()
    params_after_1 = {k: v.clone() for k, v in first.model.state_dict().items()}
    steps_after_1 = first.optim_wrapper.optimizer.state_dict()['state'][0]['step']

    second = _runner(tmp_path, 2, True)
    second.train()
    assert second.epoch == 2 and second.iter == 8
    # After resuming, the optimizer continued from epoch 1's state (4 more
    # steps on top of 4), and the second epoch started from the saved weights.
    state = second.optim_wrapper.optimizer.state_dict()['state'][0]
    assert float(state['step']) == float(steps_after_1) + 4
    assert second.param_schedulers[0].last_step == 2
    assert second.optim_wrapper.get_lr()['lr'][0] == pytest.approx(5e-3)
    ckpt1 = load_checkpoint_file(tmp_path / 'epoch_1.pth')
    for k, v in params_after_1.items():
        assert torch.equal(ckpt1['state_dict'][k], v)
    # Resumed training must differ from a fresh 1-epoch run on the same seed
    # only by the extra epoch: the history buffers came back too.
    scalars = second.message_hub.log_scalars
    assert len(scalars['train/loss'].data[0]) == 8
    assert not np.allclose(ckpt1['state_dict']['linear.weight'].numpy(),
                           second.model.linear.weight.detach().numpy())


def test_history_buffer_round_trip_keeps_statistics(tmp_path):
    from mmengine.logging import HistoryBuffer
    buffer = HistoryBuffer()
    for v in (1.0, 3.0):
        buffer.update(v)
    hook = WeightsOnlyCheckpointHook()
    checkpoint = dict(message_hub=dict(log_scalars=dict(loss=buffer)))
    hook.before_save_checkpoint(None, checkpoint)
    torch.save(checkpoint, tmp_path / 'b.pth')
    loaded = load_checkpoint_file(tmp_path / 'b.pth')
    hook.after_load_checkpoint(None, loaded)
    restored = loaded['message_hub']['log_scalars']['loss']
    assert restored.mean() == 2.0 and restored.max() == 3.0 and restored.current() == 3.0


def test_unlisted_global_still_refused(tmp_path):
    torch.save({'f': np.random.default_rng(0)}, tmp_path / 'x.pth')
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(tmp_path / 'x.pth', weights_only=True)


def test_loaders_pin_their_batches_where_a_gpu_trains(monkeypatch):
    from mmengine.config import Config

    from sgdetr.engine.runner import pin_batches_for_the_gpu
    for available in (False, True):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: available)
        cfg = Config(dict(train_dataloader=dict(batch_size=2), val_dataloader=dict(
            batch_size=1, pin_memory=False), test_dataloader=None))
        pin_batches_for_the_gpu(cfg)
        assert cfg.train_dataloader.pin_memory is available
        assert cfg.val_dataloader.pin_memory is False  # a config's own choice stays
        assert cfg.test_dataloader is None
