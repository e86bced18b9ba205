"""Local filesystem backend (``file://``).

Compressed objects are stored with the reference library's suffixes
(``name.gz``, ``.br``, ``.zstd``, ``.xz``, ``.bz2``) so directories are
interchangeable with it. Writes go to a temporary file in the same
directory and are renamed into place, so a reader never sees a partial
file; the other encodings' variants of the same key are then removed so a
stale ``name.gz`` can never shadow a newer ``name``.
"""
from __future__ import annotations

import datetime as _dt
import errno
import os
import itertools
import threading
from typing import Iterator, Optional

from ..compression import SUFFIXES, SUFFIX_TO_ENCODING
from .. import keys
from ..exceptions import BadRangeError, CloudPathError, NotFoundError
from .base import Backend, BackendOptions, Capabilities, GetResult, check_range, head_dict

# Order tried on read: plain first, then the reference's suffix order.
_VARIANTS = [("", None)] + [(SUFFIXES[e], e) for e in ("gzip", "br", "zstd", "xz", "bzip2")]
_TMP_MARK = ".cftmp-"
_tmp_counter = itertools.count()
_SUFFIX_TUPLE = tuple(SUFFIX_TO_ENCODING)
_pid = os.getpid()


def _refresh_pid() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_refresh_pid)


def _first(item: tuple) -> str:
    return item[0]


def _tmp_name(target: str) -> str:
    """A temporary name beside ``target``, unique across threads and processes."""
    return f"{target}{_TMP_MARK}{_pid}-{next(_tmp_counter)}"


class FileBackend(Backend):
    capabilities = Capabilities(server_side_copy=True, local=True, acl=True)

    def __init__(self, cloudpath, options: BackendOptions):
        super().__init__(cloudpath, options)
        self.root = cloudpath.path
        self._known_dirs: set[str] = set()
        self._dirs_lock = threading.Lock()
        self._real_root = os.path.realpath(self.root)
        self._safe_dirs: set[str] = set()
        self._hit = 0  # index into _VARIANTS that matched last: try it first next time

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

    def _variants(self):
        hit = self._hit
        yield hit, _VARIANTS[hit]
        for i, v in enumerate(_VARIANTS):
            if i != hit:
                yield i, v

    def _find(self, path: str) -> tuple[Optional[str], Optional[str]]:
        for i, (suffix, enc) in self._variants():
            candidate = path + suffix
            if os.path.isfile(candidate):
                keys.check_target(self._real_root, candidate, path)
                self._hit = i
                return candidate, enc
        return None, None

    # -- operations ---------------------------------------------------------
    def get(self, key: str, start: Optional[int] = None, end: Optional[int] = None) -> GetResult:
        path = self._path(key)
        for bound in (start, end):
            if bound is not None and abs(bound) >= 2**63:
                raise BadRangeError(f"range bound {bound} of {key!r} is beyond any file size")
        for i, (suffix, enc) in self._variants():
            try:
                f = self._open_read(path + suffix, key)
            except FileNotFoundError:
                continue
            except (IsADirectoryError, NotADirectoryError):
                continue
            self._hit = i
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
        return GetResult(None, None)

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

    def _create_tmp(self, tmp: str) -> int:
        """Create the temporary file ``tmp`` (its directory too, even if someone removed
        it since this backend last made it) and return its descriptor."""
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:
            directory = os.path.dirname(tmp)
            self._known_dirs.discard(directory)
            self._ensure_dir(directory)
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)

    def put(self, key, content, encoding=None, content_type=None, cache_control=None,
            storage_class=None, md5=None, crc32c=None) -> None:
        path = self._path(key)
        target = path + (SUFFIXES[encoding] if encoding else "")
        tmp = _tmp_name(target)
        fd = self._create_tmp(tmp)
        try:
            view = memoryview(content)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        except BaseException:
            os.close(fd)
            _unlink(tmp)
            raise
        os.close(fd)
        try:
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise
        for suffix, _ in _VARIANTS:
            other = path + suffix
            if other != target:
                _unlink(other)

    def head(self, key: str) -> Optional[dict]:
        found, enc = self._find(self._path(key))
        if found is None:
            return None
        st = os.stat(found)
        return head_dict(
            size=st.st_size,
            encoding=enc,
            last_modified=_dt.datetime.fromtimestamp(st.st_mtime, tz=_dt.timezone.utc),
        )

    def exists(self, key: str) -> bool:
        return self._find(self._path(key))[0] is not None

    def get_acl(self, key: str) -> Optional[int]:
        """The stored file's ``st_mode`` (permission bits and type), or None if missing."""
        found, _ = self._find(self._path(key))
        if found is None:
            return None
        try:
            return os.stat(found).st_mode
        except FileNotFoundError:
            return None

    def size(self, key: str) -> Optional[int]:
        found, _ = self._find(self._path(key))
        if found is None:
            return None
        try:
            return os.path.getsize(found)
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        path = self._path(key)
        for suffix, _ in _VARIANTS:
            _unlink(path + suffix)

    def touch(self, key: str) -> None:
        """Update the mtime of an existing file (any encoding)."""
        found, _ = self._find(self._path(key))
        if found is None:
            raise NotFoundError(f"{key!r} does not exist under {self.root}")
        os.utime(found)

    def list(self, prefix: str = "", flat: bool = False) -> Iterator[str]:
        for key, _ in self._scan(prefix, flat, sizes=False):
            yield key

    def list_sizes(self, prefix: str = "", flat: bool = False):
        return self._scan(prefix, flat, sizes=True)

    def _scan(self, prefix: str, flat: bool, sizes: bool) -> Iterator[tuple[str, Optional[int]]]:
        base_dir, _, name_prefix = prefix.rpartition("/")
        if base_dir:
            keys.local_path(self.root, base_dir + "/x", self._real_root)
        if "\0" in name_prefix:
            keys.check_relative(prefix)
        start = os.path.join(self.root, base_dir) if base_dir else self.root
        rel_base = base_dir + "/" if base_dir else ""
        out: list[tuple[str, Optional[int]]] = []

        def visit(directory: str, rel: str, name_filter: str) -> None:
            try:
                entries = list(os.scandir(directory))
            except (FileNotFoundError, NotADirectoryError):
                return
            for entry in entries:
                name = entry.name
                if name_filter and not name.startswith(name_filter):
                    continue
                if _TMP_MARK in name:
                    continue
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir:
                    if flat:
                        out.append((rel + name + "/", None))
                    else:
                        visit(entry.path, rel + name + "/", "")
                    continue
                if name.endswith(_SUFFIX_TUPLE):
                    key = rel + name[: name.rfind(".")]
                else:
                    key = rel + name
                size = None
                if sizes:
                    try:
                        size = entry.stat().st_size
                    except FileNotFoundError:
                        continue
                out.append((key, size))

        visit(start, rel_base, name_prefix)
        out.sort(key=_first)
        prev = None
        for item in out:
            if item[0] != prev:  # name and name.gz both present: list once
                yield item
            prev = item[0]

    def copy_within(self, src_key: str, dest: Backend, dest_key: str) -> bool:
        if not isinstance(dest, FileBackend):
            return False
        import shutil

        found, enc = self._find(self._path(src_key))
        if found is None:
            raise NotFoundError(f"{src_key!r} does not exist under {self.root}")
        dpath = dest._path(dest_key)
        target = dpath + (SUFFIXES[enc] if enc else "")
        tmp = _tmp_name(target)
        try:
            keys.check_target(self._real_root, found, src_key)
            os.close(dest._create_tmp(tmp))
            shutil.copyfile(found, tmp)
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise
        for suffix, _ in _VARIANTS:
            if dpath + suffix != target:
                _unlink(dpath + suffix)
        return True

    # -- multipart: parts are written in place into one temporary file ---------
    def multipart_begin(self, key, encoding=None, content_type=None, cache_control=None, storage_class=None,
                        part_size=None):
        path = self._path(key)
        target = path + (SUFFIXES[encoding] if encoding else "")
        tmp = _tmp_name(target)
        return _FileUpload(path, target, tmp, self._create_tmp(tmp))

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
        os.close(upload.fd)
        upload.fd = -1
        try:
            os.replace(upload.tmp, upload.target)
        except BaseException:
            _unlink(upload.tmp)
            raise
        for suffix, _ in _VARIANTS:
            if upload.path + suffix != upload.target:
                _unlink(upload.path + suffix)

    def multipart_abort(self, upload) -> None:
        if upload.fd >= 0:
            os.close(upload.fd)
            upload.fd = -1
        _unlink(upload.tmp)

    def root_exists(self) -> bool:
        return os.path.isdir(self.root)


class _FileUpload:
    __slots__ = ("path", "target", "tmp", "fd")

    def __init__(self, path: str, target: str, tmp: str, fd: int):
        self.path, self.target, self.tmp, self.fd = path, target, tmp, fd


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        pass
    except OSError as err:
        if err.errno not in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
            raise
