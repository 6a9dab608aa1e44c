"""Training never destroys an earlier run's checkpoints without being told:
a work dir holding them is refused unless the run resumes it or starts over
explicitly; a work dir that is a file is an error."""
import shutil

from reliability_utils import load_tool, write_tiny_config


def train(config, work_dir, capsys, *options):
    status = load_tool('train').main([str(config), '--work-dir', str(work_dir), *options])
    captured = capsys.readouterr()
    return status, captured.out + captured.err  # the log goes to stdout


def checkpoints(work_dir):
    return {p.name: p.read_bytes() for p in work_dir.iterdir()
            if p.suffix == '.pth' or p.name == 'last_checkpoint'}


def test_an_earlier_run_is_not_overwritten_silently(shared_data, trained_run, tmp_path, capsys):
    work_dir = tmp_path / 'work'
    shutil.copytree(trained_run, work_dir)
    before = checkpoints(work_dir)
    assert 'epoch_1.pth' in before and any(name.startswith('best_') for name in before)
    config = write_tiny_config(tmp_path / 'tiny.py', shared_data)
    status, error = train(config, work_dir, capsys)
    assert status == 1
    assert (f'error: {work_dir} holds the checkpoints of an earlier run (' in error
            and 'epoch_1.pth' in error)
    assert ('training from the start would overwrite or delete them. Continue that run with '
            '--resume (resume=True), start over with --overwrite') in error
    assert checkpoints(work_dir) == before
    # starting over is explicit, and says what it removed
    status, error = train(config, work_dir, capsys, '--overwrite')
    assert status == 0
    assert "overwrite_work_dir: the earlier run's checkpoints were removed from" in error
    assert not (work_dir / 'epoch_2.pth').exists()  # the new run has 1 epoch


def test_a_work_dir_that_is_a_file(shared_data, tmp_path, capsys):
    work_dir = tmp_path / 'work'
    work_dir.write_text('not a directory')
    config = write_tiny_config(tmp_path / 'tiny.py', shared_data)
    status, error = train(config, work_dir, capsys)
    assert status == 1
    assert f'error: work_dir {work_dir} is a file, not a directory' in error
    assert 'Traceback' not in error
