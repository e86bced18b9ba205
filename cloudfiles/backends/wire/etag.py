"""What an ETag says about the stored bytes, as data.

An S3 ETag is the md5 of the object's bytes, unless the object is encrypted
with a key the service holds (SSE-KMS, DSSE-KMS) or the client gave (SSE-C);
an object uploaded in parts has ``md5(concatenated part md5s)-N``. Anything
else (GCS's base64 ETags, web servers' ``"size-mtime"``) says nothing about
the bytes. :func:`etag_kind` is that rule; every caller asks it instead of
looking at the ETag's shape or the encryption headers itself.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Optional

MiB = 1024 * 1024
_HEX = frozenset("0123456789abcdefABCDEF")
#: headers whose presence means the ETag is not an md5 of the bytes
_KEY_HEADERS = ("x-amz-server-side-encryption-aws-kms-key-id",
                "x-amz-server-side-encryption-customer-algorithm")
#: part sizes common clients upload with (MiB), tried after any recorded hint
COMMON_PART_SIZES_MIB = (8, 5, 16, 15, 32, 64, 100, 128)


@dataclass(frozen=True)
class EtagKind:
    """``kind`` is ``"md5"``, ``"multipart"`` (with ``parts`` > 0) or ``"opaque"``."""

    kind: str
    parts: int = 0

    @property
    def is_md5(self) -> bool:
        """The ETag is the md5 of the stored bytes."""
        return self.kind == "md5"

    @property
    def is_multipart(self) -> bool:
        """The ETag is ``md5(part md5s)-parts``."""
        return self.kind == "multipart"

    @property
    def verifiable(self) -> bool:
        """Stored bytes can be checked against the ETag (md5 or multipart)."""
        return self.kind != "opaque"


MD5 = EtagKind("md5")
OPAQUE = EtagKind("opaque")


def is_md5_hex(value: Optional[str]) -> bool:
    """``value`` has the shape of a hex md5 (32 hex digits)."""
    return value is not None and len(value) == 32 and _HEX.issuperset(value)


def encrypted(headers: Any) -> bool:
    """The response headers say S3 encrypted the object with a KMS or customer key."""
    if not headers:
        return False
    sse = headers.get("x-amz-server-side-encryption")
    if sse and sse.strip().lower().startswith("aws:kms"):
        return True
    return any(headers.get(h) for h in _KEY_HEADERS)


def etag_kind(etag: Optional[str], headers: Any = None) -> EtagKind:
    """What ``etag`` (quoted or not) is, given the response ``headers`` it came with
    (any mapping with lower-case ``get``; None when the ETag came without headers,
    e.g. from a listing or a stored record)."""
    e = (etag or "").strip().strip('"')
    if not e or encrypted(headers):
        return OPAQUE
    if len(e) == 32:
        return MD5 if _HEX.issuperset(e) else OPAQUE
    head, dash, count = e.partition("-")
    if dash and len(head) == 32 and _HEX.issuperset(head) and count.isascii() and count.isdigit() \
            and 0 < len(count) <= 6 and int(count) > 0:
        return EtagKind("multipart", int(count))
    return OPAQUE


def s3_answered(headers: Any) -> bool:
    """The response came from S3 (or moto): only then is an ETag's shape a promise."""
    return bool(headers) and ("x-amz-request-id" in headers or "x-amzn-requestid" in headers)


# -- the multipart formula -------------------------------------------------------
def multipart_etag_of(digests: Iterable[bytes]) -> str:
    """S3's ETag of an object whose parts have these md5 ``digests`` (raw bytes)."""
    digests = list(digests)
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def multipart_etag(data: bytes, part_size: int) -> str:
    """The ETag S3 gives ``data`` uploaded in parts of ``part_size`` bytes."""
    view = memoryview(data)
    return multipart_etag_of(hashlib.md5(view[i:i + part_size]).digest()
                             for i in range(0, len(data), part_size))


def candidate_part_sizes(size: int, parts: int, hint: Optional[int] = None) -> list[int]:
    """Part sizes that cut ``size`` bytes into exactly ``parts`` parts, most likely first:
    ``hint`` (a size the uploader recorded), the common client sizes, then
    ``size / parts`` rounded up (to a byte and to a MiB) and one MiB more."""
    cands = [hint] if hint else []
    cands += [m * MiB for m in COMMON_PART_SIZES_MIB]
    if parts > 1:
        lower = -(-size // parts)
        mib = -(-lower // MiB) * MiB
        cands += [lower, mib, mib + MiB]
    out: list[int] = []
    for c in cands:
        if c and c > 0 and c not in out and -(-size // c) == parts:
            out.append(c)
    return out


def multipart_match(data: bytes, etag: str, hint: Optional[int] = None) -> Optional[bool]:
    """Whether ``data`` has the multipart ``etag`` for a plausible part size: True or
    False, or None when the ETag is not a multipart one or no part size fits."""
    kind = etag_kind(etag)
    if not kind.is_multipart:
        return None
    want = etag.strip().strip('"').lower()
    cands = candidate_part_sizes(len(data), kind.parts, hint)
    for ps in cands:
        if multipart_etag(data, ps) == want:
            return True
    return False if cands else None
