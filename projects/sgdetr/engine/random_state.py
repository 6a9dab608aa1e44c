"""Random-number states in checkpoints, so that a resumed run continues the
interrupted one exactly.

What a training run draws, and how each draw is reproduced on resume:

- the model (dropout, drop path, ATSS tie-breaking, denoising noise) draws
  from the global torch RNG of each process (CPU and CUDA): its state at the
  end of every epoch is saved (all ranks gathered) and restored on resume;
- python's and numpy's global RNGs: saved and restored likewise;
- the sampler shuffles with its own generator seeded by ``seed + epoch``
  (MMEngine's ``DefaultSampler``): it keeps no other state, a mid-epoch
  iterator is rebuilt from those two numbers; the seed is saved and restored;
- the data pipeline (``BuildMomentTargets`` draws saliency pairs and window
  subsets from numpy's global RNG, in the dataloader workers): the datasets of
  this package reseed numpy and python per sample from ``(seed, epoch,
  index)`` once the hook has told them the epoch, so the draws depend neither
  on the worker that reads the sample nor on what that worker read before
  (persistent workers, a different ``num_workers``, a resumed run).

Two things would otherwise shift the model's stream: building a dataloader
iterator draws the workers' base seed from the global torch RNG (once per
epoch, or only once in a run with persistent workers), and validation runs
between epochs. The states are therefore put back after the iterator is made
(at the first iteration of every epoch) and after every validation, so the
training stream is the same whether or not, and how often, either happened.
"""
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from ..registry import HOOKS

#: key of the states in ``checkpoint['meta']``
META_KEY = 'random_states'


def capture_random_state() -> dict:
    """The global RNG states of this process (checkpoint-safe types only:
    tensors, lists, numbers, strings)."""
    version, internal, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    state = dict(
        python=[version, list(internal), gauss],
        numpy=[name, torch.from_numpy(keys.astype(np.int64)), int(position),
               int(has_gauss), float(cached)],
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict) -> None:
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        if len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['cuda'])
        else:
            print_log(f'the checkpoint holds the CUDA RNG states of {len(state["cuda"])} '
                      f'devices, this machine has {torch.cuda.device_count()}: CUDA draws '
                      'will differ from the interrupted run', logger='current', level=30)


def _unwrap_datasets(dataset) -> list:
    """The dataset and the datasets it wraps (Concat/Repeat/ClassBalanced...)."""
    found, stack = [], [dataset]
    while stack:
        item = stack.pop()
        found.append(item)
        stack += list(getattr(item, 'datasets', []) or [])
        inner = getattr(item, 'dataset', None)
        if inner is not None:
            stack.append(inner)
    return found


def _sampler(dataloader):
    sampler = getattr(dataloader, 'sampler', None)
    if sampler is not None and hasattr(sampler, 'seed'):
        return sampler
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    return getattr(batch_sampler, 'sampler', None)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Saves every RNG state in the checkpoints, restores it on resume, and
    keeps data loading and validation off the training random stream (see
    the module documentation). :class:`~sgdetr.engine.SGDETRRunner` adds it.
    """
    priority = 'VERY_HIGH'

    def __init__(self):
        self._epoch_start: Optional[dict] = None
        self._before_val: Optional[dict] = None
        self._gathered: Optional[List[dict]] = None
        self._gathered_at: Optional[int] = None

    # -- the data pipeline -------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        loop = runner.train_loop
        if isinstance(loop, EpochBasedTrainLoop):
            for dataset in _unwrap_datasets(loop.dataloader.dataset):
                if hasattr(dataset, 'set_epoch'):
                    dataset.set_epoch(runner.epoch, runner.seed)
        self._epoch_start = capture_random_state()

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        # undo what making this epoch's dataloader iterator drew
        if batch_idx == 0 and self._epoch_start is not None:
            restore_random_state(self._epoch_start)
        self._epoch_start = None

    # -- validation --------------------------------------------------------
    def before_val(self, runner) -> None:
        self._before_val = capture_random_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_random_state(self._before_val)
            self._before_val = None

    # -- checkpoints ---------------------------------------------------------
    def after_train_epoch(self, runner) -> None:
        # every rank's states, gathered here: saving runs on rank 0 only
        state = self._training_state()
        _, world_size = get_dist_info()
        self._gathered = all_gather_object(state) if world_size > 1 else [state]
        self._gathered_at = runner.iter

    def _training_state(self) -> dict:
        # during validation the training stream is the one saved before it
        return self._before_val if self._before_val is not None else capture_random_state()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._gathered is not None and self._gathered_at == runner.iter:
            states = self._gathered
        else:  # a save between epoch ends: this process' states only
            states = [self._training_state()]
        meta = checkpoint.setdefault('meta', {})
        meta[META_KEY] = dict(states=states, world_size=get_dist_info()[1])
        sampler = _sampler(runner.train_dataloader)
        if sampler is not None and isinstance(getattr(sampler, 'seed', None), int):
            meta[META_KEY]['sampler_seed'] = sampler.seed

    def restore(self, runner, meta: dict, source: str) -> None:
        """Put back the states a checkpoint saved (called on resume)."""
        saved = meta.get(META_KEY)
        if saved is None:
            runner.logger.warning(f'{source} holds no random-number states (written by an '
                                  'older version): the resumed run will not repeat the '
                                  'interrupted one exactly')
            return
        rank, world_size = get_dist_info()
        states = saved['states']
        if len(states) == world_size:
            restore_random_state(states[rank])
        else:
            runner.logger.warning(
                f'{source} holds the random-number states of {len(states)} process(es), '
                f'this run has {world_size}: they are not restored')
        sampler = _sampler(runner.train_dataloader)
        if sampler is not None and 'sampler_seed' in saved:
            sampler.seed = saved['sampler_seed']
