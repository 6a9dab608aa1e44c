"""Checkpoints: strict for evaluation, inference and resuming, one summary for
fine-tuning, weights-only everywhere, and --resume robust to a truncated
latest checkpoint and to a copied work dir."""
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.runner import load_checkpoint

from sgdetr.apis import MomentPredictor
from sgdetr.datasets import DataError
from sgdetr.datasets.features import read_pt_array
from sgdetr.engine import (CheckpointError, CheckpointMismatchError, SGDETRRunner,
                           load_checkpoint_file)
from sgdetr.engine.official_checkpoint import ConversionError, load_released_checkpoint
from sgdetr.registry import MODELS

from reliability_utils import load_tool, tiny_cfg, write_tiny_config


def save_model(cfg, path: Path, **model_options) -> Path:
    cfg = cfg.copy()
    cfg.merge_from_dict({f'model.{k}': v for k, v in model_options.items()})
    model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture
def wide_checkpoint(shared_data, tmp_path):
    """The tiny model at hidden 32 instead of 16."""
    return save_model(tiny_cfg(shared_data, tmp_path), tmp_path / 'hidden32.pth',
                      **{'encoder.embed_dims': 32})


class Exploit:
    """Pickles as a call of os.system: loading it must not run it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture
def exploit(tmp_path):
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'exploit.pth'
    torch.save(dict(state_dict={}, meta=dict(), payload=Exploit(marker)), path)
    return path, marker


# -- strict loading ---------------------------------------------------------------
def test_test_tool_refuses_a_checkpoint_of_another_shape(shared_data, tmp_path, capsys,
                                                        wide_checkpoint):
    config = write_tiny_config(tmp_path / 'tiny.py', shared_data)
    submission_dir = tmp_path / 'submission'
    status = load_tool('test').main([str(config), str(wide_checkpoint), '--split', 'val',
                                     '--work-dir', str(tmp_path / 'work'),
                                     '--submission-dir', str(submission_dir)])
    error = capsys.readouterr().err
    assert status == 1
    assert f'{wide_checkpoint} does not fit the model' in error
    assert 'shape mismatch (checkpoint -> model)' in error
    assert 'encoder.video_proj.layers.2.weight: [32, 18] -> [16, 18]' in error
    assert not submission_dir.exists()


def test_test_tool_needs_a_checkpoint_for_a_model_with_weights(shared_data, tmp_path, capsys):
    config = write_tiny_config(tmp_path / 'tiny.py', shared_data)
    assert load_tool('test').main([str(config), '--work-dir', str(tmp_path / 'w')]) == 1
    assert 'no checkpoint was given' in capsys.readouterr().err


def test_evaluation_and_resume_list_missing_and_unexpected_tensors(shared_data, tmp_path):
    cfg = tiny_cfg(shared_data, tmp_path / 'work', name='strict-keys')
    state = MODELS.build(cfg.model).state_dict()
    state['extra.weight'] = torch.zeros(3)
    del state['encoder.video_proj.layers.0.weight']
    torch.save(dict(state_dict=state, meta=dict()), tmp_path / 'edited.pth')
    cfg.load_from = str(tmp_path / 'edited.pth')
    runner = SGDETRRunner.from_cfg(cfg)
    with pytest.raises(CheckpointMismatchError) as error:
        runner.val()
    message = str(error.value)
    assert '1 missing from the checkpoint:\n    encoder.video_proj.layers.0.weight [18]' \
        in message
    assert '1 not in the model:\n    extra.weight [3]' in message


def test_predictor_refuses_a_checkpoint_of_another_shape(shared_data, tmp_path,
                                                         wide_checkpoint):
    cfg = tiny_cfg(shared_data, tmp_path)
    with pytest.raises(CheckpointMismatchError,
                       match=r'shape mismatch(.|\n)*encoder\.video_proj'):
        MomentPredictor(cfg, str(wide_checkpoint))


def test_fine_tuning_states_what_it_skipped_in_one_summary(shared_data, tmp_path,
                                                           wide_checkpoint):
    work_dir = tmp_path / 'finetune'
    cfg = tiny_cfg(shared_data, work_dir, max_epochs=1, name='finetune',
                   load_from=str(wide_checkpoint))
    runner = SGDETRRunner.from_cfg(cfg)
    logged = []
    runner.logger.addFilter(lambda record: logged.append(record.getMessage()) or True)
    runner.train()
    summaries = [m for m in logged if m.startswith(f'{wide_checkpoint}: loaded')]
    assert len(summaries) == 1
    summary = summaries[0]
    assert 'the others keep their initial values' in summary
    assert 'shape mismatch (checkpoint -> model)' in summary
    assert not any('size mismatch' in m for m in logged)  # MMEngine's per-tensor lines
    assert (work_dir / 'epoch_1.pth').exists()


# -- weights only, everywhere ---------------------------------------------------------
def test_a_pickle_that_runs_code_is_refused_everywhere(shared_data, tmp_path, exploit, capsys):
    path, marker = exploit
    with pytest.raises(CheckpointError, match='refused'):
        load_checkpoint_file(path)
    # MMEngine's own loader is left as it is: torch's weights-only default refuses it too
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(torch.nn.Linear(1, 1), str(path))
    with pytest.raises(CheckpointError, match='refused'):
        MomentPredictor(tiny_cfg(shared_data, tmp_path), str(path))
    config = write_tiny_config(tmp_path / 'tiny.py', shared_data)
    assert load_tool('test').main([str(config), str(path), '--split', 'val',
                                   '--work-dir', str(tmp_path / 'test')]) == 1
    assert 'refused' in capsys.readouterr().err
    resume = tiny_cfg(shared_data, tmp_path / 'resume', name='exploit-resume', resume=True,
                      load_from=str(path))
    with pytest.raises(CheckpointError, match='refused'):
        SGDETRRunner.from_cfg(resume).train()
    with pytest.raises(DataError, match='cannot read feature file'):
        read_pt_array(str(path))
    # the converter of released checkpoints (inert stand-ins for their
    # hyper-parameter objects; the os module is never one of them)
    with pytest.raises(ConversionError, match='posix.system'):
        load_released_checkpoint(str(path))
    assert not marker.exists()


# -- resuming -----------------------------------------------------------------------
def copy_run(trained_run, destination: Path) -> Path:
    shutil.copytree(trained_run, destination)
    return destination


def test_truncated_latest_checkpoint_falls_back_with_a_warning(shared_data, trained_run,
                                                              tmp_path):
    work_dir = copy_run(trained_run, tmp_path / 'run')
    latest = work_dir / 'epoch_2.pth'
    latest.write_bytes(latest.read_bytes()[:latest.stat().st_size // 2])  # a crash mid-save
    runner = SGDETRRunner.from_cfg(tiny_cfg(shared_data, work_dir, max_epochs=2,
                                            name='truncated', resume=True))
    logged = []
    runner.logger.addFilter(lambda record: logged.append(record.getMessage()) or True)
    runner.train()
    warnings = [m for m in logged if 'cannot be read' in m]
    assert len(warnings) == 1 and f'resuming from {work_dir / "epoch_1.pth"}' in warnings[0]
    assert str(latest) in warnings[0]
    assert runner.epoch == 2  # epoch 2 trained again


def test_copied_work_dir_resumes_from_its_own_checkpoints(shared_data, trained_run, tmp_path):
    copy = copy_run(trained_run, tmp_path / 'copy')
    assert Path((copy / 'last_checkpoint').read_text()).parent == trained_run  # absolute
    runner = SGDETRRunner.from_cfg(tiny_cfg(shared_data, copy, max_epochs=2, name='copied',
                                            resume=True))
    loaded = []
    original = runner.load_checkpoint
    runner.load_checkpoint = lambda filename, *a, **k: loaded.append(filename) or original(
        filename, *a, **k)
    runner.train()
    assert loaded == [str(copy / 'epoch_2.pth')]
    # the checkpoint hook would delete the previous best checkpoint by this path
    best = runner.message_hub.get_info('best_ckpt')
    assert best is None or Path(best).parent == copy


def test_checkpoint_saved_inside_an_epoch_is_refused(shared_data, trained_run, tmp_path):
    work_dir = copy_run(trained_run, tmp_path / 'run')
    checkpoint = load_checkpoint_file(work_dir / 'epoch_1.pth')
    checkpoint['meta']['iter'] -= 1
    torch.save(checkpoint, work_dir / 'epoch_1.pth')
    cfg = tiny_cfg(shared_data, work_dir, max_epochs=2, name='inside', resume=True,
                   load_from=str(work_dir / 'epoch_1.pth'))
    with pytest.raises(CheckpointError, match='not the end of epoch 1'):
        SGDETRRunner.from_cfg(cfg).train()
