"""The partial file of a resumable download, and its journal.

A download into ``DIR/NAME`` writes its parts in place into
``DIR/.NAME.cftmp-part`` and records each finished part in
``DIR/.NAME.cftmp-part.json``: a first line describing the object (its size,
ETag, generation/VersionId, Last-Modified, checksums, encoding, where it came
from, the part size and the digest used) and then one ``INDEX HEXDIGEST``
line per part written. Both names contain the temporary-file mark
(``.cftmp-``), so listings skip them and ``cloudfiles cleanup`` finds
abandoned ones. A rerun that finds a partial for the same object continues
it; for anything else it starts over. A decoded download decodes the finished
partial into ``DIR/.NAME.cftmp-part.decoded`` (cloudfiles/resume.py).

Both files are untrusted input (another program, a crash, or a hostile user
may have written them). Paths are never read from them: the names derive
from the destination alone. The partial must be a regular file with one link
owned by this user (it is opened without following symlinks, checked after
opening, and replaced otherwise); the journal is read without following
symlinks, bounded in size, and every field checked: a first line that
differs in any way from the object now stored, an index out of range, a
digest of the wrong shape or two digests for one part mean "start over". A
torn last line (a crash while appending) only loses that part's record.
The caller re-hashes every recorded part from disk before trusting it.

One download at a time owns a partial: an exclusive ``flock`` is held on it
while the download runs; a second download to the same destination that
finds it locked (or a filesystem without locks) uses an ordinary private
temporary file instead and does not resume.
"""
from __future__ import annotations

import json
import os
import stat as _stat
import threading
from typing import Callable, Optional

from .backends import localwrite

PART_MARK = localwrite.TMP_MARK + "part"  # ".cftmp-part": hidden from listings, found by cleanup
JOURNAL_SUFFIX = ".json"
FORMAT = "cloudfiles-partial/1"
DIGEST_HEX = {"crc32c": 8, "md5": 32}
_HEADER_MAX = 64 * 1024
_LINE_MAX = 64  # "INDEX HEX\n" is far shorter
_HEX = frozenset("0123456789abcdef")


def partial_path(final: str) -> str:
    """Where the partial of a download into ``final`` lives (beside it)."""
    directory, name = os.path.split(final)
    return os.path.join(directory, "." + name + PART_MARK)


class Partial:
    """An open partial file: its descriptor, the parts already done (index ->
    hex digest, unverified), and the journal that records new ones.

    ``resumable`` is False for a private temporary file (no journal, removed
    on any failure)."""

    def __init__(self, final: str, path: str, fd: int, resumable: bool, header: Optional[dict]):
        self.final = final
        self.path = path
        self.journal_path = path + JOURNAL_SUFFIX
        self.fd = fd
        self.resumable = resumable
        self.header = header
        self.done: dict[int, str] = {}
        self._journal = -1
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, final: str, header: Optional[dict], size: int, parts: int) -> "Partial":
        """The partial for ``final``: the existing one if its journal describes
        exactly ``header`` (then ``done`` holds its recorded parts), else a fresh
        one; a private temporary file when ``header`` is None (nothing pins the
        object's version) or another download owns the partial."""
        if header is not None:
            path = partial_path(final)
            fd = _open_own(path)
            if fd is not None:
                if _lock(fd):
                    p = cls(final, path, fd, True, header)
                    try:
                        p._load(size, parts)
                    except BaseException:
                        os.close(fd)
                        raise
                    return p
                os.close(fd)
        path = localwrite.tmp_name(final)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666)
        try:
            os.ftruncate(fd, size)
        except BaseException:
            os.close(fd)
            _unlink(path)
            raise
        return cls(final, path, fd, False, None)

    def _load(self, size: int, parts: int) -> None:
        done = _read_journal(self.journal_path, self.header, parts)
        if done is not None and os.fstat(self.fd).st_size == size:
            self.done = done
            self._journal = _open_append(self.journal_path)
            if self._journal >= 0:
                return
        self.restart(size)

    def restart(self, size: int) -> None:
        """Forget every part: an empty partial of ``size`` bytes and a new journal."""
        self.done = {}
        os.ftruncate(self.fd, 0)
        os.ftruncate(self.fd, size)
        if not self.resumable:
            return
        with self._lock:
            if self._journal >= 0:
                os.close(self._journal)
            self._journal = _new_journal(self.journal_path, self.header)

    # ----------------------------------------------------------------- writing
    def record(self, index: int, digest: str) -> None:
        """Note that part ``index`` (already written) has ``digest``."""
        if not self.resumable or self._journal < 0:
            return
        line = f"{index} {digest}\n".encode("ascii")
        with self._lock:
            if self._journal >= 0:
                os.write(self._journal, line)

    # ---------------------------------------------------------------- finishing
    def install(self, installer: Callable[[int, str], Optional[int]]) -> Optional[int]:
        """Hand the finished file to ``installer(fd, path)``, which puts it (or what it
        makes of it) in place and closes ``fd``; then drop the journal. Returns what
        ``installer`` returns. If it raises, the partial and its journal stay."""
        fd, self.fd = self.fd, -1
        self._close_journal()
        result = installer(fd, self.path)
        if self.resumable:
            _unlink(self.journal_path)
        return result

    def discard(self) -> None:
        """Remove the partial and its journal (the bytes are not worth keeping)."""
        self._close_journal()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        _unlink(self.path)
        if self.resumable:
            _unlink(self.journal_path)

    def keep(self) -> None:
        """Leave a resumable partial for the next run (a private one is removed)."""
        if not self.resumable:
            self.discard()
            return
        self._close_journal()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _close_journal(self) -> None:
        with self._lock:
            if self._journal >= 0:
                os.close(self._journal)
                self._journal = -1


# ------------------------------------------------------------------- helpers
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _sound(st: os.stat_result) -> bool:
    """A file we may write into: regular, one link (no other name shares its bytes), ours."""
    return _stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and (
        not hasattr(os, "geteuid") or st.st_uid == os.geteuid())


def _open_own(path: str) -> Optional[int]:
    """Open (or create) the partial at ``path`` for writing, never through a symlink
    and never a file that is not ours alone; None if that cannot be had."""
    try:
        fd = os.open(path, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
    except FileNotFoundError:
        fd = -1
    except OSError:
        fd = -2  # a symlink (ELOOP), a directory, unreadable ...: replace it if we can
    if fd >= 0:
        if _sound(os.fstat(fd)):
            return fd
        os.close(fd)
        fd = -2
    if fd == -2:
        _unlink(path)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666)
    except OSError:
        return None


def _lock(fd: int) -> bool:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except (ImportError, OSError):
        return False


def _read_journal(path: str, header: Optional[dict], parts: int) -> Optional[dict[int, str]]:
    """The parts recorded in the journal at ``path`` if its first line is exactly
    ``header``; None when it is missing, unreadable, or in any doubt."""
    digest_len = DIGEST_HEX.get((header or {}).get("digest", ""))
    if header is None or digest_len is None:
        return None
    limit = _HEADER_MAX + parts * _LINE_MAX
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            return None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    first, nl, rest = data.partition(b"\n")
    if not nl or len(first) > _HEADER_MAX:
        return None
    try:
        if json.loads(first.decode("utf-8")) != header:
            return None
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    lines = rest.split(b"\n")
    lines.pop()  # empty after the last newline, or a torn line: not recorded
    done: dict[int, str] = {}
    for line in lines:
        try:
            idx_s, digest = line.decode("ascii").split(" ")
        except (UnicodeDecodeError, ValueError):
            return None
        if not idx_s.isdigit() or len(idx_s) > 12 or len(digest) != digest_len or not set(digest) <= _HEX:
            return None
        idx = int(idx_s)
        if idx >= parts or done.get(idx, digest) != digest:
            return None
        done[idx] = digest
    return done


def _new_journal(path: str, header: Optional[dict]) -> int:
    """A fresh journal holding ``header``; -1 (not resumable) if it cannot be written."""
    _unlink(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | _NOFOLLOW | _CLOEXEC, 0o666)
    except OSError:
        return -1
    try:
        os.write(fd, json.dumps(header, sort_keys=True).encode("utf-8") + b"\n")
    except OSError:
        os.close(fd)
        return -1
    return fd


def _open_append(path: str) -> int:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return -1
    if not _sound(os.fstat(fd)):
        os.close(fd)
        return -1
    return fd

