import pytest
from mmengine.fileio import get_file_backend

from sgdetr.engine import AtomicLocalBackend, atomic_write_bytes


def test_mmengine_local_backend_is_atomic():
    assert isinstance(get_file_backend('/tmp/x.pth'), AtomicLocalBackend)


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / 'ckpt.pth'
    atomic_write_bytes(b'old', target)

    with pytest.raises(TypeError):
        atomic_write_bytes(object(), target)  # the write itself fails
    assert target.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['ckpt.pth']  # no temp left


def test_put_text_round_trip(tmp_path):
    backend = get_file_backend(str(tmp_path))
    backend.put_text('héllo', tmp_path / 'sub' / 'a.txt')
    assert (tmp_path / 'sub' / 'a.txt').read_text(encoding='utf-8') == 'héllo'
