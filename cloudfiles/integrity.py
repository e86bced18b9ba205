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


def _multipart_etag(data: bytes, part_size: int) -> str:
    digests = b"".join(
        hashlib.md5(data[i : i + part_size]).digest() for i in range(0, len(data), part_size)
    )
    count = max(1, -(-len(data) // part_size))
    return f"{hashlib.md5(digests).hexdigest()}-{count}"


def _candidate_part_sizes(size: int, parts: int, hint: Optional[int]) -> list[int]:
    cands = [hint] if hint else []
    cands += [8 * MiB, 5 * MiB, 16 * MiB, 15 * MiB, 32 * MiB, 64 * MiB, 100 * MiB, 128 * MiB]
    if parts > 1:
        lower = -(-size // parts)
        mib = -(-lower // MiB) * MiB
        cands += [lower, mib, mib + MiB]
    out = []
    for c in cands:
        if c and c not in out and -(-size // c) == parts:
            out.append(c)
    return out


def verify(data: bytes, sums: Checksums, path: str = "") -> None:
    """Raise an :class:`IntegrityError` if ``data`` disagrees with ``sums``.

    Checks, in order of cost: size, crc32c, md5, ETag (single or multipart).
    Unknown ETag shapes (e.g. SSE-KMS) are skipped, never guessed.
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
    if "-" in etag:
        head, _, count = etag.partition("-")
        if len(head) != 32 or not count.isdigit():
            return
        parts = int(count)
        cands = _candidate_part_sizes(len(data), parts, sums.multipart_part_size)
        for ps in cands:
            if _multipart_etag(data, ps) == etag:
                return
        if cands:
            raise MD5IntegrityError(f"multipart ETag mismatch{where}: {etag} matches no plausible part size")
        return
    if len(etag) == 32 and all(c in "0123456789abcdefABCDEF" for c in etag):
        got = md5_hex(data)
        if got != etag.lower():
            raise MD5IntegrityError(f"ETag (md5) mismatch{where}: expected {etag}, got {got}")


def multipart_etag(data: bytes, part_size: int) -> str:
    """The ETag S3 gives an object uploaded in parts of ``part_size``."""
    return _multipart_etag(data, part_size)
