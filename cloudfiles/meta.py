"""``ObjectMeta``: the one description of a stored object.

Backends fill it from their service's answer (a HEAD, a listing entry, a
stat of a file); everything above them (verification, transfers, sync,
listings with detail, the reference's ``head()`` dict) reads it. Checksum
fields are normalised where they enter: ``md5`` is lower-case hex, ``crc32c``
is the base64 big-endian form GCS and S3 use, ``etag`` has its quotes stripped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import datetime as _dt

    from .backends.wire.etag import EtagKind
    from .integrity import Checksums


@dataclass
class ObjectMeta:
    """What is known about one object; ``None`` means 'not told', never 'empty'."""

    key: str
    size: Optional[int] = None  # stored (possibly compressed) length in bytes
    last_modified: Optional["_dt.datetime"] = None
    etag: Optional[str] = None
    md5: Optional[str] = None
    crc32c: Optional[str] = None
    encoding: Optional[str] = None  # Content-Encoding as stored
    content_type: Optional[str] = None
    cache_control: Optional[str] = None
    storage_class: Optional[str] = None
    parts_count: Optional[int] = None
    multipart_part_size: Optional[int] = None
    version: Optional[str] = None  # GCS generation / S3 VersionId: pins a resumable read
    extra: dict = field(default_factory=dict)
    #: what ``etag`` says about the bytes (see cloudfiles.backends.wire.etag); None: judge by its shape
    etag_kind: Optional["EtagKind"] = None

    def __post_init__(self) -> None:
        if self.etag:
            self.etag = self.etag.strip('"')
        if self.md5:
            if len(self.md5) != 32:  # base64 form as GCS and Content-MD5 carry it
                import base64
                import binascii

                try:
                    self.md5 = base64.b64decode(self.md5, validate=True).hex()
                except (binascii.Error, ValueError):
                    self.md5 = None
            if self.md5:
                self.md5 = self.md5.lower()

    @property
    def checksums(self) -> "Checksums":
        """The integrity view used by :func:`cloudfiles.integrity.verify` (an ETag that
        cannot be checked, e.g. under SSE-KMS, is left out)."""
        from .integrity import Checksums

        return Checksums(md5=self.md5, crc32c=self.crc32c, etag=self.etag if self.etag_says().verifiable else None,
                         size=self.size, multipart_part_size=self.multipart_part_size)

    def etag_says(self) -> "EtagKind":
        """What the ETag says about the stored bytes: ``etag_kind`` as the backend
        judged it from the service's answer, else judged by the ETag's shape."""
        from .backends.wire.etag import OPAQUE, etag_kind

        kind = self.etag_kind or etag_kind(self.etag)
        return OPAQUE if kind.is_md5 and not self.extra.get("etag_is_md5", True) else kind

    def content_md5(self) -> Optional[str]:
        """Hex md5 of the stored bytes if known: ``md5``, or an ETag that is one.

        Whether the service's ETag is an md5 at all (not under SSE-KMS/SSE-C) is the
        backend's call, recorded in ``etag_kind`` (or ``extra['etag_is_md5']``).
        """
        if self.md5:
            return self.md5
        return self.etag.lower() if self.etag and self.etag_says().is_md5 else None

    def head_dict(self) -> dict:
        """The reference library's ``head()`` dict for this object."""
        import base64

        md5_b64 = base64.b64encode(bytes.fromhex(self.md5)).decode() if self.md5 else None
        out = {
            "Cache-Control": self.cache_control,
            "Content-Length": self.size,
            "Content-Type": self.content_type,
            "ETag": self.etag,
            "Last-Modified": self.last_modified,
            "Content-Md5": md5_b64,
            "Content-Encoding": self.encoding,
            "Content-Disposition": None,
            "Content-Language": None,
            "Storage-Class": self.storage_class,
            "Request-Charged": None,
            "Parts-Count": self.parts_count,
        }
        out.update(self.extra.get("head", {}))
        return out
