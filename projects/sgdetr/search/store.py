"""The files of a library index: bookkeeping in SQLite, embeddings in
append-only files read through ``numpy.memmap``::

    INDEX_DIR/
      index.sqlite            meta (key -> JSON value), videos (one row per video)
      embeddings-000001.i8    (rows, dim) int8, row-major, no header
      scales-000001.f4        (rows,) little-endian float32: row i is embeddings[i] * scales[i]
      lock                    held by the one process that writes (fcntl.flock)

(:mod:`.quantize`). A video owns ``num_rows`` consecutive rows from
``row_start``. Rows of removed or re-indexed videos stay in the files, owned
by nobody, until :meth:`IndexStore.compact` rewrites the live rows into the
next generation.

**Atomicity.** New rows are appended past the committed end of the data
files and fsynced *before* the SQLite transaction that references them (and
records the new committed row count) commits. A writer killed at any point
leaves the last committed state: the next writer cuts the bytes past the
committed count and deletes data files of another generation (an
interrupted compaction). Readers map the committed rows only.
"""
import contextlib
import json
import os
import os.path as osp
import sqlite3
from dataclasses import dataclass, fields
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import IndexMismatchError
from .quantize import ROW_DTYPE, SCALE_DTYPE, quantize_rows

FORMAT_VERSION = 1
DATABASE = 'index.sqlite'
DATA_PREFIXES = ('embeddings-', 'scales-')
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    vid TEXT PRIMARY KEY, path TEXT NOT NULL, features TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT,
    num_clips INTEGER NOT NULL, duration REAL NOT NULL,
    row_start INTEGER NOT NULL, num_rows INTEGER NOT NULL);
"""


@dataclass
class VideoRecord:
    """What the index keeps of one video: the file it tracks (``path``, its
    ``size`` / ``mtime_ns`` / ``sha256``), the features the second stage reads
    (``features``; the same file unless extracted from a video file), its
    length and where its rows are."""
    vid: str
    path: str
    features: str
    size: int
    mtime_ns: int
    sha256: Optional[str]
    num_clips: int
    duration: float
    row_start: int = -1
    num_rows: int = 0


COLUMNS = tuple(f.name for f in fields(VideoRecord))


@dataclass
class IndexTable:
    """The committed index as arrays, for a query.

    Attributes:
        vids: (V,) video ids, by ``row_start``.  row_start, num_rows,
            num_clips: (V,) int64.  duration: (V,) float64 seconds.
        records: the V :class:`VideoRecord`, same order.
        owner: (R,) int32 video of every row, -1 for a row nobody owns.
        rows: (R, dim) int8 and scales: (R,) float32, memory-mapped
            (copy-on-write: the files are never written through them).
        revision: the commit it shows.
    """
    vids: np.ndarray
    row_start: np.ndarray
    num_rows: np.ndarray
    num_clips: np.ndarray
    duration: np.ndarray
    records: List[VideoRecord]
    owner: np.ndarray
    rows: np.ndarray
    scales: np.ndarray
    revision: int

    def embeddings(self, begin: int = 0, end: Optional[int] = None) -> np.ndarray:
        """Rows ``[begin, end)`` as float32 (dequantised)."""
        return self.rows[begin:end].astype(np.float32) * self.scales[begin:end, None]


class IndexStore:
    """One index directory.

    Args:
        directory: the index directory.
        writable: take the writer's lock, then repair what an interrupted
            writer left (uncommitted bytes, stray data files).
        create: meta (``dim`` and the rest) of the index to create when the
            directory holds none (writable only); ``None``: it must exist.
    """

    def __init__(self, directory: str, writable: bool = False, create: Optional[dict] = None):
        self.directory = directory
        self.path = osp.join(directory, DATABASE)
        self._lock = None
        if writable:
            os.makedirs(directory, exist_ok=True)
            self._lock = _take_lock(osp.join(directory, 'lock'), directory)
            self.conn = sqlite3.connect(self.path, timeout=30.0)
            with self.conn:
                self.conn.executescript(SCHEMA)
        elif osp.isfile(self.path):
            self.conn = sqlite3.connect(f'file:{self.path}?mode=ro', uri=True, timeout=30.0)
        else:
            raise FileNotFoundError(_no_index(directory))
        if not self.meta:
            if create is None or not writable:
                self.close()
                raise FileNotFoundError(_no_index(directory))
            self._init_meta(create)
        version = self.meta.get('format_version')
        if version != FORMAT_VERSION:
            self.close()
            raise IndexMismatchError(f'{self.path}: index format {version!r}, this version '
                                     f'reads {FORMAT_VERSION}; rebuild it into a new directory')
        if writable:
            self._repair()

    @staticmethod
    def exists(directory: str) -> bool:
        """Whether ``directory`` holds an index (possibly empty of videos)."""
        try:
            IndexStore(directory).close()
        except FileNotFoundError:
            return False
        return True

    # -- meta ------------------------------------------------------------------
    @property
    def meta(self) -> dict:
        try:
            rows = self.conn.execute('SELECT key, value FROM meta').fetchall()
        except sqlite3.OperationalError:  # no table yet: not an index
            return {}
        return {key: json.loads(value) for key, value in rows}

    def _set_meta(self, **items) -> None:
        """Within the caller's transaction."""
        self.conn.executemany('INSERT OR REPLACE INTO meta VALUES (?, ?)',
                              [(k, json.dumps(v)) for k, v in items.items()])

    def _init_meta(self, meta: dict) -> None:
        with self.conn:
            self._set_meta(**meta, format_version=FORMAT_VERSION, revision=0,
                           committed_rows=0, generation=1)

    @property
    def revision(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return json.loads(row[0])

    @property
    def dim(self) -> int:
        return int(self.meta['dim'])

    def data_paths(self, generation: Optional[int] = None) -> Tuple[str, str]:
        """(rows file, scales file) of ``generation`` (default: the current one)."""
        generation = self.meta['generation'] if generation is None else generation
        return tuple(osp.join(self.directory, f'{prefix}{generation:06d}{suffix}')
                     for prefix, suffix in zip(DATA_PREFIXES, ('.i8', '.f4')))

    # -- reading ---------------------------------------------------------------
    def records(self) -> Dict[str, VideoRecord]:
        rows = self.conn.execute(f'SELECT {", ".join(COLUMNS)} FROM videos').fetchall()
        return {row[0]: VideoRecord(*row) for row in rows}

    def table(self) -> IndexTable:
        """The committed state, read in one transaction."""
        with _read_transaction(self.conn):
            meta = self.meta
            rows = self.conn.execute(
                f'SELECT {", ".join(COLUMNS)} FROM videos ORDER BY row_start').fetchall()
        records = [VideoRecord(*row) for row in rows]
        committed, dim = int(meta['committed_rows']), int(meta['dim'])
        column = lambda name, dtype: np.array([getattr(r, name) for r in records],  # noqa
                                               dtype=dtype)
        row_start, num_rows = column('row_start', np.int64), column('num_rows', np.int64)
        owner = np.full(committed, -1, dtype=np.int32)
        if records:
            first = np.repeat(row_start - (np.cumsum(num_rows) - num_rows), num_rows)
            owner[first + np.arange(int(num_rows.sum()))] = np.repeat(
                np.arange(len(records), dtype=np.int32), num_rows)
        rows_path, scales_path = self.data_paths(meta['generation'])
        rows = (np.memmap(rows_path, dtype=ROW_DTYPE, mode='c', shape=(committed, dim))
                if committed else np.zeros((0, dim), ROW_DTYPE))
        scales = (np.memmap(scales_path, dtype=SCALE_DTYPE, mode='c', shape=(committed,))
                  if committed else np.zeros(0, SCALE_DTYPE))
        return IndexTable(vids=np.array([r.vid for r in records], dtype=object),
                          row_start=row_start, num_rows=num_rows,
                          num_clips=column('num_clips', np.int64),
                          duration=column('duration', np.float64), records=records,
                          owner=owner, rows=rows, scales=scales, revision=int(meta['revision']))

    def size_on_disk(self) -> int:
        """Bytes of the database and the current data files."""
        return sum(osp.getsize(p) for p in (self.path, *self.data_paths()) if osp.exists(p))

    # -- writing ---------------------------------------------------------------
    def commit(self, added: Sequence[Tuple[VideoRecord, Optional[np.ndarray]]] = (),
               removed: Iterable[str] = ()) -> None:
        """Add or replace videos and drop others, atomically.

        Args:
            added: ``(record, rows (num_rows, dim) float)``, stored as int8
                (:func:`.quantize.quantize_rows`); ``rows=None`` updates the
                record's file state and keeps its rows (a touched, unchanged file).
            removed: vids to drop.
        """
        self._check_writable()
        added = list(added)
        new = [(r, e) for r, e in added if e is not None]
        committed = self._append_rows([e for _, e in new])
        start = int(self.meta['committed_rows'])
        for record, rows in new:
            record.row_start, record.num_rows = start, len(rows)
            start += len(rows)
        kept = self.records()
        for record, rows in added:
            if rows is None:
                old = kept[record.vid]
                record.row_start, record.num_rows = old.row_start, old.num_rows
        self._record([r for r, _ in added], list(removed), committed)

    def _append_rows(self, arrays: List[np.ndarray]) -> int:
        """Write ``arrays`` after the committed rows and fsync; returns the new
        committed row count (not yet recorded)."""
        committed, dim = int(self.meta['committed_rows']), self.dim
        for rows in arrays:
            if rows.ndim != 2 or rows.shape[1] != dim:
                raise ValueError(f'{self.directory}: rows of shape {rows.shape} for an index of '
                                 f'dim {dim}')
        quantized = [quantize_rows(rows) for rows in arrays]
        for path, part, row_bytes in zip(self.data_paths(), (0, 1),
                                         (dim * ROW_DTYPE.itemsize, SCALE_DTYPE.itemsize)):
            created = not osp.exists(path)
            with open(path, 'wb' if created else 'r+b') as handle:
                handle.truncate(committed * row_bytes)
                handle.seek(0, os.SEEK_END)
                for pair in quantized:
                    handle.write(np.ascontiguousarray(pair[part]).tobytes())
                handle.flush()
                os.fsync(handle.fileno())
            if created:
                _fsync_directory(self.directory)
        return committed + sum(len(rows) for rows in arrays)

    def _record(self, records: List[VideoRecord], removed: List[str], committed: int) -> None:
        """The transaction that makes appended rows part of the index."""
        with self.conn:
            self.conn.executemany('DELETE FROM videos WHERE vid = ?', [(v,) for v in removed])
            self.conn.executemany(
                f'INSERT OR REPLACE INTO videos VALUES ({", ".join("?" * len(COLUMNS))})',
                [tuple(getattr(r, c) for c in COLUMNS) for r in records])
            self._set_meta(committed_rows=committed, revision=self.revision + 1)

    def update_meta(self, **items) -> None:
        self._check_writable()
        with self.conn:
            self._set_meta(**items, revision=self.revision + 1)

    def dead_fraction(self) -> float:
        committed = int(self.meta['committed_rows'])
        live = self.conn.execute('SELECT COALESCE(SUM(num_rows), 0) FROM videos').fetchone()[0]
        return 1.0 - live / committed if committed else 0.0

    def compact(self, chunk_rows: int = 1 << 20) -> None:
        """Rewrite the live rows into the next generation's files and switch to
        them in one transaction; the old files are deleted after the commit."""
        self._check_writable()
        table = self.table()
        live = np.flatnonzero(table.owner >= 0)
        generation = int(self.meta['generation'])
        old_paths, new_paths = self.data_paths(generation), self.data_paths(generation + 1)
        new_start = np.cumsum(table.num_rows) - table.num_rows  # table is by row_start
        for path, array in zip(new_paths, (table.rows, table.scales)):
            with open(path, 'wb') as handle:
                for begin in range(0, len(live), chunk_rows):
                    handle.write(np.ascontiguousarray(array[live[begin:begin + chunk_rows]])
                                 .tobytes())
                handle.flush()
                os.fsync(handle.fileno())
        _fsync_directory(self.directory)
        with self.conn:
            self.conn.executemany('UPDATE videos SET row_start = ? WHERE vid = ?',
                                  [(int(s), v) for s, v in zip(new_start, table.vids)])
            self._set_meta(generation=generation + 1, committed_rows=int(len(live)),
                           revision=self.revision + 1)
        del table
        for path in old_paths:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def _repair(self) -> None:
        """Cut an interrupted append, delete another generation's data files."""
        meta = self.meta
        current = [osp.basename(p) for p in self.data_paths(meta['generation'])]
        for name in os.listdir(self.directory):
            if name.startswith(DATA_PREFIXES) and name not in current:
                os.remove(osp.join(self.directory, name))
        committed = int(meta['committed_rows'])
        for path, row_bytes in zip(self.data_paths(meta['generation']),
                                   (int(meta['dim']) * ROW_DTYPE.itemsize, SCALE_DTYPE.itemsize)):
            size = committed * row_bytes
            if osp.exists(path) and osp.getsize(path) != size:
                if osp.getsize(path) < size:
                    raise IndexMismatchError(f'{path}: {osp.getsize(path)} bytes, but the index '
                                             f'committed {size}: the data file was damaged')
                with open(path, 'r+b') as handle:
                    handle.truncate(size)

    def _check_writable(self) -> None:
        if self._lock is None:
            raise RuntimeError(f'{self.directory}: opened read-only')

    def close(self) -> None:
        self.conn.close()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _no_index(directory: str) -> str:
    return (f'{directory}: no index here; build one with MomentSearcher.index() or '
            '`python tools/search.py index`')


def _take_lock(path: str, directory: str) -> int:
    import fcntl
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(f'{directory}: another process is updating this index') from None
    return fd


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _read_transaction(conn: sqlite3.Connection):
    """One consistent snapshot for several SELECTs."""
    conn.execute('BEGIN')
    try:
        yield
    finally:
        conn.execute('COMMIT')
