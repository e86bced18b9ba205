"""Object metadata from a service's answer, parsed once per backend.

S3 and plain HTTP describe an object in response headers (a HEAD, or a GET's
headers), GCS in an object resource (JSON). Each is turned into a
:class:`~cloudfiles.meta.ObjectMeta` here; ``head()``'s dict and ``stat()`` are
derived from that. Checksums for a whole-object GET come from the same rules
(:func:`get_checksums`): hashes only when the bytes were served as stored (not
transcoded), an ETag only when :func:`.etag.etag_kind` says it can be checked.
"""
from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, Optional

from ...compression import normalize_content_encoding
from ...integrity import Checksums
from ...meta import ObjectMeta
from ..base import iso_time
from .etag import OPAQUE, etag_kind, s3_answered

if TYPE_CHECKING:
    import datetime as _dt

#: object metadata (a header) in which our S3 multipart uploads record their part size
PART_SIZE_META = "x-amz-meta-cloudfiles-part-size"


def http_date(value: Optional[str]) -> "Optional[_dt.datetime]":
    """An RFC 9110 date header as a datetime; None when absent or malformed."""
    if not value:
        return None
    import email.utils

    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def _int(value: Any) -> Optional[int]:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _hex_of_b64(value: str) -> Optional[str]:
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


def served_as_stored(headers: Any) -> bool:
    """False when GCS says it transcoded the object (stored and served codings
    differ): hashes it reports then describe other bytes."""
    stored = headers.get("x-goog-stored-content-encoding")
    if stored is None:
        return True
    return _coding(stored) == _coding(headers.get("content-encoding"))


def _coding(value: Optional[str]) -> str:
    value = (value or "").strip().lower()
    return value or "identity"


def hashes(headers: Any) -> tuple[Optional[str], Optional[str]]:
    """``(md5 hex, crc32c base64)`` from ``x-goog-hash`` (then ``Content-MD5``)."""
    md5 = crc = None
    goog = headers.get("x-goog-hash")
    if goog:
        for item in goog.split(","):
            name, _, value = item.strip().partition("=")
            if name == "md5" and value:
                md5 = _hex_of_b64(value)
            elif name == "crc32c" and value:
                crc = value
    if md5 is None:
        content_md5 = headers.get("content-md5")
        if content_md5:
            md5 = _hex_of_b64(content_md5)
    return md5, crc


def part_size_hint(headers: Any) -> Optional[int]:
    """The part size our multipart uploads recorded, if any."""
    hint = headers.get(PART_SIZE_META)
    return int(hint) if hint and hint.isascii() and hint.isdigit() else None


def get_checksums(headers: Any, service: str) -> Optional[Checksums]:
    """What a whole-object GET's headers say about the stored object, where it can be
    trusted (``service``: ``"s3"``, ``"gcs"`` or ``"http"``)."""
    if service == "s3":
        etag = headers.get("etag")
        return Checksums(etag=etag.strip('"') if etag and etag_kind(etag, headers).verifiable else None,
                         size=_int(headers.get("content-length")), multipart_part_size=part_size_hint(headers))
    sums = Checksums()
    as_stored = served_as_stored(headers)
    if service == "gcs":
        if not as_stored:  # transcoded: nothing here describes the bytes that came
            return None
        sums.size = _int(headers.get("x-goog-stored-content-length"))
    elif "transfer-encoding" not in headers:
        sums.size = _int(headers.get("content-length"))
    if as_stored:
        sums.md5, sums.crc32c = hashes(headers)
    if service == "http" and s3_answered(headers):
        etag = headers.get("etag")
        if etag_kind(etag, headers).verifiable:
            sums.etag = etag.strip().strip('"')
            sums.multipart_part_size = part_size_hint(headers)
    return sums if sums.any() else None


def s3_meta(key: str, h: Any) -> ObjectMeta:
    """An S3 HEAD's headers as ObjectMeta."""
    etag = h.get("etag")
    return ObjectMeta(
        key=key,
        size=_int(h.get("content-length", 0)),
        last_modified=http_date(h.get("last-modified")),
        etag=etag,
        encoding=normalize_content_encoding(h.get("content-encoding")),
        content_type=h.get("content-type"),
        cache_control=h.get("cache-control"),
        storage_class=h.get("x-amz-storage-class"),
        parts_count=_int(h.get("x-amz-mp-parts-count")) if h.get("x-amz-mp-parts-count") else None,
        multipart_part_size=part_size_hint(h),
        version=h.get("x-amz-version-id"),
        etag_kind=etag_kind(etag, h),
        extra={"head": {"Content-Disposition": h.get("content-disposition"),
                        "Content-Language": h.get("content-language"),
                        "Request-Charged": h.get("x-amz-request-charged")}},
    )


def http_meta(key: str, h: Any, size: Optional[int]) -> ObjectMeta:
    """A web server's HEAD (or first-byte GET) headers as ObjectMeta; ``size`` is the
    object's length as the caller worked it out (Content-Length or Content-Range)."""
    md5, crc = hashes(h) if served_as_stored(h) else (None, None)
    etag = h.get("etag")
    head: dict = {"ETag": etag, "Crc32c": crc}  # the reference keeps the quotes
    raw_md5 = h.get("content-md5")
    if raw_md5:
        head["Content-Md5"] = raw_md5
    return ObjectMeta(
        key=key, size=size, last_modified=http_date(h.get("last-modified")), etag=etag, md5=md5, crc32c=crc,
        encoding=h.get("content-encoding"), content_type=h.get("content-type"),
        cache_control=h.get("cache-control"),
        etag_kind=etag_kind(etag, h) if s3_answered(h) else OPAQUE,
        multipart_part_size=part_size_hint(h) if s3_answered(h) else None,
        extra={"head": head},
    )


def gcs_meta(key: str, resource: dict) -> ObjectMeta:
    """A GCS object resource (objects.get JSON) as ObjectMeta."""
    generation = resource.get("generation")
    md5 = resource.get("md5Hash")
    head: dict = {"Crc32c": resource.get("crc32c"), "Generation": generation}
    if md5:
        head["Content-Md5"] = md5  # as GCS gave it (base64)
    return ObjectMeta(
        key=key,
        size=_int(resource.get("size")),
        last_modified=iso_time(resource.get("updated")),
        etag=resource.get("etag"),
        md5=md5,
        crc32c=resource.get("crc32c"),
        encoding=resource.get("contentEncoding"),
        content_type=resource.get("contentType"),
        cache_control=resource.get("cacheControl"),
        storage_class=resource.get("storageClass"),
        parts_count=_int(resource.get("componentCount")),
        version=None if generation is None else str(generation),
        etag_kind=OPAQUE,
        extra={"head": head},
    )
