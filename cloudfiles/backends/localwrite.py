"""How a file:// write lands: atomically, durably if asked, without losing a key.

A key is stored under one of six names: ``key`` (plain) or ``key`` plus an
encoding suffix. **The read rule**: readers try the names in the fixed order
of :data:`SUFFIXES` (plain, ``.gz``, ``.br``, ``.zstd``, ``.xz``, ``.bz2``)
and the first that exists is the key's current version.

**The write rule**:

1. the bytes go to a temporary file beside the target (``NAME.cftmp-PID-N``),
   optionally fsynced, and are renamed onto the target: the new version is
   installed before anything is removed;
2. the writer then looks for the key's other names: the ones *before* its own
   in the read order are always probed (one ``lstat`` each: none for plain,
   one for ``.gz``), since one of them would shadow the new version; the ones
   after it are taken from a per-process record of the directory (one
   ``scandir`` the first time this process writes there, updated by its own
   writes) because they are only stale copies that readers never reach;
3. only if some other name exists does the writer take the directory's lock
   (``flock``, exclusive), check that its own file is still the one installed
   under its name, and if so remove every other name. If its own file was
   already replaced or retired by a concurrent writer it removes nothing.

Removals happen only under the lock and only by a writer whose own version is
present, so there is always at least one name while writers run, and after
writers in one process return exactly one version remains. A reader's pass
over the six names is not atomic (a writer can install ``key`` just after the
reader looked for it and retire ``key.gz`` just before the reader gets
there), so a reader that finds no name looks again holding the lock shared:
no name can be removed during that second pass, so a key that exists is found.
Only a genuine miss pays for the second pass. The same first scan of a
directory removes this library's temporary files there that are older than
:data:`cloudfiles.cleanup.DEFAULT_OLDER_THAN` (left behind by a killed writer).
A stale copy written by another process after this one first scanned the
directory can stay behind, shadowed (never read); ``delete`` removes all names.
"""
from __future__ import annotations

import errno
import itertools
import os
import threading
import time
from typing import Optional

from ..compression import SUFFIXES as _ENC_SUFFIX

ENCODINGS: list[Optional[str]] = [None, "gzip", "br", "zstd", "xz", "bzip2"]
SUFFIXES: list[str] = [""] + [_ENC_SUFFIX[e] for e in ENCODINGS[1:]]
INDEX = {e: i for i, e in enumerate(ENCODINGS)}
TMP_MARK = ".cftmp-"
_SUFFIX_INDEX = {s: i for i, s in enumerate(SUFFIXES) if s}

_tmp_counter = itertools.count()
_pid = os.getpid()


def _refresh_pid() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_refresh_pid)


def tmp_name(target: str) -> str:
    """A temporary name beside ``target``, unique across threads and processes."""
    return f"{target}{TMP_MARK}{_pid}-{next(_tmp_counter)}"


def index_of(encoding: Optional[str]) -> int:
    """The variant index of ``encoding`` (a file:// name exists only for these six)."""
    try:
        return INDEX[encoding or None]
    except KeyError:
        from ..exceptions import UnsupportedCompressionType

        raise UnsupportedCompressionType(
            f"file:// stores only plain, gzip, br, zstd, xz and bzip2 objects, not {encoding!r}") from None


def split_name(name: str) -> tuple[str, int]:
    """``(key name, variant index)`` of a stored file name."""
    dot = name.rfind(".")
    if dot > 0:
        idx = _SUFFIX_INDEX.get(name[dot:])
        if idx is not None:
            return name[:dot], idx
    return name, 0


# -- what this process knows about each directory it writes in ----------------
_MAX_TRACKED = 200_000  # encoded names per directory before falling back to probing
_MAX_DIRS = 10_000


class _DirState:
    __slots__ = ("encoded", "complete")

    def __init__(self) -> None:
        self.encoded: dict[str, int] = {}  # key name -> bitmask of variant indexes > 0 present
        self.complete = True  # False: too many to track, probe every name instead


_dirs: dict[str, _DirState] = {}
_dirs_lock = threading.Lock()
_fallback_lock = threading.Lock()


def forget_directories() -> None:
    """Drop what this process recorded about directories (tests, long-lived processes)."""
    with _dirs_lock:
        _dirs.clear()


def stale_cutoff() -> float:
    from ..cleanup import DEFAULT_OLDER_THAN

    return time.time() - DEFAULT_OLDER_THAN


def dir_state(directory: str, fresh: bool) -> _DirState:
    """The record of ``directory``, made by one scan the first time (none if ``fresh``,
    i.e. this process just created it). The scan also removes stale temporaries."""
    state = _dirs.get(directory)
    if state is not None:
        return state
    state = _DirState()
    if not fresh:
        _scan(directory, state)
    with _dirs_lock:
        if len(_dirs) >= _MAX_DIRS:
            _dirs.clear()
        return _dirs.setdefault(directory, state)


def _scan(directory: str, state: _DirState) -> None:
    cutoff = stale_cutoff()
    try:
        entries = os.scandir(directory)
    except OSError:
        return
    with entries:
        for entry in entries:
            name = entry.name
            if TMP_MARK in name:
                _remove_if_stale(entry, cutoff)
                continue
            base, idx = split_name(name)
            if idx:
                state.encoded[base] = state.encoded.get(base, 0) | (1 << idx)
                if len(state.encoded) > _MAX_TRACKED:
                    state.encoded.clear()
                    state.complete = False
                    return


def _remove_if_stale(entry: os.DirEntry, cutoff: float) -> None:
    try:
        st = entry.stat(follow_symlinks=False)
        if entry.is_file(follow_symlinks=False) and st.st_mtime < cutoff:
            os.unlink(entry.path)
    except OSError:
        pass  # gone already, or not ours to remove


# -- installing --------------------------------------------------------------
def install(fd: int, tmp: str, path: str, index: int, fresh_dir: bool, fsync: bool) -> None:
    """Rename the finished temporary ``tmp`` (open as ``fd``) onto ``path``'s name for
    variant ``index``, then retire the key's other names (see the module doc).
    Closes ``fd`` in every case; removes ``tmp`` if the rename fails."""
    target = path + SUFFIXES[index]
    try:
        try:
            if fsync:
                os.fsync(fd)
            os.replace(tmp, target)
        except BaseException:
            unlink_quiet(tmp)
            raise
        directory, name = os.path.split(path)
        retire_others(fd, path, index, dir_state(directory, fresh_dir))
        if fsync:
            fsync_dir(directory)
    finally:
        os.close(fd)


def retire_others(fd: int, path: str, index: int, state: _DirState) -> None:
    name = os.path.basename(path)
    if index:
        state.encoded[name] = state.encoded.get(name, 0) | (1 << index)
        if len(state.encoded) > _MAX_TRACKED:
            state.encoded.clear()
            state.complete = False
    others = any(os.path.lexists(path + SUFFIXES[i]) for i in range(index))
    if not others:
        if state.complete:
            others = bool(state.encoded.get(name, 0) & ~((2 << index) - 1))
        else:
            others = any(os.path.lexists(path + SUFFIXES[i]) for i in range(index + 1, len(SUFFIXES)))
    if not others:
        return
    directory = os.path.dirname(path)
    with DirLock(directory):
        if not _still_installed(fd, path + SUFFIXES[index]):
            return  # a concurrent writer replaced or retired ours: it decides
        for i, suffix in enumerate(SUFFIXES):
            if i != index:
                unlink_quiet(path + suffix)
        if index:
            state.encoded[name] = 1 << index
        else:
            state.encoded.pop(name, None)


def forget_key(path: str) -> None:
    """Record that every name of the key at ``path`` was removed (after a delete)."""
    directory, name = os.path.split(path)
    state = _dirs.get(directory)
    if state is not None:
        state.encoded.pop(name, None)


def _still_installed(fd: int, target: str) -> bool:
    mine = os.fstat(fd)
    if mine.st_nlink == 0:
        return False
    try:
        there = os.lstat(target)
    except FileNotFoundError:
        return False
    return (there.st_ino, there.st_dev) == (mine.st_ino, mine.st_dev)


class DirLock:
    """``flock`` on a directory: exclusive for a writer retiring names, shared for a
    reader re-probing after a miss. Separate descriptors lock each other out within
    a process too; a filesystem without ``flock`` falls back to one process-wide lock."""

    def __init__(self, directory: str, shared: bool = False):
        self.directory = directory
        self.shared = shared
        self.fd = -1
        self.fallback = False

    def __enter__(self) -> "DirLock":
        import fcntl

        try:
            self.fd = os.open(self.directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return self  # no directory: nothing to retire or find
        try:
            fcntl.flock(self.fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        except OSError:
            _fallback_lock.acquire()
            self.fallback = True
        return self

    def __exit__(self, *exc) -> None:
        if self.fallback:
            _fallback_lock.release()
        if self.fd >= 0:
            os.close(self.fd)  # releases the flock


def fsync_dir(directory: str) -> None:
    """Make a rename or creation in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP):  # filesystems that cannot sync a directory
            raise
    finally:
        os.close(fd)


def unlink_quiet(path: str) -> None:
    """Remove ``path``; a missing file (or a directory in the way) is not an error."""
    try:
        os.unlink(path)
    except OSError as err:
        if err.errno not in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
            raise
