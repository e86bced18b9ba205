"""Local filesystem backend (``file://``).

Compressed objects are stored with the reference library's suffixes
(``name.gz``, ``.br``, ``.zstd``, ``.xz``, ``.bz2``) so directories are
interchangeable with it. Writes go to a temporary file in the same
directory and are renamed into place, so a reader never sees a partial
file. Which of a key's names is current, and how a writer retires the
others without ever leaving the key missing, is in
:mod:`cloudfiles.backends.localwrite`.
"""
from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from typing import Iterator, Optional

from .. import keys
from ..exceptions import CloudPathError, NotFoundError, PreconditionFailedError
from . import localwalk, localwrite
from ..meta import ObjectMeta
from .base import Backend, BackendOptions, Features, GetResult, check_range

# The read order (see localwrite): plain first, then the reference's suffix order.
_VARIANTS = list(zip(localwrite.SUFFIXES, localwrite.ENCODINGS))
_TMP_MARK = localwrite.TMP_MARK
_tmp_name = localwrite.tmp_name


def _token(content: Optional[bytes]) -> Optional[str]:
    return None if content is None else hashlib.sha256(content).hexdigest()


@dataclass
class FileOptions(BackendOptions):
    """file:// options (docs/backends.md, "Options")."""

    #: fsync each written file and its directory before returning (the facade's ``fsync=``,
    #: default ``$CLOUDFILES_FSYNC``)
    fsync: bool = False

    def check(self) -> None:
        super().check()
        if not isinstance(self.fsync, bool):
            from ..exceptions import InvalidInputError

            raise InvalidInputError(f"fsync must be True or False, got {self.fsync!r}")


class FileBackend(Backend):
    features = Features(server_side_copy=True, local=True, acl=True, multipart=True, touch=True,
                        leftovers=True, sync=True, conditional_writes=True, batch_delete=1000)
    options_type = FileOptions

    def __init__(self, cloudpath, options: BackendOptions):
        super().__init__(cloudpath, options)
        self.root = cloudpath.path
        self._known_dirs: set[str] = set()
        self._dirs_lock = threading.Lock()
        self._real_root = os.path.realpath(self.root)
        self._safe_dirs: set[str] = set()
        self.fsync = bool(getattr(options, "fsync", False))

    # -- paths --------------------------------------------------------------
    def _path(self, key: str) -> str:
        """The local path of ``key``; every operation goes through here (see cloudfiles.keys)."""
        if not isinstance(key, str) or not key or key.endswith("/"):
            raise CloudPathError(f"{key!r} names a directory, not a file, under {self.root}")
        directory = key.rpartition("/")[0]
        if directory in self._safe_dirs:
            keys.check_relative(key)
            path = os.path.join(self.root, key)
        else:
            path = keys.local_path(self.root, key, self._real_root)
            with self._dirs_lock:
                if len(self._safe_dirs) > 100_000:
                    self._safe_dirs.clear()
                self._safe_dirs.add(directory)
        keys.check_target(self._real_root, path, key)  # the file itself a symlink out of the root
        return path

    def _open_read(self, path: str, key: str):
        keys.check_target(self._real_root, path, key)
        return open(path, "rb")

    def _lookup(self, path: str, probe):
        """``probe(name, encoding)`` over a key's names in the read order; the first
        result that is not None. A full miss is re-checked under the directory's
        shared lock, so a concurrent rewrite in another encoding is never a miss."""
        for suffix, enc in _VARIANTS:
            found = probe(path + suffix, enc)
            if found is not None:
                return found
        with localwrite.DirLock(os.path.dirname(path), shared=True):
            for suffix, enc in _VARIANTS:
                found = probe(path + suffix, enc)
                if found is not None:
                    return found
        return None

    def _find(self, path: str) -> tuple[Optional[str], Optional[str], Optional[os.stat_result]]:
        """The current name of a key (the first in the read order), its encoding and stat."""
        def probe(candidate: str, enc: Optional[str]):
            try:
                st = os.stat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                return None
            if not stat.S_ISREG(st.st_mode):
                return None
            keys.check_target(self._real_root, candidate, path)
            return candidate, enc, st

        return self._lookup(path, probe) or (None, None, None)

    def _open_stored(self, path: str, key: str):
        """(open file, encoding) of the stored variant of ``key`` the read rule picks; None if none."""
        def probe(candidate: str, enc: Optional[str]):
            try:
                return self._open_read(candidate, key), enc
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None

        return self._lookup(path, probe)

    # -- operations ---------------------------------------------------------
    def get(self, key: str, start: Optional[int] = None, end: Optional[int] = None) -> GetResult:
        path = self._path(key)
        check_range(start, end)
        opened = self._open_stored(path, key)
        if opened is None:
            return GetResult(None, None)
        f, enc = opened
        with f:
            if start is None and end is None:
                return GetResult(f.read(), enc)
            if start is not None and start < 0:
                size = os.fstat(f.fileno()).st_size
                f.seek(max(0, size + start))
                return GetResult(f.read(), enc)
            start = start or 0
            f.seek(start)
            return GetResult(f.read() if end is None else f.read(max(0, end - start)), enc)

    def _ensure_dir(self, directory: str) -> None:
        if directory in self._known_dirs:
            return
        try:
            os.makedirs(directory, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as err:
            raise CloudPathError(f"cannot create directory {directory}: a file is in the way") from err
        with self._dirs_lock:
            if len(self._known_dirs) > 100_000:
                self._known_dirs.clear()
            self._known_dirs.add(directory)

    def _create_tmp(self, tmp: str) -> tuple[int, bool]:
        """Create the temporary file ``tmp`` (its directory too, even if someone removed
        it since this backend last made it); return its descriptor and whether the
        directory had to be created."""
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), False
        except FileNotFoundError:
            directory = os.path.dirname(tmp)
            self._known_dirs.discard(directory)
            self._ensure_dir(directory)
            if self.fsync:
                localwrite.fsync_dir(os.path.dirname(directory))
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), True

    def put(self, key, content, encoding=None, content_type=None, cache_control=None,
            storage_class=None, md5=None, crc32c=None) -> None:
        path = self._path(key)
        index = localwrite.index_of(encoding)
        tmp = _tmp_name(path + localwrite.SUFFIXES[index])
        fd, fresh = self._create_tmp(tmp)
        try:
            view = memoryview(content)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        except BaseException:
            os.close(fd)
            _unlink(tmp)
            raise
        localwrite.install(fd, tmp, path, index, fresh, self.fsync)

    def sync(self, key: str) -> None:
        """Make ``key``'s current file and its directory entry durable (fsync both)."""
        found = self._find(self._path(key))[0]
        if found is None:
            raise NotFoundError(f"{key!r} does not exist under {self.root}")
        fd = os.open(found, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        localwrite.fsync_dir(os.path.dirname(found))

    def stat_meta(self, key: str) -> Optional[ObjectMeta]:
        found, enc, st = self._find(self._path(key))
        if found is None:
            return None
        return ObjectMeta(key=key, size=st.st_size, encoding=enc,
                          last_modified=_dt.datetime.fromtimestamp(st.st_mtime, tz=_dt.timezone.utc))

    def exists(self, key: str) -> bool:
        return self._find(self._path(key))[0] is not None

    def get_acl(self, key: str) -> Optional[int]:
        """The stored file's ``st_mode`` (permission bits and type), or None if missing."""
        found, _, st = self._find(self._path(key))
        return None if found is None else st.st_mode

    def size(self, key: str) -> Optional[int]:
        st = self._find(self._path(key))[2]
        return None if st is None else st.st_size

    def delete(self, key: str) -> None:
        path = self._path(key)
        for suffix, _ in _VARIANTS:
            _unlink(path + suffix)
        localwrite.forget_key(path)

    def delete_many(self, keys: list[str]) -> None:
        """Delete a batch: every key is validated first (an unsafe one fails the batch
        before anything is removed); then each directory is read once and only the
        names present are unlinked, instead of trying all six names of every key."""
        by_dir: dict[str, list[tuple[str, str]]] = {}
        for key in keys:
            path = self._path(key)
            directory, name = os.path.split(path)
            by_dir.setdefault(directory, []).append((path, name))
        for directory, items in by_dir.items():
            present: Optional[set] = None
            if len(items) > 1:
                try:
                    with os.scandir(directory) as entries:
                        present = {e.name for e in entries}
                except (FileNotFoundError, NotADirectoryError):
                    present = set()
                except OSError:
                    present = None  # unreadable: try every name
            for path, name in items:
                for suffix, _ in _VARIANTS:
                    if present is None or name + suffix in present:
                        _unlink(path + suffix)
                localwrite.forget_key(path)

    # -- conditional writes: compare and swap under an flock -----------------
    # A hidden lock file beside the object (``.NAME.cflock``) excludes other
    # conditional writers on this machine, or on one NFS mount with working
    # locks; the write itself is the usual atomic rename. Plain puts bypass it.
    def read_versioned(self, key: str) -> tuple[Optional[bytes], Optional[str]]:
        """Stored bytes of ``key`` and their token (sha256), which :meth:`put_if` presents."""
        content = self.get(key).content
        return content, _token(content)

    def put_if(self, key: str, content: bytes, expected: Optional[str]) -> str:
        """Store ``content`` only if ``key`` still has token ``expected`` (None: only if absent)."""
        import fcntl

        directory, base = os.path.split(self._path(key))
        self._ensure_dir(directory)
        fd = os.open(os.path.join(directory, f".{base}.cflock"), os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _token(self.get(key).content) != expected:
                raise PreconditionFailedError(
                    f"{key!r} under {self.root} changed since it was read (someone else moved it meanwhile)")
            self.put(key, content, content_type="application/json")
        finally:
            os.close(fd)  # closing releases the lock
        return _token(content)  # type: ignore[return-value]

    def touch(self, key: str) -> None:
        """Update the mtime of an existing file (any encoding)."""
        path = self._path(key)
        for _ in range(3):  # the current name can be retired by a concurrent writer
            found = self._find(path)[0]
            if found is None:
                break
            try:
                os.utime(found)
                return
            except FileNotFoundError:
                continue
        raise NotFoundError(f"{key!r} does not exist under {self.root}")

    def list_meta(self, prefix: str = "", flat: bool = False,
                  start_after: Optional[str] = None) -> Iterator[ObjectMeta]:
        """Size, modification time and encoding (from the name's suffix) of each key,
        from one stat per file (see :mod:`.localwalk`); nothing is read or hashed."""
        return self._scan(prefix, flat, 2, start_after)

    def list(self, prefix: str = "", flat: bool = False, start_after: Optional[str] = None) -> Iterator[str]:
        for meta in self._scan(prefix, flat, 0, start_after):  # the same walk, no stat
            yield meta.key

    def list_sizes(self, prefix: str = "", flat: bool = False,
                   start_after: Optional[str] = None) -> Iterator[tuple[str, Optional[int]]]:
        for meta in self._scan(prefix, flat, 1, start_after):  # the same walk, no time
            yield meta.key, meta.size

    def _scan(self, prefix: str, flat: bool, detail: int,
              start_after: Optional[str]) -> Iterator[ObjectMeta]:
        """Stream the keys below ``prefix`` in order (see :mod:`.localwalk`, which also
        says how symlinks are treated)."""
        base_dir, _, name_prefix = prefix.rpartition("/")
        if base_dir:
            keys.local_path(self.root, base_dir + "/x", self._real_root)
        if "\0" in name_prefix:
            keys.check_relative(prefix)
        start = os.path.join(self.root, base_dir) if base_dir else self.root
        rel_base = base_dir + "/" if base_dir else ""
        return localwalk.walk(self._real_root, start, rel_base, name_prefix, flat, detail, start_after)

    def copy_within(self, src_key: str, dest: Backend, dest_key: str) -> bool:
        if not isinstance(dest, FileBackend):
            return False
        spath = self._path(src_key)

        opened = self._open_stored(spath, src_key)
        if opened is None:
            raise NotFoundError(f"{src_key!r} does not exist under {self.root}")
        src, enc = opened
        dpath = dest._path(dest_key)
        index = localwrite.index_of(enc)
        tmp = _tmp_name(dpath + localwrite.SUFFIXES[index])
        with src:
            fd, fresh = dest._create_tmp(tmp)
            try:
                _copy_fd(src.fileno(), fd)
            except BaseException:
                os.close(fd)
                _unlink(tmp)
                raise
        localwrite.install(fd, tmp, dpath, index, fresh, dest.fsync)
        return True

    # -- multipart: parts are written in place into one temporary file ---------
    def multipart_begin(self, key, encoding=None, content_type=None, cache_control=None, storage_class=None,
                        part_size=None):
        path = self._path(key)
        index = localwrite.index_of(encoding)
        tmp = _tmp_name(path + localwrite.SUFFIXES[index])
        fd, fresh = self._create_tmp(tmp)
        return _FileUpload(path, index, tmp, fd, fresh)

    def multipart_put_part(self, upload, part_number, data, offset, md5=None, crc32c=None):
        from .base import PartInfo

        view = memoryview(data)
        pos = offset
        while view:
            n = os.pwrite(upload.fd, view, pos)
            view = view[n:]
            pos += n
        return PartInfo(part_number, len(data))

    def multipart_complete(self, upload, parts) -> None:
        fd, upload.fd = upload.fd, -1
        localwrite.install(fd, upload.tmp, upload.path, upload.index, upload.fresh, self.fsync)

    def multipart_abort(self, upload) -> None:
        if upload.fd >= 0:
            os.close(upload.fd)
            upload.fd = -1
        _unlink(upload.tmp)

    def resumable_target(self, key: str, encoding: Optional[str] = None):
        """``(final path, installer)`` for a resumable download of ``key`` stored as
        ``encoding`` (cloudfiles.resume): the partial lives beside the final path, and
        ``installer(fd, tmp)`` puts it in place as :meth:`put` would (closing ``fd``)."""
        path = self._path(key)
        index = localwrite.index_of(encoding)
        self._ensure_dir(os.path.dirname(path))

        def install(fd: int, tmp: str) -> None:
            localwrite.install(fd, tmp, path, index, False, self.fsync)

        return path + localwrite.SUFFIXES[index], install

    # -- leftovers of killed writers (cloudfiles.cleanup) ----------------------
    def leftovers(self, cutoff: float):
        """Our temporary files under the root last modified before ``cutoff`` (a walk
        that does not follow symlinks, so it stays inside the root)."""
        from ..cleanup import Leftover

        now = _dt.datetime.now().timestamp()
        stack = [self.root]
        while stack:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except (FileNotFoundError, NotADirectoryError, PermissionError):
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    if (_TMP_MARK not in entry.name and ".cfpart-" not in entry.name) \
                            or not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_mtime < cutoff:
                    yield Leftover("temporary file", "file://" + entry.path, now - st.st_mtime,
                                   st.st_size, entry.path)

    def remove_leftover(self, item) -> None:
        _unlink(item.handle)

    def root_exists(self) -> bool:
        return os.path.isdir(self.root)


class _FileUpload:
    __slots__ = ("path", "index", "tmp", "fd", "fresh")

    def __init__(self, path: str, index: int, tmp: str, fd: int, fresh: bool):
        self.path, self.index, self.tmp, self.fd, self.fresh = path, index, tmp, fd, fresh


_unlink = localwrite.unlink_quiet


def _copy_fd(src: int, dst: int) -> None:
    """Copy the whole of ``src`` into ``dst`` in the kernel where it can."""
    offset = 0
    try:
        while True:
            n = os.sendfile(dst, src, offset, 1 << 30)
            if n == 0:
                return
            offset += n
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOSYS, errno.EXDEV) or offset:
            raise
    while True:
        chunk = os.read(src, 1 << 20)
        if not chunk:
            return
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]
