"""The object core: one backend under one key root, and the rules for one object.

``ObjectCore`` owns what every single-object operation needs: the backend
built from a cloudpath and its options, the key root (keys are validated and
made relative here), the retry policy, file:// advisory locks, encoding and
decoding, and verification of what was read. Reads, writes, stats, deletes
and listings of one object (or one listing) live here; the facade
(:class:`cloudfiles.CloudFiles`) adds input shapes, fan-out and result
shapes on top, and streaming, transfers and the CLI's resumable copies work
on cores directly. Nothing here imports the facade.

A core pickles as its cloudpath and options, so a work item naming one can
be shipped to another process or cluster worker, which rebuilds the core
(with its own connection pools) on arrival.
"""
from __future__ import annotations

import os
from typing import Any, Iterator, Optional, Union

from . import compression, integrity, paths, retry
from .backends import backend_class
from .backends.base import check_range
from .compression import normalize_content_encoding, normalize_encoding
from .exceptions import DecompressionError, InvalidInputError
from .locking import FileLocks, default_lock_dir, no_lock
from .runner import DEFAULT_RUNNER, Runner

# The reference library's default: put() of more than 100 MB goes up in parts.
DEFAULT_COMPOSITE_UPLOAD_THRESHOLD = int(1e8)

# The constructor options a core understands (the facade adds fan-out options): the
# keyword-only parameters of ObjectCore, which CloudFiles passes on by these names.
CORE_OPTIONS = (
    "secrets", "use_https", "endpoint", "request_payer", "no_sign_request", "timeout",
    "retry_policy", "composite_upload_threshold", "part_size", "part_threads", "large_threshold",
    "fsync", "max_decompressed_size", "locking", "lock_dir", "listing", "list_page_size",
    "deadline", "max_body", "num_threads", "features", "options",
)


class ObjectCore:
    """Single-object operations on one cloudpath; see the module docstring."""

    def __init__(
        self,
        cloudpath: str,
        *,
        secrets: Any = None,
        use_https: bool = False,
        endpoint: Optional[str] = None,
        request_payer: Optional[str] = None,
        no_sign_request: bool = False,
        timeout: float = 60.0,
        retry_policy: Optional[retry.RetryPolicy] = None,
        composite_upload_threshold: Optional[int] = None,
        part_size: Optional[int] = None,
        part_threads: Optional[int] = None,
        large_threshold: Optional[int] = None,
        fsync: Optional[bool] = None,
        max_decompressed_size: Union[int, str, None] = None,
        locking: Optional[bool] = None,
        lock_dir: Optional[str] = None,
        listing: Optional[str] = None,
        list_page_size: Optional[int] = None,
        deadline: Optional[float] = None,
        max_body: Optional[int] = None,
        num_threads: Optional[int] = None,
        features: Optional[dict] = None,
        options: Optional[dict] = None,
    ):
        given = locals()  # the keywords above, each named once in CORE_OPTIONS
        self._spec = (cloudpath, {k: given[k] for k in CORE_OPTIONS if given[k] is not None})
        if options is not None and not isinstance(options, dict):
            raise InvalidInputError(f"options must be a dict of backend options, got {type(options).__name__}")
        # Backend options given as keywords (checked against the backend's options type).
        extra = {k: v for k, v in (("listing", listing), ("list_page_size", list_page_size),
                                   ("deadline", deadline), ("max_body", max_body)) if v is not None}
        # None: $CLOUDFILES_MAX_DECOMPRESSED_SIZE or the ratio rule (compression.output_limit).
        self.max_decompressed_size = (
            None if max_decompressed_size is None else compression.parse_size(max_decompressed_size))
        path = paths.parse(cloudpath, endpoint=endpoint)
        if use_https:
            path = paths.to_https(path)
        self.path = path
        self.cloudpath = paths.ascloudpath(path)
        from .backends.wire.keyroot import KeyRoot  # on first use: ``import cloudfiles`` stays light

        self._root = KeyRoot(self.cloudpath)  # full cloudpaths given as keys must lie under it
        cls = backend_class(path.protocol)
        # Abilities switched off for this client (features=) stand in for the backend's own.
        self._features = cls.features if features is None else cls.features.restricted(
            features, f"{path.protocol}://")
        if num_threads is None:
            num_threads = 1 if self._features.local else 20
        self.secrets = secrets
        self.request_payer = request_payer
        self.retry_policy = retry_policy or retry.DEFAULT_POLICY
        self._backend_options = _backend_options(
            cls, path.protocol, extra, options or {}, fsync,
            secrets=secrets, num_threads=max(num_threads, 1), request_payer=request_payer,
            no_sign_request=no_sign_request, timeout=timeout)
        self.backend = self._build_backend(cls)
        # Where part-level work (parallel parts of one large object) runs; the
        # facade sets its own (threads, green threads or its executor).
        self.runner = DEFAULT_RUNNER
        self.features = self.backend.features
        self.locking = locking
        self._lock_dir = lock_dir
        self._locks = FileLocks(self.lock_dir) if locking and path.protocol == "file" else None
        self.composite_upload_threshold = _composite_threshold(composite_upload_threshold)
        from .streaming import DEFAULT, StreamSettings

        self.stream_settings = StreamSettings(
            part_size=part_size or DEFAULT.part_size,
            parallel=part_threads or DEFAULT.parallel,
            threshold=DEFAULT.threshold if large_threshold is None else large_threshold,
        )

    @property
    def runner(self) -> Runner:
        """Where part-level work of this core (and its backend's own fan-out) runs."""
        return self._runner

    @runner.setter
    def runner(self, runner: Runner) -> None:
        self._runner = runner
        self.backend.runner = runner

    # ------------------------------------------------------------ identity
    def __reduce__(self):
        cloudpath, options = self._spec
        return (_rebuild, (cloudpath, options))

    def __repr__(self) -> str:
        from .redact import redact

        return redact(f"ObjectCore({self.cloudpath!r})")

    @property
    def protocol(self) -> str:
        return self.path.protocol

    @property
    def options(self) -> dict:
        """The options this core was built with (what a worker needs to rebuild it)."""
        return dict(self._spec[1])

    @property
    def lock_dir(self) -> str:
        return self._lock_dir if self._lock_dir is not None else default_lock_dir()

    def _build_backend(self, cls):
        backend = cls(self.path, self._backend_options)
        if self._features is not cls.features:
            backend.features = self._features  # some abilities switched off for this client
        return backend

    def reconnect(self) -> None:
        """Rebuild the backend on fresh connection pools."""
        self.backend.close()
        self.backend = self._build_backend(type(self.backend))
        self.backend.runner = self._runner

    def require_writable(self, what: str, key: str = "") -> None:
        """Refuse (``UnsupportedOperationError``) to change a read-only service."""
        if not self.features.writable:
            from .exceptions import UnsupportedOperationError

            raise UnsupportedOperationError(
                f"{self.protocol}:// is read-only: cannot {what} {self.abspath(key) if key else self.cloudpath}")

    def abspath(self, key: str) -> str:
        """The full cloudpath of ``key``."""
        return paths.join(self.cloudpath, key)

    def key(self, path: str) -> str:
        """``path`` validated and made relative to this core's root (a full cloudpath must lie under it)."""
        from . import inputs

        path = inputs.check_key(path)
        if "://" in path:
            norm = paths.normalize(path)
            if not self._root.contains(norm):
                raise InvalidInputError(f"{path!r} is not under {self.cloudpath}")
            return self._root.relative(norm)
        return path

    # --------------------------------------------------------- call rules
    def call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` under this core's retry policy."""
        return retry.call(fn, *args, policy=self.retry_policy, **kwargs)

    def lock(self, key: str, exclusive: bool):
        """The advisory lock for ``key`` (file:// with ``locking=True``), else a no-op context."""
        if self._locks is None:
            return no_lock()
        return self._locks.hold(os.path.join(self.path.path, key), exclusive)

    def locked_call(self, fn, key: str, exclusive: bool = False):
        with self.lock(key, exclusive):
            return self.call(fn, key)

    # ---------------------------------------------------------------- read
    def fetch(self, key: str, start: Optional[int] = None, end: Optional[int] = None,
              part_size: Optional[int] = None):
        """Stored bytes of ``key`` (a ``GetResult``), verified against what the service said."""
        ranged = start is not None or end is not None

        def attempt():
            res = self.backend.get(key, start, end)
            if res.content is not None and res.checksums is not None and not ranged:
                if part_size:
                    res.checksums.multipart_part_size = part_size
                if isinstance(res.content, (bytes, bytearray, memoryview)):
                    integrity.verify(res.content, res.checksums, key)
            return res

        with self.lock(key, False):
            return self.call(attempt)

    def read(self, key: str, start: Optional[int] = None, end: Optional[int] = None, raw: bool = False,
             limit: Union[int, str, None] = None, part_size: Optional[int] = None):
        """``(content, encoding)`` of ``key``: decoded unless ``raw``; ``(None, None)`` if missing.

        A range on a compressed object is a range of the decoded file.
        """
        check_range(start, end)
        limit = self.max_decompressed_size if limit is None else limit
        res = self.fetch(key, start, end, part_size)
        content = res.content
        enc = normalize_content_encoding(res.encoding) if content is not None else None
        if content is None or raw or enc is None:
            return content, enc
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise DecompressionError(f"{key!r} holds a Python object, which has no {enc} encoding to undo")
        if start is not None or end is not None:
            whole = self.fetch(key, None, None)
            if whole.content is None:
                return None, None
            enc = normalize_content_encoding(whole.encoding)
            data = compression.decompress(whole.content, enc, key, limit)
            if start is not None and start < 0:
                return data[start:], enc
            return (data[start:] if end is None else data[start:end]), enc
        return compression.decompress(content, enc, key, limit), enc

    # --------------------------------------------------------------- write
    def content_for(self, content: Any, key: str, req: dict) -> Any:
        """Bytes to store; on a backend that keeps Python objects (mem://), a
        non-bytes ``content`` stored uncompressed is kept as the object itself."""
        from . import inputs

        if self.features.python_objects and is_python_object(content):
            if req.get("compress") is not None and not req.get("raw"):
                raise InvalidInputError(
                    f"content for {key!r} is a {type(content).__name__}: Python objects are stored "
                    f"uncompressed only (compress=None), not with {req.get('compress')!r}")
            return content
        return inputs.to_bytes(content, key)

    def write(self, req: dict) -> None:
        """Store one put request (``path``, ``content`` and the put options), encoded and checksummed.

        Stored bytes above ``composite_upload_threshold`` go up in parallel parts.
        """
        key = self.key(req["path"])
        content = self.content_for(req["content"], key, req)
        raw = req.get("raw", False)
        # raw bytes keep the encoding they declare, known or not (an object stored
        # as lz4 or "gzip,br" elsewhere is copied as-is); others are encoded here.
        enc = compression.stored_encoding(req.get("compress"), key) if raw else normalize_encoding(req.get("compress"))
        if raw or not isinstance(content, bytes):
            stored = content
        else:
            stored = compression.compress(content, enc, req.get("compression_level"))
        feats = self.features
        self.require_writable("write", key)
        content_type = req.get("content_type") or "application/octet-stream"
        if not feats.local and feats.multipart and len(stored) > self.composite_upload_threshold \
                and len(stored) > self.stream_settings.part_size:
            from .streaming import put_in_parts

            put_in_parts(self, key, stored, enc, content_type, req.get("cache_control"), req.get("storage_class"))
            return
        md5 = integrity.md5_base64(stored) if feats.wants_md5 else None
        crc = integrity.crc32c_base64(stored) if feats.wants_crc32c else None
        with self.lock(key, True):
            self.call(self.backend.put, key, stored, encoding=enc, content_type=content_type,
                      cache_control=req.get("cache_control"), storage_class=req.get("storage_class"),
                      md5=md5, crc32c=crc)

    # ---------------------------------------------------------- metadata
    def stat(self, key: str):
        """Size, encoding and checksums of ``key`` for a parallel read (``None`` if missing)."""
        return self.call(self.backend.stat, key)

    def head(self, key: str) -> Optional[dict]:
        return self.locked_call(self.backend.head, key)

    def size(self, key: str) -> Optional[int]:
        return self.locked_call(self.backend.size, key)

    def exists(self, key: str) -> bool:
        return self.locked_call(self.backend.exists, key)

    def delete(self, key: str) -> None:
        self.locked_call(self.backend.delete, key, exclusive=True)

    def delete_batch(self, keys: list[str]) -> None:
        """Delete up to ``features.batch_delete`` keys in one request."""
        self.call(self.backend.delete_many, keys)

    def exists_batch(self, keys: list[str]) -> dict[str, bool]:
        """Existence of up to ``features.batch_exists`` keys in one request."""
        return self.call(self.backend.exists_many, keys)

    # ------------------------------------------------------------ listing
    def entries(self, kind: str, prefix: str = "", flat: bool = False,
                start_after: Optional[str] = None) -> Iterator:
        """Keys (``kind='keys'``), ``(key, size)`` pairs (``'sizes'``) or ObjectMeta (``'meta'``)
        under ``prefix``, sorted, only keys after ``start_after``; a failed page resumes
        the listing after the last key yielded (not from page 1)."""
        if not self.features.listable:
            from .exceptions import UnsupportedOperationError

            raise UnsupportedOperationError(f"{self.protocol}:// cannot list {self.cloudpath}")
        method, position = LISTERS[kind]
        lister = getattr(self.backend, method)
        if self.features.local:  # nothing transient to resume from
            return lister(prefix, flat, start_after)
        return retry.resumable(lambda last: lister(prefix, flat, start_after if last is None else last),
                               position, self.retry_policy)

    def listing(self, prefix: str = "", flat: bool = False, sizes: bool = False,
                start_after: Optional[str] = None) -> Iterator[tuple[str, Optional[int]]]:
        """``(key, size or None)`` under ``prefix``, sorted; a failed page resumes the listing."""
        if sizes:
            return self.entries("sizes", prefix, flat, start_after)
        return ((k, None) for k in self.entries("keys", prefix, flat, start_after))

    def files(self, prefix: str = "") -> Iterator[tuple[str, Optional[int]]]:
        """``(key, stored size)`` of every file (no directories) under ``prefix``."""
        return ((k, s) for k, s in self.listing(prefix, False, True) if not k.endswith("/"))


def _key_of_pair(item: tuple) -> str:
    return item[0]


def _key_of_meta(meta: Any) -> str:
    return meta.key


def _itself(key: str) -> str:
    return key


#: listing kinds: the backend method and how to read an item's key (its position)
LISTERS = {"keys": ("list", _itself), "sizes": ("list_sizes", _key_of_pair), "meta": ("list_meta", _key_of_meta)}


def core_of(end: Any) -> ObjectCore:
    """The object core of a :class:`~cloudfiles.CloudFiles` (or the core itself): functions
    that work on cores accept the facade too."""
    return getattr(end, "core", end)


def _rebuild(cloudpath: str, options: dict) -> ObjectCore:
    return ObjectCore(cloudpath, **options)


def is_python_object(content: Any) -> bool:
    """Content that is neither bytes-like, text, a file object nor an iterator of chunks."""
    if isinstance(content, (bytes, bytearray, memoryview, str)) or hasattr(content, "read"):
        return False
    try:
        return iter(content) is not content
    except TypeError:
        return True


def _composite_threshold(value) -> int:
    if value is None:
        return DEFAULT_COMPOSITE_UPLOAD_THRESHOLD
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # e.g. 1e8
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"composite_upload_threshold must be a non-negative int (bytes), got {value!r}")
    return value


def _backend_options(cls, protocol: str, keywords: dict, given: dict, fsync: Optional[bool], **common: Any):
    """The backend's options (its ``options_type``) from the constructor's keywords
    and ``options=``; a name the backend does not take raises InvalidInputError."""
    import dataclasses

    from .backends.base import _COMMON_OPTIONS

    clash = sorted(k for k in given if k in _COMMON_OPTIONS or k in keywords)
    if clash:
        raise InvalidInputError(f"pass {', '.join(clash)} as CloudFiles keyword(s), not in options=")
    otype = cls.options_type
    values = dict(common, **keywords, **given)
    if "fsync" in {f.name for f in dataclasses.fields(otype)}:
        values["fsync"] = _fsync_setting(fsync)
    elif fsync is not None:
        values["fsync"] = fsync  # refused below: only file:// writes local files
    return otype.build(values, f"{protocol}://")


def _fsync_setting(fsync: Optional[bool]) -> bool:
    """The ``fsync=`` argument, or ``CLOUDFILES_FSYNC`` (1/true/yes/on) when it is None."""
    if fsync is not None:
        if not isinstance(fsync, bool):
            raise InvalidInputError(f"fsync must be True, False or None, got {fsync!r}")
        return fsync
    value = os.environ.get("CLOUDFILES_FSYNC", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise InvalidInputError(f"CLOUDFILES_FSYNC must be 1 or 0, got {value!r}")
