"""Checkpoints and submissions get the permissions of any file the user
writes (0o666 less the umask, or those of the file replaced), not 0600."""
import os
import stat

import pytest

from sgdetr.engine import atomic_write_bytes
from sgdetr.evaluation.submission import write_submission, zip_submission


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    os.umask(previous)

    def set_umask(value):
        os.umask(value)
    yield set_umask
    os.umask(previous)


def test_checkpoints_of_a_run_follow_the_umask(trained_run):
    current = os.umask(0)
    os.umask(current)
    for path in list(trained_run.glob('*.pth')) + [trained_run / 'last_checkpoint']:
        assert mode(path) == 0o666 & ~current, path


@pytest.mark.parametrize('value, expected', [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, value, expected):
    umask(value)
    atomic_write_bytes(b'x', tmp_path / 'epoch_1.pth')
    entries = [dict(qid=1, query='q', vid='v', pred_relevant_windows=[[0, 1, 0.5]],
                    pred_saliency_scores=[0.1])]
    write_submission(entries, str(tmp_path / 'hl_val_submission.jsonl'))
    write_submission(entries, str(tmp_path / 'hl_test_submission.jsonl'))
    archive = zip_submission(str(tmp_path))
    for path in (tmp_path / 'epoch_1.pth', tmp_path / 'hl_val_submission.jsonl', archive):
        assert mode(path) == expected, path
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith('.tmp')] == []


def test_replacing_a_file_keeps_its_permissions(tmp_path, umask):
    target = tmp_path / 'metrics.json'
    target.write_text('old')
    os.chmod(target, 0o640)
    umask(0o077)
    atomic_write_bytes(b'new', target)
    assert target.read_bytes() == b'new' and mode(target) == 0o640
