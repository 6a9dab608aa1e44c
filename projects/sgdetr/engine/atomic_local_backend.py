"""Atomic writes: the functions the package writes its files with, and a
file backend for the files MMEngine saves on a run's behalf.

MMEngine's ``LocalBackend.put`` opens the destination and writes into it, so a
job killed mid-save leaves a truncated ``epoch_N.pth`` that ``--resume`` then
picks up as the latest checkpoint. Writing to a temporary file in the same
directory and ``os.replace``-ing it is atomic on POSIX and Windows.

The backend is registered under its own name, ``ATOMIC_BACKEND``, and used
where a config names it (``backend_args=dict(backend='sgdetr_atomic_local')``
of the checkpoint and logger hooks in ``configs/_base_/default_runtime.py``);
MMEngine's ``'local'`` backend stays what it is for every other program.

The file gets the permissions a plain ``open(path, 'w')`` would give it: those
of the file it replaces, or ``0o666`` less the process umask for a new file
(``tempfile.mkstemp`` would make every checkpoint and submission ``0600``).
"""
import contextlib
import os
import os.path as osp
import secrets
import stat
from pathlib import Path
from typing import Iterator, Union

import mmengine
from mmengine.fileio.backends import LocalBackend, register_backend


def _create_temporary(directory: str, basename: str):
    """A new file next to the destination, created with mode ``0o666`` so
    that the kernel applies the umask; returns (fd, path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0)
    for _ in range(100):
        path = osp.join(directory, f'.{basename}.{secrets.token_hex(4)}.tmp')
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f'{directory}: no free temporary name for {basename}')


def _keep_mode(tmp: str, filepath: str) -> None:
    """Replacing a file keeps its permissions, as ``open(path, 'w')`` would."""
    try:
        os.chmod(tmp, stat.S_IMODE(os.stat(filepath).st_mode))
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def atomic_output(filepath: Union[str, Path]) -> Iterator[str]:
    """A temporary path next to ``filepath`` to write (e.g. a zip archive) into;
    it replaces ``filepath`` when the block ends without an exception and is
    removed otherwise."""
    filepath = str(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    mmengine.mkdir_or_exist(directory)
    fd, tmp = _create_temporary(directory, osp.basename(filepath))
    os.close(fd)
    try:
        _keep_mode(tmp, filepath)
        yield tmp
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_bytes(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so readers see the old or the new file,
    never a partial one."""
    filepath = str(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    mmengine.mkdir_or_exist(directory)
    fd, tmp = _create_temporary(directory, osp.basename(filepath))
    try:
        with os.fdopen(fd, 'wb') as f:
            _keep_mode(tmp, filepath)
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


#: the name configs give in ``backend_args`` to write through AtomicLocalBackend
ATOMIC_BACKEND = 'sgdetr_atomic_local'
register_backend(ATOMIC_BACKEND, AtomicLocalBackend)
