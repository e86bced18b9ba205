"""The backend interface every storage service implements.

A backend knows one service and nothing else: no compression, no retries,
no threading, no result shaping (the facade does those). Keys passed to a
backend are relative to the CloudPath it was built for. Required operations
are ``get``, ``put``, ``head``, ``delete`` and ``list``; the rest have
defaults built on those, which backends override when the service offers a
cheaper native form (batch delete, server-side copy, sized listings).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Iterator, Optional

from ..exceptions import UnsupportedOperationError
from ..integrity import Checksums
from ..paths import CloudPath

if TYPE_CHECKING:
    import datetime as _dt


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do natively; the facade falls back where it cannot."""

    writable: bool = True
    listable: bool = True
    server_side_copy: bool = False
    batch_delete: int = 1
    batch_exists: int = 1
    wants_md5: bool = False
    wants_crc32c: bool = False
    local: bool = False  # CPU-bound, in-process: few threads are best
    min_part_size: int = 0  # smallest part a multipart upload accepts (all but the last)
    acl: bool = False  # get_acl(key) reads the object's access control (None if missing)
    python_objects: bool = False  # put/get keep non-bytes content as the Python object itself
    pinned_reads: bool = False  # ranged reads take ``pin=`` (an ObjectStat) and fail with
    #                             ObjectChangedError when the object is no longer that version


@dataclass
class BackendOptions:
    """Settings the facade passes to every backend it builds."""

    secrets: Any = None
    num_threads: int = 20
    request_payer: Optional[str] = None
    no_sign_request: bool = False
    timeout: float = 60.0
    composite_upload_threshold: Optional[int] = None
    fsync: bool = False  # file://: fsync each written file and its directory before returning
    extra: dict = field(default_factory=dict)


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
    """Base class: subclasses set ``capabilities`` and implement the required methods."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, cloudpath: CloudPath, options: BackendOptions):
        self.cloudpath = cloudpath
        self.options = options

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
        when the backend's capabilities ask for them.
        """
        raise UnsupportedOperationError(f"{self.cloudpath.protocol}:// does not support writing")

    def head(self, key: str) -> Optional[dict]:
        """Metadata of ``key`` (see :func:`head_dict`), or ``None`` if missing."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error."""
        raise UnsupportedOperationError(f"{self.cloudpath.protocol}:// does not support deleting")

    def list(self, prefix: str = "", flat: bool = False) -> Iterator[str]:
        """Keys under ``prefix``, sorted; ``flat`` stops at the next '/' (dirs end in '/')."""
        raise UnsupportedOperationError(f"{self.cloudpath.protocol}:// does not support listing")

    # -- optional, with fallbacks -----------------------------------------
    def list_sizes(self, prefix: str = "", flat: bool = False) -> Iterator[tuple[str, Optional[int]]]:
        """``(key, stored size)`` pairs; directories (flat) have size ``None``."""
        for key in self.list(prefix, flat):
            yield key, (None if key.endswith("/") else self.size(key))

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def exists_many(self, keys: list[str]) -> dict[str, bool]:
        """Existence of a batch (at most ``capabilities.batch_exists`` keys)."""
        return {k: self.exists(k) for k in keys}

    def size(self, key: str) -> Optional[int]:
        meta = self.head(key)
        return None if meta is None else meta["Content-Length"]

    def delete_many(self, keys: list[str]) -> None:
        """Delete a batch (at most ``capabilities.batch_delete`` keys)."""
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
        """Size, encoding and whole-object checksums of ``key`` (None if missing).

        Used before a parallel ranged download; backends whose ``head`` knows
        more checksums (crc32c, multipart part size) override this.
        """
        meta = self.head(key)
        if meta is None:
            return None
        md5 = meta.get("Content-Md5")
        if md5 and len(md5) != 32:  # base64 form
            import base64

            md5 = base64.b64decode(md5).hex()
        gen = meta.get("Generation")
        return ObjectStat(
            size=meta["Content-Length"],
            encoding=meta.get("Content-Encoding"),
            checksums=Checksums(md5=md5, etag=meta.get("ETag"), crc32c=meta.get("Crc32c"),
                                size=meta["Content-Length"]),
            etag=meta.get("ETag"), version=None if gen is None else str(gen),
            last_modified=meta.get("Last-Modified"),
        )

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


@dataclass
class ObjectStat:
    """What a parallel download needs to know before it starts."""

    size: int
    encoding: Optional[str] = None
    checksums: Optional[Checksums] = None
    # The object's identity, as cloudfiles.meta.ObjectMeta names it: which version of the
    # object these bytes are (a resumed download continues only the same one).
    etag: Optional[str] = None  # the service's ETag, md5 or not
    version: Optional[str] = None  # GCS generation / S3 VersionId
    last_modified: Optional["_dt.datetime"] = None


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
