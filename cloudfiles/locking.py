"""Advisory file locks for file:// (``CloudFiles(..., locking=True)``), as cloud-files 6.4.3 takes them.

Each file gets a cross-process reader-writer lock (``fasteners``) in a lock
directory: writes hold it exclusively, reads, heads, sizes and existence checks
share it. The lock file is named ``<basename>.<crc32 of the absolute path>``,
the reference's naming, so processes running either library on the same files
wait for each other. The lock directory is ``lock_dir=``, else
``$CLOUD_FILES_LOCK_DIR``, else ``$CLOUD_FILES_DIR/locks`` (``~/.cloudfiles/locks``).

Locks are advisory: they order cooperating processes and never block other
programs. Our file:// writes are atomic renames anyway, so a reader never sees
a partial file with or without them; they serialise writers and readers that
want that guarantee across a read-modify-write.
"""
from __future__ import annotations

import binascii
import contextlib
import os
from typing import Iterator, Optional

from .exceptions import InvalidInputError


def default_lock_dir() -> str:
    """``$CLOUD_FILES_LOCK_DIR``, else ``$CLOUD_FILES_DIR/locks`` (default ``~/.cloudfiles/locks``)."""
    env = os.environ.get("CLOUD_FILES_LOCK_DIR")
    if env:
        return env
    home = os.environ.get("CLOUD_FILES_DIR") or os.path.join(os.path.expanduser("~"), ".cloudfiles")
    return os.path.join(home, "locks")


def lock_name(target: str) -> str:
    """The lock file name for the file at ``target``: ``<basename>.<crc32(abspath)>``."""
    absolute = os.path.abspath(target)
    return f"{os.path.basename(target)}.{binascii.crc32(absolute.encode('utf-8'))}"


class FileLocks:
    """Reader-writer locks for files under one lock directory (created on first use)."""

    def __init__(self, lock_dir: str):
        if not isinstance(lock_dir, str) or not lock_dir:
            raise InvalidInputError(f"lock_dir must be a non-empty str, got {lock_dir!r}")
        self.lock_dir = lock_dir
        self._ready = False

    def _path(self, target: str) -> str:
        if not self._ready:
            os.makedirs(self.lock_dir, exist_ok=True)
            if not os.access(self.lock_dir, os.R_OK | os.W_OK | os.X_OK):
                raise PermissionError(f"cannot use lock directory {self.lock_dir}")
            self._ready = True
        return os.path.join(self.lock_dir, lock_name(target))

    @contextlib.contextmanager
    def hold(self, target: str, exclusive: bool) -> Iterator[None]:
        """Hold ``target``'s lock: exclusively for writes, shared for reads."""
        import fasteners  # looked up at call time: tests may swap the lock class

        rw = fasteners.InterProcessReaderWriterLock(self._path(target))
        with (rw.write_lock() if exclusive else rw.read_lock()):
            yield

    def clear(self) -> int:
        """Remove every lock file in the lock directory; return how many."""
        try:
            entries = list(os.scandir(self.lock_dir))
        except FileNotFoundError:
            return 0
        n = 0
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                try:
                    os.remove(entry.path)
                    n += 1
                except FileNotFoundError:
                    pass
        return n


def no_lock() -> contextlib.AbstractContextManager:
    """The context manager used when locking is off."""
    return contextlib.nullcontext()


def maybe(locks: Optional[FileLocks], target: Optional[str], exclusive: bool):
    """``locks.hold(target)`` when locking is on, else a no-op context."""
    if locks is None or target is None:
        return no_lock()
    return locks.hold(target, exclusive)
