"""In-memory backend (``mem://``): one store per process, shared by every
CloudFiles that names the same bucket, safe across threads.

Objects keep their encoding and metadata beside the bytes, as a cloud
service would, rather than in file-name suffixes.
"""
from __future__ import annotations

import bisect
import hashlib
import datetime as _dt
import sys
import threading
from dataclasses import dataclass, field
from typing import Iterator, Optional

from ..exceptions import NotFoundError, PreconditionFailedError
from ..meta import ObjectMeta
from .base import Backend, BackendOptions, Features, GetResult
from .wire.keyroot import KeyRoot


@dataclass
class _MemObject:
    data: bytes
    encoding: Optional[str]
    content_type: Optional[str]
    cache_control: Optional[str]
    storage_class: Optional[str]
    modified: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))


class _Bucket:
    __slots__ = ("objects", "lock", "_sorted")

    def __init__(self) -> None:
        self.objects: dict[str, _MemObject] = {}
        self.lock = threading.Lock()
        self._sorted: Optional[list[str]] = None

    def sorted_keys(self) -> list[str]:
        with self.lock:
            if self._sorted is None:
                self._sorted = sorted(self.objects)
            return self._sorted

    def invalidate(self) -> None:
        self._sorted = None


_STORE: dict[str, _Bucket] = {}
_STORE_LOCK = threading.Lock()


def _bucket(name: str) -> _Bucket:
    b = _STORE.get(name)
    if b is None:
        with _STORE_LOCK:
            b = _STORE.setdefault(name, _Bucket())
    return b


def _stored(content):
    """Bytes-like content is stored as bytes; any other object (raw Python data) as itself."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, (bytearray, memoryview)):
        return bytes(content)
    return content


def _token(data) -> Optional[str]:
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return hashlib.sha256(data).hexdigest()
    return f"object:{id(data)}"  # a Python object: its identity is its version


def _size(data) -> int:
    """Stored size: the byte length, or for a Python object its in-memory size."""
    if isinstance(data, bytes):
        return len(data)
    return sys.getsizeof(data)


def clear(bucket: Optional[str] = None) -> None:
    """Drop one in-memory bucket, or all of them."""
    with _STORE_LOCK:
        if bucket is None:
            _STORE.clear()
        else:
            _STORE.pop(bucket, None)


@dataclass
class MemOptions(BackendOptions):
    """mem:// takes only the common options (none of them changes what it does)."""


class MemBackend(Backend):
    features = Features(server_side_copy=True, local=True, process_local=True, batch_delete=1000,
                        batch_exists=1000, acl=True, python_objects=True, touch=True, conditional_writes=True)
    options_type = MemOptions

    def __init__(self, cloudpath, options):
        super().__init__(cloudpath, options)
        self._b = _bucket(cloudpath.bucket)
        self._root = KeyRoot(cloudpath.path)

    def _key(self, key: str) -> str:
        return self._root.join(key)

    def get(self, key, start=None, end=None) -> GetResult:
        obj = self._b.objects.get(self._key(key))
        if obj is None:
            return GetResult(None)
        data = obj.data
        if (start is not None or end is not None) and isinstance(data, bytes):
            data = data[start:end] if start is None or start >= 0 else data[start:]
        return GetResult(data, obj.encoding)

    def put(self, key, content, encoding=None, content_type=None, cache_control=None,
            storage_class=None, md5=None, crc32c=None) -> None:
        obj = _MemObject(_stored(content), encoding, content_type, cache_control, storage_class)
        k = self._key(key)
        b = self._b
        with b.lock:
            if k not in b.objects:
                b.invalidate()
            b.objects[k] = obj

    def stat_meta(self, key) -> Optional[ObjectMeta]:
        obj = self._b.objects.get(self._key(key))
        if obj is None:
            return None
        return ObjectMeta(key=key, size=_size(obj.data), encoding=obj.encoding, content_type=obj.content_type,
                          cache_control=obj.cache_control, storage_class=obj.storage_class,
                          last_modified=obj.modified)

    def exists(self, key) -> bool:
        return self._key(key) in self._b.objects

    def exists_many(self, keys) -> dict[str, bool]:
        objs = self._b.objects
        return {k: self._key(k) in objs for k in keys}

    def size(self, key) -> Optional[int]:
        obj = self._b.objects.get(self._key(key))
        return None if obj is None else _size(obj.data)

    def get_acl(self, key) -> None:
        """mem:// has no access control: always None."""
        return None

    def delete(self, key) -> None:
        b = self._b
        with b.lock:
            if b.objects.pop(self._key(key), None) is not None:
                b.invalidate()

    def delete_many(self, keys) -> None:
        b = self._b
        with b.lock:
            for k in keys:
                b.objects.pop(self._key(k), None)
            b.invalidate()

    # -- conditional writes: compare and swap under the bucket's lock ---------
    def read_versioned(self, key: str) -> tuple[Optional[bytes], Optional[str]]:
        """Stored bytes of ``key`` and their token (sha256), which :meth:`put_if` presents."""
        obj = self._b.objects.get(self._key(key))
        data = None if obj is None else obj.data
        return data, _token(data)

    def put_if(self, key: str, content: bytes, expected: Optional[str]) -> str:
        """Store ``content`` only if ``key`` still has token ``expected`` (None: only if absent)."""
        k, b = self._key(key), self._b
        with b.lock:
            obj = b.objects.get(k)
            if _token(None if obj is None else obj.data) != expected:
                raise PreconditionFailedError(
                    f"mem://{self.cloudpath.bucket}/{k} changed since it was read (someone else moved it meanwhile)")
            if obj is None:
                b.invalidate()
            b.objects[k] = _MemObject(_stored(content), None, "application/json", None, None)
        return _token(content)  # type: ignore[return-value]

    def touch(self, key: str) -> None:
        obj = self._b.objects.get(self._key(key))
        if obj is None:
            raise NotFoundError(f"{key!r} does not exist in mem://{self.cloudpath.bucket}")
        obj.modified = _dt.datetime.now(_dt.timezone.utc)

    def list_meta(self, prefix: str = "", flat: bool = False,
                  start_after: Optional[str] = None) -> Iterator[ObjectMeta]:
        """Sorted keys with size, time, encoding and the metadata stored beside the bytes."""
        root = self._root
        full = root.scope(prefix)
        keys = self._b.sorted_keys()
        i = bisect.bisect_left(keys, full)
        if start_after is not None:
            i = max(i, bisect.bisect_right(keys, root.scope(start_after)))
        objs = self._b.objects
        while i < len(keys):
            k = keys[i]
            i += 1
            if not k.startswith(full):
                break
            rel = root.relative(k)
            if flat:
                slash = rel.find("/", len(prefix))
                if slash >= 0:
                    d = rel[: slash + 1]
                    # skip the rest of d: its keys all sort below d[:-1] + '0' ('0' follows '/')
                    i = bisect.bisect_left(keys, root.scope(d[:-1] + "0"), i)
                    if start_after is None or d > start_after:
                        yield ObjectMeta(key=d)
                    continue
            obj = objs.get(k)
            if obj is not None:
                yield ObjectMeta(key=rel, size=_size(obj.data), last_modified=obj.modified,
                                 encoding=obj.encoding, content_type=obj.content_type,
                                 cache_control=obj.cache_control, storage_class=obj.storage_class)

    def copy_within(self, src_key, dest, dest_key) -> bool:
        if not isinstance(dest, MemBackend):
            return False
        obj = self._b.objects.get(self._key(src_key))
        if obj is None:
            raise NotFoundError(f"{src_key!r} does not exist in mem://{self.cloudpath.bucket}")
        k = dest._key(dest_key)
        with dest._b.lock:
            if k not in dest._b.objects:
                dest._b.invalidate()
            dest._b.objects[k] = _MemObject(obj.data, obj.encoding, obj.content_type,
                                            obj.cache_control, obj.storage_class)
        return True
