"""The runner of ``tools/train.py`` and ``tools/test.py``: MMEngine's
:class:`~mmengine.runner.Runner`, with nothing silently wrong and nothing
lost.

- **Checkpoints must fit.** Evaluation (``val``/``test``) and resuming load
  a checkpoint strictly: a missing, unexpected or mis-shaped tensor is an
  error that lists them all (MMEngine only warns, and evaluates a partly
  random model). ``load_from`` for training (fine-tuning) loads what fits and
  says in one warning what it skipped and why. Every load is weights-only
  with the checkpoint allow-list (:mod:`.checkpoint`).
- **Start-up checks.** The config is checked (:mod:`.config_check`); the
  datasets check their annotations and every feature file when built; the
  evaluators' annotation files are checked for the metrics they will compute,
  their queries against the dataset's, and ``save_best`` against the metric
  names: all before the first training step.
- **Exact resume.** Checkpoints carry every random-number state
  (:class:`~sgdetr.engine.RandomStateHook`, added to every run), so a run
  killed and resumed ends with the same weights as one never interrupted.
  ``--resume`` without a path falls back, with a warning, to the newest
  checkpoint that can be read when the latest is truncated, and always
  resumes from this work dir's checkpoints (a copied work dir does not reach
  back into the directory it was copied from).
- **Disjoint splits.** A qid of the training split that the validation
  split also holds, reading the same text feature file, is an error naming
  the qids (the validation would score queries the model was trained on);
  a warning when both splits read one annotation file, which is deliberate.
- **Nothing lost.** Training from the start into a work dir that holds an
  earlier run's checkpoints is refused (it would overwrite ``epoch_N.pth`` and
  delete the old ones as its own): resume it, or start over with
  ``overwrite_work_dir=True``, which removes them first and says so.
"""
import os
import os.path as osp
from typing import List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.runner import EpochBasedTrainLoop, Runner

from ..errors import CheckpointError, ConfigError, DataError
from ..registry import RUNNERS
from .checkpoint import (load_checkpoint_file, load_model_weights, read_checkpoint,
                         resume_candidates)
from .config_check import check_config
from .random_state import RandomStateHook
from .safe_checkpoint_globals import WeightsOnlyCheckpointHook


@RUNNERS.register_module()
class SGDETRRunner(Runner):
    """:class:`~mmengine.runner.Runner` with strict checkpoints, start-up
    checks and exact resume (see the module documentation). Built like
    MMEngine's: ``SGDETRRunner.from_cfg(cfg)``, or ``runner_type =
    'SGDETRRunner'`` in a config built with ``RUNNERS.build``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._purpose: Optional[str] = None  # 'train', 'val' or 'test'
        self._resuming = False
        self._preloaded = {}
        self._resumed_meta: Optional[dict] = None
        self._overwrite = False
        # what exact resume and weights-only checkpoints need, in every run
        for hook_type in (RandomStateHook, WeightsOnlyCheckpointHook):
            if not any(isinstance(hook, hook_type) for hook in self.hooks):
                self.register_hook(hook_type())

    @classmethod
    def from_cfg(cls, cfg) -> 'SGDETRRunner':
        check_config(cfg, runner_cls=cls)
        work_dir = cfg.get('work_dir')
        if work_dir and osp.exists(work_dir) and not osp.isdir(work_dir):
            raise ConfigError(f'work_dir {work_dir} is a file, not a directory: choose another '
                              'work dir (--work-dir)')
        pin_batches_for_the_gpu(cfg)
        runner = super().from_cfg(cfg)
        runner._overwrite = bool(cfg.get('overwrite_work_dir', False))
        return runner

    # -- entry points: build what is checked, check, then run -----------------
    def train(self):
        self._purpose = 'train'
        self._check_earlier_run()
        # the data of both splits is checked before either error is reported
        problems = []
        try:
            self.train_loop  # built (and its datasets checked) here
        except DataError as error:
            problems.append(error)
        if self._val_loop is not None:
            try:
                self._check_evaluation('val', self.val_loop)
            except DataError as error:
                problems.append(error)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise DataError('\n'.join(f'[{split}] {error}' for split, error
                                       in zip(('train', 'val'), problems)))
        if self.val_loop is not None:
            self._check_disjoint_splits()
            self._check_save_best()
        return super().train()

    def val(self):
        self._purpose = 'val'
        self._check_evaluation('val', self.val_loop)
        return super().val()

    def test(self):
        self._purpose = 'test'
        self._check_evaluation('test', self.test_loop)
        return super().test()

    def _check_earlier_run(self) -> None:
        if self._resume:
            return
        directory = self._checkpoint_dir()
        earlier = sorted(name for name in os.listdir(directory)
                         if name.endswith('.pth') or name == 'last_checkpoint') \
            if osp.isdir(directory) else []
        if not earlier:
            return
        if not self._overwrite:
            raise ConfigError(
                f'{directory} holds the checkpoints of an earlier run ({", ".join(earlier)}); '
                'training from the start would overwrite or delete them. Continue that run '
                'with --resume (resume=True), start over with --overwrite '
                '(overwrite_work_dir=True: its checkpoints are removed first), or train into '
                'another --work-dir')
        if is_main_process():
            for name in earlier:
                os.remove(osp.join(directory, name))
        self.logger.warning(f'overwrite_work_dir: the earlier run\'s checkpoints were removed '
                            f'from {directory}: {", ".join(earlier)}')

    # -- start-up checks of the evaluation -------------------------------------
    def _check_evaluation(self, split: str, loop) -> None:
        """The metrics' annotation files, and their queries against the dataset's."""
        evaluator = getattr(loop, 'evaluator', None)
        dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
        for metric in getattr(evaluator, 'metrics', []):
            if not hasattr(metric, 'check_ground_truth'):
                continue
            metric.check_ground_truth()
            if getattr(metric, 'match_number', False) and dataset is not None:
                self._check_queries(split, metric, dataset)

    @staticmethod
    def _check_queries(split: str, metric, dataset) -> None:
        try:
            dataset_qids = {dataset.get_data_info(i)['qid'] for i in range(len(dataset))}
        except (AttributeError, KeyError, TypeError):
            return
        scored = {a['qid'] for a in metric.annotations}
        if scored == dataset_qids:
            return

        def preview(qids):
            qids = sorted(qids, key=str)
            return ', '.join(map(repr, qids[:10])) + (' ...' if len(qids) > 10 else '')

        only_annotated, only_read = scored - dataset_qids, dataset_qids - scored
        source = getattr(dataset, 'ann_file', f'the {split} dataset')
        raise DataError(
            f'{split}_evaluator.ann_file {metric.ann_file} and the {split} dataset '
            f'({source}) hold different queries: {len(only_annotated)} only in the '
            f'former [{preview(only_annotated)}], {len(only_read)} only in the latter '
            f'[{preview(only_read)}]; the metric needs a prediction for every annotated '
            'query (set match_number=False to score a subset)')

    def _check_disjoint_splits(self) -> None:
        train = getattr(self.train_loop.dataloader, 'dataset', None)
        val = getattr(self.val_loop.dataloader, 'dataset', None)
        try:
            train_files, val_files = _text_files(train), _text_files(val)
        except (AttributeError, KeyError, TypeError):
            return
        shared = sorted((qid for qid in train_files.keys() & val_files.keys()
                         if train_files[qid] == val_files[qid]), key=str)
        if not shared:
            return
        files = [getattr(d, 'ann_file', None) for d in (train, val)]
        listed = ', '.join(map(repr, shared[:20])) + (' ...' if len(shared) > 20 else '')
        message = (f'the train ({files[0]}) and val ({files[1]}) splits share {len(shared)} '
                   f'qid(s), which read the same text features: [{listed}]; validation would '
                   'score queries the model is trained on')
        # one file for both is deliberate (a check that the model fits its data)
        if files[0] is not None and osp.abspath(files[0]) == osp.abspath(files[1] or ''):
            self.logger.warning(message)
            return
        raise DataError(message + '. Remove them from one of the files')

    def _check_save_best(self) -> None:
        names, known = set(), True
        for metric in self.val_loop.evaluator.metrics:
            if not hasattr(metric, 'metric_names'):
                known = False
                continue
            prefix = metric.prefix
            names |= {f'{prefix}/{name}' if prefix else name for name in metric.metric_names()}
        if not known:
            return
        for hook in self.hooks:
            if not isinstance(hook, CheckpointHook) or hook.save_best is None:
                continue
            for key in hook.key_indicators:
                if key == 'auto' or key in names or any(key.endswith('/' + n)
                                                       for n in names):
                    continue
                files = ', '.join(getattr(m, 'ann_file', '?')
                                  for m in self.val_loop.evaluator.metrics)
                raise ConfigError(
                    f'default_hooks.checkpoint.save_best={key!r}: validation computes '
                    f'no such metric ({sorted(names) or "no metric at all"}, from the '
                    f'ground truth of {files}); the best checkpoint could never be chosen')

    # -- loading -------------------------------------------------------------
    def load_checkpoint(self, filename: str, map_location='cpu', strict: Optional[bool] = None,
                        revise_keys: list = [(r'^module.', '')]):
        """Load the model weights of ``filename``.

        Args:
            strict: None chooses by purpose: strict when resuming and for
                evaluation, lenient with a summary for ``load_from`` in
                training; True/False force it.
        """
        checkpoint = self._preloaded.pop(osp.abspath(filename), None)
        if checkpoint is None:
            checkpoint = read_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        if strict is None:
            strict = self._resuming or self._purpose in ('val', 'test')
        load_model_weights(self.model, checkpoint, strict, source=filename,
                           rules=revise_keys, logger=self.logger)
        self._resumed_meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def load_or_resume(self) -> None:
        if self._has_loaded:
            return None
        if self._resume and self._load_from is None:
            path = self._find_resume_checkpoint()
            if path is None:
                self.logger.info(f'{self.work_dir} holds no checkpoint to resume from: '
                                 'training from the start')
                return None
            self.logger.info(f'Auto resumed from the latest readable checkpoint {path}.')
            self.resume(path)
            self._has_loaded = True
            return None
        return super().load_or_resume()

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location='default') -> None:
        self._resuming = True
        try:
            super().resume(filename, resume_optimizer, resume_param_scheduler, map_location)
        finally:
            self._resuming = False
        meta = self._resumed_meta or {}
        self._check_resume_position(meta, filename)
        self._rebase_checkpoint_paths()
        for hook in self.hooks:
            if isinstance(hook, RandomStateHook):
                hook.restore(self, meta, filename)

    def _check_resume_position(self, meta: dict, filename: str) -> None:
        loop = self.train_loop
        if not isinstance(loop, EpochBasedTrainLoop) or 'iter' not in meta:
            return
        per_epoch = len(loop.dataloader)
        if meta['iter'] != meta['epoch'] * per_epoch:
            raise CheckpointError(
                f'{filename} was saved after iteration {meta["iter"]}, which is not the end '
                f'of epoch {meta["epoch"]} ({per_epoch} iterations per epoch): it was saved '
                'inside an epoch, or the batch size or dataset changed since. An '
                'epoch-based run resumes from the end of an epoch only (epoch_N.pth).')

    # -- which checkpoint to resume from -------------------------------------
    def _checkpoint_dir(self) -> str:
        """Where this run's CheckpointHook saves, as its ``before_train`` will
        resolve it (``out_dir/<work dir name>``, else the work dir)."""
        for hook in self.hooks:
            if isinstance(hook, CheckpointHook) and hook.out_dir not in (None, self.work_dir):
                return osp.join(str(hook.out_dir), osp.basename(self.work_dir.rstrip(osp.sep)))
        return self.work_dir

    def _find_resume_checkpoint(self) -> Optional[str]:
        candidates, notes = resume_candidates(self.work_dir, self._checkpoint_dir())
        for note in notes:
            self.logger.warning(note)
        unreadable: List[str] = []
        for path in candidates:
            try:
                checkpoint = load_checkpoint_file(path, map_location='cpu')
            except CheckpointError as error:
                unreadable.append(str(error))
                continue
            if unreadable:
                self.logger.warning(
                    f'resuming from {path}: the newer checkpoint(s) cannot be read:\n  '
                    + '\n  '.join(unreadable))
            self._preloaded[osp.abspath(path)] = checkpoint
            return path
        if unreadable:
            raise CheckpointError('no checkpoint of this work dir can be read:\n  '
                                  + '\n  '.join(unreadable))
        return None

    def _rebase_checkpoint_paths(self) -> None:
        """Checkpoint paths in the message hub written by a work dir that was
        copied or moved point into this one's (CheckpointHook deletes the old
        best checkpoint by that path)."""
        directory = osp.abspath(self._checkpoint_dir())
        info = self.message_hub.runtime_info
        for key in list(info):
            value = info[key]
            if not (key == 'last_ckpt' or key.startswith('best_ckpt')) or \
                    not isinstance(value, str) or not osp.isabs(value):
                continue
            if osp.normpath(osp.dirname(value)) != osp.normpath(directory):
                local = osp.join(directory, osp.basename(value))
                self.logger.warning(f'{key} of the checkpoint is {value}, outside this '
                                    f'run\'s checkpoint directory: using {local}')
                self.message_hub.update_info(key, local)


def pin_batches_for_the_gpu(cfg) -> None:
    """``pin_memory=True`` for the data loaders that do not say, where a GPU trains:
    batches in page-locked memory reach the GPU while it computes the previous
    step (the data preprocessor copies them without waiting). Off on the CPU,
    where PyTorch would warn that it has nothing to pin for."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if isinstance(loader, dict) and 'pin_memory' not in loader:
            loader['pin_memory'] = torch.cuda.is_available()


def _text_files(dataset) -> dict:
    """qid -> the text feature file it reads (the qid itself without a feature store)."""
    features = getattr(dataset, 'features', None)
    qids = (dataset.get_data_info(i)['qid'] for i in range(len(dataset)))
    return {qid: features.text_path(qid) if features is not None else qid for qid in qids}
