"""Checksums and what can be verified when.

md5 for whole objects (S3 single-part ETag, GCS md5Hash, Content-MD5 on upload),
crc32c for GCS (and composite objects, which have no md5), and the S3
multipart ETag rule (md5 of the concatenated part md5s, suffixed ``-N``).
Ranged reads cannot be verified against whole-object checksums.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Optional

from .exceptions import CRC32CIntegrityError, IntegrityError, MD5IntegrityError

MiB = 1024 * 1024


def md5_digest(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def crc32c_value(data: bytes, value: int = 0) -> int:
    """crc32c of ``data`` continuing from ``value`` (0 to start)."""
    import crc32c

    return crc32c.crc32c(data, value)


def crc32c_base64(data: bytes) -> str:
    """crc32c as GCS and S3 express it: base64 of the big-endian 4 bytes."""
    return base64.b64encode(crc32c_value(data).to_bytes(4, "big")).decode("ascii")


def b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


@dataclass
class Checksums:
    """What a server told us about an object it returned.

    ``md5`` is hex; ``crc32c`` is the base64 big-endian form; ``etag`` is the raw
    ETag (quotes stripped); ``size`` is the stored length if known.
    """

    md5: Optional[str] = None
    crc32c: Optional[str] = None
    etag: Optional[str] = None
    size: Optional[int] = None
    multipart_part_size: Optional[int] = None

    def any(self) -> bool:
        return bool(self.md5 or self.crc32c or self.etag or self.size is not None)


def verify(data: bytes, sums: Checksums, path: str = "") -> None:
    """Raise an :class:`IntegrityError` if ``data`` disagrees with ``sums``.

    Checks, in order of cost: size, crc32c, md5, ETag (single or multipart, as
    :func:`cloudfiles.backends.wire.etag.etag_kind` tells them apart). ETags that say
    nothing about the bytes are skipped, never guessed; backends leave out those
    the service marked as not an md5 (SSE-KMS, SSE-C).
    """
    where = f" for {path!r}" if path else ""
    if sums.size is not None and sums.size != len(data):
        raise IntegrityError(f"size mismatch{where}: expected {sums.size} bytes, got {len(data)}")
    if sums.crc32c:
        got = crc32c_base64(data)
        if got != sums.crc32c:
            raise CRC32CIntegrityError(f"crc32c mismatch{where}: expected {sums.crc32c}, got {got}")
    if sums.md5:
        got = md5_hex(data)
        if got != sums.md5.lower():
            raise MD5IntegrityError(f"md5 mismatch{where}: expected {sums.md5}, got {got}")
        return
    etag = (sums.etag or "").strip('"')
    if not etag:
        return
    from .backends.wire.etag import etag_kind, multipart_match  # the ETag rule, written once

    kind = etag_kind(etag)
    if kind.is_multipart:
        if multipart_match(data, etag, sums.multipart_part_size) is False:
            raise MD5IntegrityError(f"multipart ETag mismatch{where}: {etag} matches no plausible part size")
        return
    if kind.is_md5:
        got = md5_hex(data)
        if got != etag.lower():
            raise MD5IntegrityError(f"ETag (md5) mismatch{where}: expected {etag}, got {got}")


def multipart_etag(data: bytes, part_size: int) -> str:
    """The ETag S3 gives an object uploaded in parts of ``part_size``."""
    from .backends.wire.etag import multipart_etag

    return multipart_etag(data, part_size)
