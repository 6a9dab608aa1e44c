import pytest
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend

from sgdetr.engine import ATOMIC_BACKEND, AtomicLocalBackend, atomic_write_bytes

RUNTIME = 'configs/_base_/default_runtime.py'


def test_the_named_backend_is_atomic_and_local_is_mmengines():
    named = get_file_backend('/tmp/x.pth', backend_args=dict(backend=ATOMIC_BACKEND))
    assert isinstance(named, AtomicLocalBackend)
    assert type(get_file_backend('/tmp/x.pth')) is LocalBackend


def test_the_runtime_config_writes_checkpoints_through_it():
    cfg = Config.fromfile(RUNTIME)
    assert cfg.runner_type == 'SGDETRRunner'
    for hook in ('checkpoint', 'logger'):
        assert cfg.default_hooks[hook].backend_args == dict(backend=ATOMIC_BACKEND)


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / 'ckpt.pth'
    atomic_write_bytes(b'old', target)

    with pytest.raises(TypeError):
        atomic_write_bytes(object(), target)  # the write itself fails
    assert target.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['ckpt.pth']  # no temp left


def test_put_text_round_trip(tmp_path):
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend=ATOMIC_BACKEND))
    backend.put_text('héllo', tmp_path / 'sub' / 'a.txt')
    assert (tmp_path / 'sub' / 'a.txt').read_text(encoding='utf-8') == 'héllo'
