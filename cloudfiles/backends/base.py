"""The backend interface every storage service implements.

A backend knows one service and nothing else: no compression, no retries,
no threading, no result shaping (the facade does those). Keys passed to a
backend are relative to the CloudPath it was built for. Required operations
are ``get``, ``put``, ``stat_meta``, ``delete`` and ``list_meta``; the rest have
defaults built on those (``head()``'s dict and ``stat()`` are derived from
``stat_meta``, the one metadata parse of each backend; ``list`` and
``list_sizes`` from ``list_meta``), which backends override when the service offers a
cheaper native form (batch delete, server-side copy, sized listings).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Mapping, Optional

from ..runner import DEFAULT_RUNNER
from ..exceptions import UnsupportedOperationError
from ..integrity import Checksums
from ..meta import ObjectMeta
from ..paths import CloudPath

if TYPE_CHECKING:
    import datetime as _dt


@dataclass(frozen=True)
class Features:
    """What a backend can do, declared once per backend class (``features = Features(...)``).

    Callers read these flags instead of probing for methods or protocol names;
    where a flag is off, the caller takes the fallback path. Abilities can be
    switched off per client (``CloudFiles(path, features={...})``, see
    :meth:`restricted`) so the fallbacks are tested too; the requirements at
    the end describe the service and cannot be switched.
    """

    # -- abilities: each True/ >1 promises the methods named beside it ------
    writable: bool = True  # put/delete/multipart_*; False: writes raise UnsupportedOperationError
    listable: bool = True  # list_meta (list and list_sizes are built on it)
    server_side_copy: bool = False  # copy_within(src_key, dest, dest_key) copies inside the service
    batch_delete: int = 1  # delete_many takes up to this many keys in one request
    batch_exists: int = 1  # exists_many takes up to this many keys in one request
    multipart: bool = False  # native multipart/composite upload (else parts are buffered into one put)
    range_streaming: bool = False  # read_range_to(key, start, end, sink) streams a range in chunks
    range_into: bool = False  # read_range_into(key, start, buf) reads a range into a caller's buffer
    conditional_writes: bool = False  # read_versioned(key) and put_if(key, content, token)
    touch: bool = False  # touch(key) refreshes an existing object's modification time
    leftovers: bool = False  # leftovers(cutoff)/remove_leftover(item): temporaries of killed writers
    sync: bool = False  # sync(key) makes a written object durable (fsync)
    acl: bool = False  # get_acl(key) reads the object's access control (None if missing)
    python_objects: bool = False  # put/get keep non-bytes content as the Python object itself
    pinned_reads: bool = False  # ranged reads take ``pin=`` (an ObjectStat) and fail with
    #                             ObjectChangedError when the object is no longer that version
    local: bool = False  # CPU-bound, in-process (no network): few threads are best, no resume
    process_local: bool = False  # storage lives in this process: child processes cannot see it
    # -- requirements of the service (not switchable) ---------------------
    wants_md5: bool = False  # put wants the content's md5 to verify
    wants_crc32c: bool = False  # put wants the content's crc32c to verify
    min_part_size: int = 0  # smallest part a multipart upload accepts (all but the last)

    def restricted(self, changes: Mapping[str, Any], where: str = "this backend") -> "Features":
        """A copy with some abilities switched off (``{"server_side_copy": False,
        "batch_delete": 1}``): booleans may only go from True to False, batch
        sizes only down to 1. Anything else raises :class:`InvalidInputError`
        naming the offending keys."""
        from ..exceptions import InvalidInputError

        if not isinstance(changes, Mapping):
            raise InvalidInputError(f"features must be a dict of feature: value, got {type(changes).__name__}")
        names = {f.name for f in fields(self)}
        unknown = sorted(str(k) for k in changes if k not in names)
        if unknown:
            raise InvalidInputError(
                f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(sorted(names - _REQUIREMENTS))}")
        fixed = sorted(k for k in changes if k in _REQUIREMENTS)
        if fixed:
            raise InvalidInputError(f"{', '.join(fixed)} describe(s) the service and cannot be switched")
        out = {}
        for name, value in changes.items():
            have = getattr(self, name)
            if isinstance(have, bool):
                if not isinstance(value, bool):
                    raise InvalidInputError(f"feature {name} takes True or False, got {value!r}")
                if value and not have:
                    raise InvalidInputError(f"{where} cannot do {name}: a feature can only be switched off")
            else:
                if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= have:
                    raise InvalidInputError(f"feature {name} takes an int from 1 to {have} on {where}, got {value!r}")
            out[name] = value
        return replace(self, **out)


_REQUIREMENTS = frozenset({"wants_md5", "wants_crc32c", "min_part_size"})

#: The former name of :class:`Features`.
Capabilities = Features


@dataclass
class BackendOptions:
    """Options every backend takes. Each backend's ``options_type`` subclasses
    this with the options only it understands (``S3Options``, ``GCSOptions``,
    ``HTTPOptions``, ``FileOptions``, ``MemOptions``), so an option given to a
    backend that has no use for it is refused by name (:meth:`build`).
    The facade fills them from its keywords and ``options=`` when it builds
    the backend; every field is documented in docs/backends.md, "Options".
    """

    #: credentials, in the form the service's section of docs/backends.md describes
    secrets: Any = None
    #: connections kept per pool (the facade's ``num_threads``)
    num_threads: int = 20
    #: idle seconds per network wait (connect at most 20 s)
    timeout: float = 60.0
    #: seconds one request may take as a whole (None: ``$CLOUDFILES_DEADLINE``, else 600)
    deadline: Optional[float] = None
    #: the largest response held in memory, bytes (None: ``$CLOUDFILES_MAX_BODY``, else 4 GiB)
    max_body: Optional[int] = None
    #: requester-pays billing on services that have it (S3: "requester", GCS: a project); ignored elsewhere
    request_payer: Optional[str] = None
    #: anonymous requests on services that sign them (S3, GCS); ignored elsewhere
    no_sign_request: bool = False

    @classmethod
    def build(cls, given: Mapping[str, Any], where: str = "this backend") -> "BackendOptions":
        """``cls(**given)``, validated; unknown names raise :class:`InvalidInputError` naming them."""
        from ..exceptions import InvalidInputError

        names = [f.name for f in fields(cls)]
        unknown = sorted(str(k) for k in given if k not in names)
        if unknown:
            own = [n for n in names if n not in _COMMON_OPTIONS]
            raise InvalidInputError(
                f"{where} does not take option(s) {', '.join(unknown)} "
                f"({cls.__name__} takes {', '.join(own) if own else 'no backend-specific options'})")
        opts = cls(**given)
        opts.check()
        return opts

    def check(self) -> None:
        """Validate the values (subclasses check their own fields, then call this)."""
        positive_int("num_threads", self.num_threads)


_COMMON_OPTIONS = frozenset({"secrets", "num_threads", "timeout", "deadline", "max_body", "request_payer",
                             "no_sign_request"})


def positive_int(name: str, value: Any, most: Optional[int] = None, optional: bool = False) -> None:
    """Refuse (:class:`InvalidInputError`) an option that is not an int from 1 to ``most``."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (most is not None and value > most):
        from ..exceptions import InvalidInputError

        bound = f" from 1 to {most}" if most is not None else " >= 1"
        raise InvalidInputError(f"{name} must be an int{bound}{' or None' if optional else ''}, got {value!r}")


@dataclass
class GetResult:
    """Bytes read from a backend; ``content is None`` means the object is missing."""

    content: Optional[bytes]
    encoding: Optional[str] = None
    checksums: Optional[Checksums] = None  # set only for whole-object reads


def head_dict(
    size: Optional[int] = None,
    encoding: Optional[str] = None,
    content_type: Optional[str] = None,
    cache_control: Optional[str] = None,
    etag: Optional[str] = None,
    last_modified: Optional[_dt.datetime] = None,
    md5: Optional[str] = None,
    storage_class: Optional[str] = None,
    parts_count: Optional[int] = None,
    **extra: Any,
) -> dict:
    """The metadata dict ``head`` returns, with the reference library's keys."""
    out = {
        "Cache-Control": cache_control,
        "Content-Length": size,
        "Content-Type": content_type,
        "ETag": etag,
        "Last-Modified": last_modified,
        "Content-Md5": md5,
        "Content-Encoding": encoding,
        "Content-Disposition": None,
        "Content-Language": None,
        "Storage-Class": storage_class,
        "Request-Charged": None,
        "Parts-Count": parts_count,
    }
    out.update(extra)
    return out


class Backend:
    """Base class: subclasses declare ``features`` and implement the required methods.

    ``features`` is a class attribute; a client that switched features off
    (``CloudFiles(..., features=...)``) gets an instance whose ``features``
    attribute shadows it. ``capabilities`` is the former name, kept as an alias.
    """

    features: Features = Features()
    #: The dataclass of options this backend takes (see BackendOptions).
    options_type: type = BackendOptions

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        legacy = cls.__dict__.get("capabilities")
        if isinstance(legacy, Features):  # a backend written against the old name
            cls.features = legacy
            del cls.capabilities

    # Where a backend fans out its own requests (S3's parallel part copy); the
    # object core sets its runner here so green=/executor= reach it too.
    runner: Any = DEFAULT_RUNNER
    #: each write waits on the device (file:// with ``fsync=True``): local fan-out may then
    #: overlap writes on a few threads (cloudfiles/localcap.py)
    fsync: bool = False

    def __init__(self, cloudpath: CloudPath, options: BackendOptions):
        self.cloudpath = cloudpath
        self.options = options

    @property
    def capabilities(self) -> Features:
        """The former name of :attr:`features`."""
        return self.features

    # -- required ---------------------------------------------------------
    def get(self, key: str, start: Optional[int] = None, end: Optional[int] = None) -> GetResult:
        """Stored bytes of ``key`` in ``[start, end)``; ``content=None`` if missing."""
        raise NotImplementedError

    def put(
        self,
        key: str,
        content: bytes,
        encoding: Optional[str] = None,
        content_type: Optional[str] = None,
        cache_control: Optional[str] = None,
        storage_class: Optional[str] = None,
        md5: Optional[str] = None,
        crc32c: Optional[str] = None,
    ) -> None:
        """Store ``content`` (already encoded with ``encoding``) at ``key`` atomically.

        ``md5`` (base64) and ``crc32c`` (base64) are sent for the service to verify
        when the backend's features ask for them (``wants_md5``, ``wants_crc32c``).
        """
        raise UnsupportedOperationError(f"{self.cloudpath.protocol}:// does not support writing")

    def stat_meta(self, key: str) -> Optional[ObjectMeta]:
        """Metadata of ``key`` from one HEAD (or stat), or ``None`` if missing.

        Every backend implements this; ``head`` and ``stat`` derive from it. The
        default adapts a backend that only overrides ``head``.
        """
        if type(self).head is Backend.head:
            raise NotImplementedError(f"{type(self).__name__} implements neither stat_meta nor head")
        d = self.head(key)
        if d is None:
            return None
        return ObjectMeta(key=key, size=d.get("Content-Length"), last_modified=d.get("Last-Modified"),
                          etag=d.get("ETag"), md5=d.get("Content-Md5"), crc32c=d.get("Crc32c"),
                          encoding=d.get("Content-Encoding"), content_type=d.get("Content-Type"),
                          cache_control=d.get("Cache-Control"), storage_class=d.get("Storage-Class"),
                          parts_count=d.get("Parts-Count"))

    def head(self, key: str) -> Optional[dict]:
        """Metadata of ``key`` as the reference library's dict, or ``None`` if missing."""
        meta = self.stat_meta(key)
        return None if meta is None else meta.head_dict()

    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error."""
        raise UnsupportedOperationError(f"{self.cloudpath.protocol}:// does not support deleting")

    def list_meta(self, prefix: str = "", flat: bool = False,
                  start_after: Optional[str] = None) -> Iterator["ObjectMeta"]:
        """What the listing tells of each key under ``prefix``, sorted by key.

        ``flat`` stops at the next '/': directories are entries whose key ends
        in '/' with ``size`` None. ``start_after`` keeps only keys strictly
        greater than it (plain string order of the whole key, so in a flat
        listing the directory ``'a/'`` sorts before everything inside it and
        ``start_after='a/b'`` skips it). Every backend's one listing loop: ``list``
        and ``list_sizes`` are built on it.
        """
        raise UnsupportedOperationError(f"{self.cloudpath.protocol}:// does not support listing")

    def list(self, prefix: str = "", flat: bool = False, start_after: Optional[str] = None) -> Iterator[str]:
        """Keys under ``prefix``, sorted; ``flat`` stops at the next '/' (dirs end in '/')."""
        for meta in self.list_meta(prefix, flat, start_after):
            yield meta.key

    # -- optional, with fallbacks -----------------------------------------
    def list_sizes(self, prefix: str = "", flat: bool = False,
                   start_after: Optional[str] = None) -> Iterator[tuple[str, Optional[int]]]:
        """``(key, stored size)`` pairs from the listing; directories (flat) have size ``None``."""
        for meta in self.list_meta(prefix, flat, start_after):
            yield meta.key, meta.size

    def exists(self, key: str) -> bool:
        return self.stat_meta(key) is not None

    def exists_many(self, keys: list[str]) -> dict[str, bool]:
        """Existence of a batch (at most ``features.batch_exists`` keys)."""
        return {k: self.exists(k) for k in keys}

    def size(self, key: str) -> Optional[int]:
        meta = self.stat_meta(key)
        return None if meta is None else meta.size

    def delete_many(self, keys: list[str]) -> None:
        """Delete a batch (at most ``features.batch_delete`` keys)."""
        for k in keys:
            self.delete(k)

    def copy_within(self, src_key: str, dest: "Backend", dest_key: str) -> bool:
        """Server-side copy to ``dest``; return False when not possible here."""
        return False

    def same_service(self, other: "Backend") -> bool:
        """True when a server-side copy between ``self`` and ``other`` can work."""
        return (
            type(self) is type(other)
            and self.cloudpath.host == other.cloudpath.host
            and self.options.secrets == other.options.secrets
        )

    # -- large objects (see cloudfiles/streaming.py) -------------------------
    def stat(self, key: str) -> Optional["ObjectStat"]:
        """Size, encoding and whole-object checksums of ``key`` (None if missing),
        used before a parallel ranged download; derived from :meth:`stat_meta`."""
        return self.stat_meta(key)

    def multipart_begin(self, key: str, encoding: Optional[str] = None, content_type: Optional[str] = None,
                        cache_control: Optional[str] = None, storage_class: Optional[str] = None,
                        part_size: Optional[int] = None) -> Any:
        """Start a multipart upload; returns an opaque upload handle.

        ``part_size`` is the size of every part but the last, when the caller knows it
        (S3 records it so downloads can verify the multipart ETag exactly).

        The default buffers parts in memory and writes them with one ``put``
        at completion, so every backend supports the API; services with a
        native multipart protocol override all four methods.
        """
        return _BufferedUpload(key, dict(encoding=encoding, content_type=content_type,
                                         cache_control=cache_control, storage_class=storage_class))

    def multipart_put_part(self, upload: Any, part_number: int, data: bytes, offset: int,
                           md5: Optional[str] = None, crc32c: Optional[str] = None) -> "PartInfo":
        """Upload part ``part_number`` (1-based), which starts at byte ``offset`` of the
        object; parts may arrive in any order and concurrently."""
        upload.parts[part_number] = bytes(data)
        return PartInfo(part_number, len(data))

    def multipart_complete(self, upload: Any, parts: list["PartInfo"]) -> None:
        """Assemble ``parts`` (sorted by number) into the final object, atomically."""
        data = b"".join(upload.parts[p.part_number] for p in parts)
        self.put(upload.key, data, **upload.meta)

    def multipart_abort(self, upload: Any) -> None:
        """Discard an unfinished upload and every part sent so far."""
        if isinstance(upload, _BufferedUpload):
            upload.parts.clear()

    def close(self) -> None:
        """Release resources; pools shared between instances stay open."""


class _BufferedMultipart:
    """The base class's buffered multipart upload, bound to one backend: what a
    caller uses when ``features.multipart`` is off (parts held in memory, one
    ``put`` at completion)."""

    __slots__ = ("backend",)

    def __init__(self, backend: Backend):
        self.backend = backend

    def multipart_begin(self, key: str, **meta: Any) -> Any:
        return Backend.multipart_begin(self.backend, key, **meta)

    def multipart_put_part(self, upload: Any, part_number: int, data: bytes, offset: int,
                           md5: Optional[str] = None, crc32c: Optional[str] = None) -> "PartInfo":
        return Backend.multipart_put_part(self.backend, upload, part_number, data, offset)

    def multipart_complete(self, upload: Any, parts: list["PartInfo"]) -> None:
        Backend.multipart_complete(self.backend, upload, parts)

    def multipart_abort(self, upload: Any) -> None:
        Backend.multipart_abort(self.backend, upload)


def multipart_uploader(backend: Backend) -> Any:
    """What carries ``multipart_begin/put_part/complete/abort`` for ``backend``:
    the backend itself when it declares native ``multipart``, else the buffered fallback."""
    return backend if backend.features.multipart else _BufferedMultipart(backend)


# What a parallel download needs to know before it starts is the object's ObjectMeta
# (size, encoding, ``checksums``, and the identity a resumed read is pinned to); the
# name stays for the code and backends that spell it so.
ObjectStat = ObjectMeta


@dataclass
class PartInfo:
    """One uploaded part: its number, size and whatever the service returned for it."""

    part_number: int
    size: int
    etag: Optional[str] = None
    extra: dict = field(default_factory=dict)


class _BufferedUpload:
    __slots__ = ("key", "meta", "parts")

    def __init__(self, key: str, meta: dict):
        self.key = key
        self.meta = meta
        self.parts: dict[int, bytes] = {}


def check_range(start: Optional[int], end: Optional[int]) -> None:
    """Validate a ``[start, end)`` byte range; negative ``start`` alone means a suffix."""
    if start is None and end is None:
        return
    from ..exceptions import BadRangeError

    for name, v in (("start", start), ("end", end)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise BadRangeError(f"byte range {name} must be an int or None, got {v!r}")
        if v is not None and abs(v) >= 2**63:
            raise BadRangeError(f"byte range {name} {v} is beyond any object size (2**63)")
    if end is not None and end < 0:
        raise BadRangeError(f"byte range end must not be negative, got {end}")
    if start is not None and start < 0 and end is not None:
        raise BadRangeError(f"a negative start ({start}) means 'last N bytes' and takes no end")
    if start is not None and end is not None and end < start:
        raise BadRangeError(f"byte range end ({end}) is before start ({start})")


def iter_batches(keys: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for k in keys:
        batch.append(k)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def iso_time(value: Optional[str]) -> "Optional[_dt.datetime]":
    """An RFC 3339 timestamp from S3 or GCS (``2024-01-02T03:04:05.000Z``) as an aware
    datetime; None when absent or malformed (a server's odd date must not fail a listing)."""
    if not value:
        return None
    import datetime  # not at import time: ``import cloudfiles`` stays light

    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
