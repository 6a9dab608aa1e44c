"""Atomic writes for every local file MMEngine saves (checkpoints, logs' JSON).

MMEngine's ``LocalBackend.put`` opens the destination and writes into it, so a
job killed mid-save leaves a truncated ``epoch_N.pth`` that ``--resume`` then
picks up as the latest checkpoint. Writing to a temporary file in the same
directory and ``os.replace``-ing it is atomic on POSIX and Windows.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

import mmengine
from mmengine.fileio.backends import LocalBackend, register_backend


def atomic_write_bytes(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so readers see the old or the new file,
    never a partial one."""
    filepath = str(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    mmengine.mkdir_or_exist(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + osp.basename(filepath),
                               suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(text: str, filepath: Union[str, Path],
                      encoding: str = 'utf-8') -> None:
    atomic_write_bytes(text.encode(encoding), filepath)


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose ``put`` / ``put_text`` replace files atomically."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write_text(obj, filepath, encoding)


register_backend('local', AtomicLocalBackend, force=True, prefixes='')
