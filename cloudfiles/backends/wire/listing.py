"""Listing pages as the services send them, parsed once: S3 ListObjectsV2 XML and
GCS ``objects.list`` JSON, for ``backends/s3.py``, ``backends/gcs.py`` and the
S3/GCS listings of ``backends/http.py``.

A page is untrusted input: a malformed entry (a key that is not text, a size
that is not a non-negative integer, a token that is not a string) is a
:class:`~cloudfiles.exceptions.ListingError`; a body that does not parse at
all raises the caller's ``unreadable`` error class (a service's garbled page
is worth a retry, a web page that is no listing is not). Ordering, progress
and prefix checks are the loop's job (:class:`cloudfiles.listings.PageGuard`).

What a listing entry says, per service (nothing is fetched per object):

* S3: ``Size``, ``ETag``, ``LastModified``, ``StorageClass``. The ETag rule is
  :func:`.etag.etag_kind` (``etag_kind`` on the entry; :func:`s3_etag_extra`
  adds what a listing cannot know): an ETag ending in ``-N`` is a multipart ETag
  (``parts_count`` N, ``etag_is_md5`` False); a plain 32-hex ETag is taken for
  the md5 of the bytes (``etag_is_md5`` True) *unconfirmed*, because a listing
  does not say whether the object is SSE-KMS or SSE-C encrypted (whose ETags
  are not md5s): ``extra['etag_md5_unconfirmed']`` is True. Callers may use an
  unconfirmed md5 to decide that two objects are the same (a match between
  md5s of different bytes does not happen by chance), never to declare an
  object corrupt: a mismatch needs a HEAD (which does say the encryption).
* GCS (each item an object resource, read by :func:`.headers.gcs_meta` as
  objects.get answers are, after its fields' types are checked): ``size``,
  ``md5Hash`` (absent on composite objects), ``crc32c``,
  ``generation`` (as ``version``), ``updated``, ``contentEncoding``,
  ``contentType``, ``cacheControl``, ``storageClass``, ``etag`` (never an md5),
  ``componentCount`` and ``timeCreated`` (``extra['time_created']``).

Directories (common prefixes of a delimited listing) are entries whose key
ends in '/' and whose ``size`` is None.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional
from urllib.parse import unquote

from ...exceptions import ListingError, ServerError
from ...meta import ObjectMeta
from ..base import iso_time
from .etag import etag_kind
from .headers import gcs_meta

if TYPE_CHECKING:
    from .etag import EtagKind
    from .keyroot import KeyRoot

#: the ``fields`` selector a GCS listing asks for: everything an entry can tell
GCS_FIELDS = ("items(name,size,md5Hash,crc32c,generation,updated,timeCreated,contentEncoding,"
              "contentType,cacheControl,storageClass,etag,componentCount),prefixes,nextPageToken")



@dataclass
class Page:
    """One listing page: ``names``/``prefixes`` as the server sent them (for the
    loop's guard), ``entries`` with keys relative to the listing's :class:`KeyRoot`, sorted
    by key, and the token of the next page (None on the last)."""

    names: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    entries: list[ObjectMeta] = field(default_factory=list)
    token: Optional[str] = None


def s3_etag_extra(etag: str) -> tuple[dict, Optional[int], "EtagKind"]:
    """``(extra, parts_count, kind)`` for an S3 ETag seen in a listing (quotes stripped):
    :func:`.etag.etag_kind` without headers, as a listing has none; see the module
    docstring for what ``etag_md5_unconfirmed`` means."""
    kind = etag_kind(etag)
    if kind.is_md5:
        return {"etag_is_md5": True, "etag_md5_unconfirmed": True}, None, kind
    return {"etag_is_md5": False}, (kind.parts if kind.is_multipart else None), kind


def _size(raw: Optional[str], name: str, what: str) -> Optional[int]:
    if raw is None:
        return None
    text = raw.strip() if isinstance(raw, str) else raw
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise ListingError(f"{what}: malformed size {str(raw)[:40]!r} for {name[:200]!r}") from None
    if value < 0:
        raise ListingError(f"{what}: negative size {value} for {name[:200]!r}")
    return value


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_s3_page(data: bytes, what: str, key_root: Optional[KeyRoot] = None,
                  unreadable: type[Exception] = ServerError) -> Page:
    """One ListObjectsV2 page (``encoding-type=url`` keys are decoded)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise unreadable(f"{what}: unreadable listing: {err}") from err
    if _local(root.tag) != "ListBucketResult":
        raise unreadable(f"{what}: not an S3 listing (root element {_local(root.tag)[:80]!r})")
    encoded = False
    truncated = False
    token: Optional[str] = None
    contents: list = []
    dirs: list = []
    for el in root:
        tag = _local(el.tag)
        if tag == "Contents":
            contents.append(el)
        elif tag == "CommonPrefixes":
            dirs.append(el)
        elif tag == "IsTruncated":
            truncated = (el.text or "").strip().lower() == "true"
        elif tag == "NextContinuationToken":
            token = (el.text or "").strip()
        elif tag == "EncodingType":
            encoded = (el.text or "").strip().lower() == "url"
    page = Page()
    for el in contents:
        fields = {_local(c.tag): (c.text or "") for c in el}
        name = fields.get("Key", "")
        if encoded:
            name = unquote(name)
        page.names.append(name)
        etag = fields.get("ETag", "").strip().strip('"') or None
        extra, parts, kind = s3_etag_extra(etag) if etag else ({}, None, None)
        page.entries.append(ObjectMeta(
            key=key_root.relative(name) if key_root else name, size=_size(fields.get("Size"), name, what),
            last_modified=iso_time(fields.get("LastModified")), etag=etag,
            storage_class=fields.get("StorageClass") or None, parts_count=parts, extra=extra,
            etag_kind=kind))
    for el in dirs:
        prefix = ""
        for c in el:
            if _local(c.tag) == "Prefix":
                prefix = c.text or ""
        if encoded:
            prefix = unquote(prefix)
        page.prefixes.append(prefix)
        page.entries.append(ObjectMeta(key=key_root.relative(prefix) if key_root else prefix))
    page.entries.sort(key=_key)
    page.token = token if truncated and token else None
    return page


def _key(meta: ObjectMeta) -> str:
    return meta.key


def _text(item: dict, name: str, what: str) -> Optional[str]:
    value = item.get(name)
    if value is None or isinstance(value, str):
        return value or None
    raise ListingError(f"{what}: malformed {name} in listing entry {str(item)[:200]}")


def parse_gcs_page(data: bytes, what: str, key_root: Optional[KeyRoot] = None,
                   unreadable: type[Exception] = ServerError) -> Page:
    """One ``objects.list`` page."""
    try:
        doc = json.loads(data)
    except ValueError as err:
        raise unreadable(f"{what}: unreadable listing: {err}") from err
    if not isinstance(doc, dict):
        raise ListingError(f"{what}: the listing is not a JSON object")
    items, prefixes, token = doc.get("items") or [], doc.get("prefixes") or [], doc.get("nextPageToken")
    if not isinstance(items, list) or not isinstance(prefixes, list) \
            or not all(isinstance(p, str) for p in prefixes) or not (token is None or isinstance(token, str)):
        raise ListingError(f"{what}: malformed listing page")
    page = Page(prefixes=list(prefixes), token=token or None)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ListingError(f"{what}: malformed listing entry {str(item)[:200]}")
        name = item["name"]
        page.names.append(name)
        for text in ("updated", "timeCreated", "etag", "md5Hash", "crc32c", "contentEncoding",
                     "contentType", "cacheControl", "storageClass"):
            _text(item, text, what)
        _size(item.get("size"), name, what)
        if item.get("componentCount") is not None:
            _size(item["componentCount"], name, what)
        meta = gcs_meta(key_root.relative(name) if key_root else name, item)  # the object-resource rule, shared with objects.get
        meta.extra["etag_is_md5"] = False
        created = iso_time(item.get("timeCreated"))
        if created is not None:
            meta.extra["time_created"] = created
        page.entries.append(meta)
    page.entries.extend(ObjectMeta(key=key_root.relative(p) if key_root else p) for p in prefixes)
    page.entries.sort(key=_key)
    return page


def after(entries: list[ObjectMeta], start_after: Optional[str]) -> list[ObjectMeta]:
    """The entries whose key is strictly greater than ``start_after`` (all if None)."""
    if start_after is None:
        return entries
    return [e for e in entries if e.key > start_after]
