"""Resumable, shareable transfers: a file list in an sqlite database that any
number of clients (processes, machines sharing the file) lease batches from.

A client leases a batch for ``lease_msec``; when it dies its lease expires and
another client takes the batch. Finished files are marked so a restarted job
only copies what is left. The schema matches cloud-files 6.4.3's, so a
database made by either tool can be executed by the other.
"""
from __future__ import annotations

import os
import sqlite3
import time
from typing import Iterable, Iterator, Optional, Union

from .exceptions import InvalidInputError

#: sqlite's host-parameter limit before 3.32 (SQLITE_MAX_VARIABLE_NUMBER); later versions allow 32766.
SQLITE_MAX_PARAMS = 999
BATCH_PARAMS = 900  # names per INSERT, below SQLITE_MAX_PARAMS
# SQL spelled the way cloud-files 6.4.3 spells it (names kept for code that builds its own queries).
BIND = "?"
AUTOINC = "AUTOINCREMENT"
INTEGER = "INTEGER"
_BUSY_TIMEOUT_SEC = 60.0


def now_msec() -> int:
    """Wall-clock time in milliseconds (leases must compare across machines)."""
    return int(time.time() * 1000)


def _chunks(items: Iterable, n: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


class ResumableFileSet:
    """The sqlite file list: ``create``, ``insert``, lease with ``next``, ``mark_finished``."""

    def __init__(self, db_path: str, lease_msec: int = 0):
        if isinstance(db_path, str) and "://" in db_path:
            raise InvalidInputError(f"{db_path}: a cloudpath is a ledger in a bucket: use "
                                    "cloudfiles.resumable_tools.BucketTransfer (or open_transfer) for it")
        self.db_path = db_path
        self.lease_msec = int(lease_msec)
        if self.lease_msec < 0:
            raise InvalidInputError(f"lease_msec must be >= 0, got {lease_msec}")
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so a lease is one atomic step.
        self.conn = sqlite3.connect(db_path, timeout=_BUSY_TIMEOUT_SEC, isolation_level=None)
        self._total: Optional[int] = None

    def __del__(self):
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()

    def _write(self, statements: list) -> list:
        """Run ``(sql, params)`` statements in one write transaction; returns their rowcounts."""
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            counts = []
            for sql, params in statements:
                cur.execute(sql, params)
                counts.append(cur.rowcount)
            cur.execute("COMMIT")
            return counts
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def delete(self) -> None:
        self._write([(f"DROP TABLE IF EXISTS {t}", ()) for t in ("filelist", "xfermeta", "stats")])

    def create(self, src: str, dest: str, reencode: Optional[str] = None) -> None:
        """Start a new job (any previous one in this database is dropped)."""
        drop = [(f"DROP TABLE IF EXISTS {t}", ()) for t in ("filelist", "xfermeta", "stats")]
        self._write(drop + [
            (f"CREATE TABLE xfermeta (id {INTEGER} PRIMARY KEY {AUTOINC}, source TEXT NOT NULL, "
             f"dest TEXT NOT NULL, reencode TEXT, created {INTEGER} NOT NULL)", ()),
            ("INSERT INTO xfermeta VALUES (1, ?, ?, ?, ?)", (src, dest, reencode, now_msec())),
            (f"CREATE TABLE filelist (id {INTEGER} PRIMARY KEY {AUTOINC}, filename TEXT NOT NULL, "
             f"finished {INTEGER} NOT NULL, lease {INTEGER} NOT NULL)", ()),
            ("CREATE INDEX resumableidxfin ON filelist(finished, lease)", ()),
            ("CREATE INDEX resumableidxfile ON filelist(filename)", ()),
            (f"CREATE TABLE stats (id {INTEGER} PRIMARY KEY {AUTOINC}, key TEXT NOT NULL, value {INTEGER})", ()),
            ("INSERT INTO stats(id, key, value) VALUES (1, 'finished', 0)", ()),
        ])
        self._total = None

    def insert(self, fname_iter: Iterable[str]) -> None:
        for names in _chunks(fname_iter, BATCH_PARAMS):
            for name in names:
                if not isinstance(name, str) or not name:
                    raise InvalidInputError(f"file names must be non-empty strings, got {name!r}")
            self._write([("INSERT INTO filelist(filename, finished, lease) VALUES " +
                          ",".join([f"({BIND}, 0, 0)"] * len(names)), names)])
        self._total = None

    def metadata(self) -> dict:
        """``{"source", "dest", "reencode", "created"}`` of the job in this database."""
        try:
            row = self.conn.execute("SELECT source, dest, reencode, created FROM xfermeta LIMIT 1").fetchone()
        except sqlite3.DatabaseError as err:
            raise InvalidInputError(f"{self.db_path}: not a transfer database ({err})") from None
        if row is None or not isinstance(row[0], str) or not isinstance(row[1], str):
            raise InvalidInputError(f"{self.db_path}: not a transfer database (no source/destination)")
        if row[2] is not None and not isinstance(row[2], str):
            raise InvalidInputError(f"{self.db_path}: bad reencode value {row[2]!r}")
        return {"source": row[0], "dest": row[1], "reencode": row[2], "created": row[3]}

    def mark_finished(self, fname_iter: Iterable[str]) -> None:
        """Mark files done; the finished count only counts each file once."""
        for names in _chunks(fname_iter, BATCH_PARAMS):
            marks = ",".join("?" * len(names))
            cur = self.conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(f"UPDATE filelist SET finished = 1 WHERE finished = 0 AND filename IN ({marks})", names)
                cur.execute("UPDATE stats SET value = value + ? WHERE id = 1", (cur.rowcount,))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def lease(self, block_size: int = 200) -> list[str]:
        """Atomically take up to ``block_size`` unfinished, unleased files for ``lease_msec``."""
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            now = now_msec()
            rows = cur.execute("SELECT id, filename FROM filelist WHERE finished = 0 AND lease <= ? LIMIT ?",
                               (now, int(block_size))).fetchall()
            if rows:
                ids = [r[0] for r in rows]
                cur.execute(f"UPDATE filelist SET lease = ? WHERE id IN ({','.join('?' * len(ids))})",
                            [now + self.lease_msec] + ids)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()
        return [r[1] for r in rows]

    def next(self, limit: Optional[int] = None, block_size: int = 200) -> Iterator[str]:
        """Lease and yield file names until none are available (or ``limit`` were leased)."""
        n = 0
        while True:
            names = self.lease(block_size)
            if not names:
                return
            n += len(names)
            yield from names
            if limit and n >= limit:
                return

    def _scalar(self, sql: str, params: tuple = ()) -> int:
        row = self.conn.execute(sql, params).fetchone()
        return int(row[0] or 0) if row else 0

    def total(self) -> int:
        """All files of the job, finished or not."""
        if self._total is None:
            self._total = self._scalar("SELECT count(*) FROM filelist")
        return self._total

    def finished(self) -> int:
        return self._scalar("SELECT value FROM stats WHERE id = 1")

    def remaining(self) -> int:
        return self._scalar("SELECT count(*) FROM filelist WHERE finished = 0")

    def num_leased(self) -> int:
        return self._scalar("SELECT count(*) FROM filelist WHERE finished = 0 AND lease > ?", (now_msec(),))

    def available(self) -> int:
        return self._scalar("SELECT count(*) FROM filelist WHERE finished = 0 AND lease <= ?", (now_msec(),))

    def next_expiry_msec(self) -> Optional[int]:
        """When the earliest live lease on an unfinished file ends (``None``: no live leases)."""
        row = self.conn.execute("SELECT min(lease) FROM filelist WHERE finished = 0 AND lease > ?",
                                (now_msec(),)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def release(self) -> None:
        """Drop every lease (e.g. after all clients were stopped)."""
        self._write([("UPDATE filelist SET lease = 0", ())])

    def __len__(self) -> int:
        return self.remaining()

    def __iter__(self) -> Iterator[str]:
        return self.next()


class ResumableTransfer:
    """A transfer job kept in the sqlite file ``db_path``: ``init`` once, ``execute`` from any client."""

    def __init__(self, db_path: str, lease_msec: int = 0):
        self.db_path = db_path
        self.rfs = ResumableFileSet(db_path, lease_msec)

    def __len__(self) -> int:
        return len(self.rfs)

    def init(self, src: str, dest: str, paths: Union[None, str, Iterable[str]] = None,
             reencode: Optional[str] = None) -> None:
        """Record the job: every file under ``src`` (or ``paths``: names, or a cloudpath to list)."""
        from .cloudfiles import CloudFiles

        if paths is None:
            paths = CloudFiles(src).list()
        elif isinstance(paths, str):
            paths = CloudFiles(paths).list()
        elif isinstance(paths, CloudFiles):
            paths = paths.list()
        names = [p for p in paths if not p.endswith("/")]
        self.rfs.create(src, dest, reencode)
        self.rfs.insert(names)

    def execute(self, progress: bool = False, block_size: int = 200, executor=None) -> None:
        """Copy leased batches until every file is finished.

        When the only unfinished files are leased by other clients, wait for
        those leases: if their client died, this one finishes the work.
        ``executor`` (a Dask ``distributed.Client`` or a process pool) copies the
        leased batches in its processes (:func:`cloudfiles.dispatch.ledger`).
        """
        if executor is not None:
            from .dispatch import ledger

            ledger(self, executor, progress=progress, block_size=block_size)
            return
        from tqdm import tqdm

        from .cloudfiles import CloudFiles

        meta = self.rfs.metadata()
        cf_src = CloudFiles(meta["source"])
        total = self.rfs.total()
        with tqdm(total=total, desc="Transfer", disable=not progress) as pbar:
            pbar.n = total - self.rfs.remaining()
            pbar.refresh()
            while True:
                names = self.rfs.lease(block_size)
                if not names:
                    expiry = self.rfs.next_expiry_msec()
                    if expiry is None:
                        return
                    time.sleep(min(max(expiry - now_msec(), 10), 1000) / 1000)
                    continue
                cf_src.transfer_to(meta["dest"], paths=names, reencode=meta["reencode"])
                self.rfs.mark_finished(names)
                pbar.n = total - self.rfs.remaining()
                pbar.refresh()

    def close(self) -> None:
        """Drop the job and delete its database file."""
        self.rfs.delete()
        self.rfs.conn.close()
        self.rfs.conn = None
        try:
            os.remove(self.db_path)
        except FileNotFoundError:
            pass


# The same job kept in a bucket (conditional writes, no shared disk): cloudfiles.bucket_ledger.
from .bucket_ledger import BucketLedger, BucketTransfer, LedgerRun, open_transfer  # noqa: E402,F401
