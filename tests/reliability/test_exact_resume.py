"""A run killed inside an epoch and resumed ends bit for bit where the run
that was never interrupted ends (CPU, seeded): the checkpoints carry every
random-number state, data loading and validation stay off the training
stream, and the pipeline's draws depend on (seed, epoch, sample) only."""
import pytest
import torch
from mmengine.hooks import Hook

from sgdetr.engine import SGDETRRunner, load_checkpoint_file
from sgdetr.engine.random_state import META_KEY

from reliability_utils import tiny_cfg


class Killed(Exception):
    """Stands for the process being killed."""


class KillAt(Hook):
    """Dies in the middle of an epoch, after a checkpoint of the previous one."""

    def __init__(self, epoch: int, batch_idx: int):
        self.epoch, self.batch_idx = epoch, batch_idx

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.epoch == self.epoch and batch_idx == self.batch_idx:
            raise Killed


def train(cfg, kill_at=None):
    runner = SGDETRRunner.from_cfg(cfg)
    if kill_at is not None:
        runner.register_hook(KillAt(*kill_at))
    try:
        runner.train()
    finally:
        iterator = getattr(runner.train_dataloader, '_iterator', None)
        if iterator is not None:  # persistent workers: stop them now
            iterator._shutdown_workers()
    return runner


def weights(runner):
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.parametrize('num_workers', [0, 2])
def test_killed_mid_epoch_and_resumed_is_bit_identical(shared_data, tmp_path, num_workers):
    epochs = 2
    straight = train(tiny_cfg(shared_data, tmp_path / 'straight', epochs, num_workers,
                              name=f'straight{num_workers}'))
    expected = weights(straight)
    expected_optim = straight.optim_wrapper.optimizer.state_dict()['state']

    work_dir = tmp_path / 'killed'
    with pytest.raises(Killed):
        train(tiny_cfg(shared_data, work_dir, epochs, num_workers, name=f'killed{num_workers}'),
              kill_at=(1, 1))  # the second batch of the second epoch
    assert (work_dir / 'epoch_1.pth').exists() and not (work_dir / 'epoch_2.pth').exists()
    resumed = train(tiny_cfg(shared_data, work_dir, epochs, num_workers,
                             name=f'resumed{num_workers}', resume=True))

    assert resumed.epoch == epochs and resumed.iter == straight.iter
    got = weights(resumed)
    assert got.keys() == expected.keys()
    differing = [k for k in expected if not torch.equal(expected[k], got[k])]
    assert not differing, f'{len(differing)} tensors differ, e.g. {differing[:3]}'
    got_optim = resumed.optim_wrapper.optimizer.state_dict()['state']
    for index, state in expected_optim.items():
        for name, value in state.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(got_optim[index][name]))


def test_checkpoint_holds_the_random_states(shared_data, tmp_path):
    train(tiny_cfg(shared_data, tmp_path, 1, name='states'))
    checkpoint = load_checkpoint_file(tmp_path / 'epoch_1.pth')
    saved = checkpoint['meta'][META_KEY]
    assert saved['world_size'] == 1 and len(saved['states']) == 1
    assert set(saved['states'][0]) >= {'python', 'numpy', 'torch'}
    assert isinstance(saved['sampler_seed'], int)
