"""S3 backend (``s3://``): AWS and any S3-compatible service.

Requests are built, signed (AWS Signature Version 4, computed here with
``hmac``; signing keys cached per secret/day/region) and sent over the shared
connection pools of :mod:`cloudfiles.connections`. boto3's per-call machinery
costs more client CPU than a small object's whole round trip, so it is not
used; botocore is imported only when its default credential chain is needed.

Addressing: custom endpoints (``s3://https://host:port/bucket/...`` or
``endpoint=``) are always path-style (``host/bucket/key``). AWS itself uses
virtual-hosted style ``bucket.s3.REGION.amazonaws.com`` when the bucket name
is DNS-safe (no dots or upper case), path-style ``s3.REGION.amazonaws.com``
otherwise. A wrong region (301/400 with ``x-amz-bucket-region``) is learned
once per bucket and the request repeated.

Credentials, first found wins: ``secrets=`` (a dict or a JSON file path), the
secrets file ``BUCKET-aws-secret.json`` / ``aws-secret.json`` (named after the
alias, e.g. ``matrix-secret.json``, for aliased endpoints), the environment
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``), then
botocore's default chain (shared credentials file, SSO, instance roles...).
``no_sign_request=True`` sends unsigned requests and needs none.

Signing and credential discovery live in :mod:`.s3_auth`, the HTTP/1.1
framing of the hot path in :mod:`cloudfiles.http1`.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import os
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import quote, urlsplit

from .. import connections
from .. import limits as _limits
from ..exceptions import (
    PreconditionFailedError,
    AuthorizationError,
    BucketNotFoundError,
    CloudFilesError,
    CloudPathError,
    InvalidInputError,
    MD5IntegrityError,
    NotFoundError,
    ObjectChangedError,
    ServerError,
    ThrottledError,
)
from ..listings import PageGuard
from ..meta import ObjectMeta
from .base import Backend, BackendOptions, Features, GetResult, positive_int, ObjectStat, PartInfo, iso_time
from ..http1 import Headers, _Response, _check_header_value, _exchange
from .wire import ranges
from .wire.errors import annotate, path_in
from .wire.etag import etag_kind, multipart_etag_of
from .wire.headers import PART_SIZE_META, get_checksums, s3_meta
from .wire.keyroot import KeyRoot
from .wire.listing import after, parse_s3_page
from .s3_auth import _amz_now, _canonical_query, _Credentials, _signing_key, resolve_credentials

AWS_HOST_SUFFIX = "amazonaws.com"
DEFAULT_REGION = "us-east-1"
MiB = 1024 * 1024
GiB = 1024 * MiB
MAX_PARTS = 10000  # parts per multipart upload
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                   "TooManyRequests", "RequestThrottled"}
_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
               "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem",
               "InvalidSecurity", "MissingSecurityHeader", "RequestTimeTooSkewed"}

# Regions learned from redirects, per bucket (AWS only).
_bucket_regions: dict[str, str] = {}


def _text(elem: Optional[ET.Element], tag: str) -> Optional[str]:
    if elem is None:
        return None
    child = elem.find(_NS + tag)
    if child is None:
        child = elem.find(tag)
    return None if child is None else (child.text or "")


def _parse_error(body: bytes) -> tuple[str, str, Optional[ET.Element]]:
    """``(code, message, root)`` of an S3 error document ('' when there is none)."""
    if not body or b"<Error" not in body[:512]:
        return "", "", None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "", "", None
    if root.tag.endswith("Error"):
        return _text(root, "Code") or "", _text(root, "Message") or "", root
    return "", "", None


_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_GRANTEE_FIELDS = ("DisplayName", "EmailAddress", "ID", "URI")


def parse_acl(body: bytes, what: str) -> dict:
    """An ``AccessControlPolicy`` document as boto3's ``get_object_acl`` returns it.

    The body comes from the network: a document type declaration (the way to
    entity-expansion and external-entity tricks) is refused, and only the
    known elements are read, as text.
    """
    head = body[:4096].lstrip()
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise CloudFilesError(f"{what}: the ACL document declares a DOCTYPE/ENTITY; refused")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as err:
        raise ServerError(f"{what}: unreadable ACL document: {err}") from err
    if not root.tag.endswith("AccessControlPolicy"):
        raise CloudFilesError(f"{what}: expected an AccessControlPolicy document, got <{root.tag}> "
                          f"({head[:80]!r})")

    def fields(elem: Optional[ET.Element], names) -> dict:
        out = {}
        for name in names:
            value = _text(elem, name)
            if value is not None:
                out[name] = value
        return out

    owner_elem = root.find(_NS + "Owner")
    if owner_elem is None:
        owner_elem = root.find("Owner")
    grants = []
    acl = root.find(_NS + "AccessControlList")
    if acl is None:
        acl = root.find("AccessControlList")
    for grant in list(acl) if acl is not None else []:
        if not grant.tag.endswith("Grant"):
            continue
        grantee_elem = grant.find(_NS + "Grantee")
        if grantee_elem is None:
            grantee_elem = grant.find("Grantee")
        grantee = fields(grantee_elem, _GRANTEE_FIELDS)
        if grantee_elem is not None and grantee_elem.get(_XSI_TYPE):
            grantee["Type"] = grantee_elem.get(_XSI_TYPE)
        entry: dict = {"Grantee": grantee}
        permission = _text(grant, "Permission")
        if permission is not None:
            entry["Permission"] = permission
        grants.append(entry)
    result: dict = {"Grants": grants}
    if owner_elem is not None:
        result["Owner"] = fields(owner_elem, ("DisplayName", "ID"))
    return result


def _is_aws_dns_bucket(bucket: str) -> bool:
    return 3 <= len(bucket) <= 63 and "." not in bucket and bucket == bucket.lower() and "_" not in bucket


def _object_headers(content_type: Optional[str], encoding: Optional[str], cache_control: Optional[str],
                    storage_class: Optional[str]) -> dict:
    """The headers that carry an object's stored metadata on PUT, multipart start and copy."""
    headers = {"content-type": content_type or "application/octet-stream"}
    if encoding:
        headers["content-encoding"] = encoding
    if cache_control:
        headers["cache-control"] = cache_control
    if storage_class:
        headers["x-amz-storage-class"] = storage_class
    return headers



def _env_endpoint() -> str:
    """``$AWS_ENDPOINT_URL_S3`` / ``$AWS_ENDPOINT_URL`` (as boto3 reads them) for plain ``s3://`` paths."""
    url = (os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "").strip().rstrip("/")
    if url and not re.match(r"^https?://[^/\s]+$", url):
        raise CloudPathError(f"AWS_ENDPOINT_URL={url!r} must look like https://host[:port]")
    return url

@dataclass
class S3Options(BackendOptions):
    """s3:// options (docs/backends.md, "Options"). The endpoint is part of the
    cloudpath (``s3://https://host/bucket`` or the facade's ``endpoint=``)."""

    #: signing region; None: the secret's AWS_DEFAULT_REGION, $AWS_DEFAULT_REGION, $AWS_REGION, us-east-1
    region: Optional[str] = None
    #: keys per ListObjectsV2 page (``max-keys``, 1-1000; None: the service's default, 1000 on AWS)
    list_page_size: Optional[int] = None
    #: the largest object one CopyObject copies (None: 5 GiB); larger ones are copied in parts
    max_single_copy: Optional[int] = None
    #: part size of a multipart server-side copy (None: 512 MiB; raised to stay within 10000 parts)
    copy_part_size: Optional[int] = None
    #: UploadPartCopy requests in flight during one multipart copy (None: 8)
    copy_threads: Optional[int] = None

    def check(self) -> None:
        super().check()
        if self.region is not None and (not isinstance(self.region, str) or not self.region.strip()
                                        or any(c in self.region for c in "/ \t\r\n")):
            raise InvalidInputError(f"region must be a region name such as 'us-east-1', got {self.region!r}")
        positive_int("list_page_size", self.list_page_size, 1000, optional=True)
        positive_int("max_single_copy", self.max_single_copy, 5 * GiB, optional=True)
        positive_int("copy_part_size", self.copy_part_size, optional=True)
        positive_int("copy_threads", self.copy_threads, optional=True)


class S3Backend(Backend):
    """S3 over SigV4-signed HTTP/1.1 requests; see the module docstring."""

    features = Features(server_side_copy=True, batch_delete=1000, multipart=True, range_streaming=True,
                        conditional_writes=True, touch=True, leftovers=True, acl=True, wants_md5=True,
                        min_part_size=5 * MiB, pinned_reads=True)
    #: keys per ListObjectsV2 page (None: the service's default, 1000 on AWS)
    list_page_size: Optional[int] = None
    #: the largest object one CopyObject may copy (5 GiB on AWS); larger ones are
    #: copied in parts. Set lower for services with a lower limit: every copy then
    #: asks for the source's size first.
    max_single_copy: int = 5 * GiB
    #: part size of a multipart copy (raised as needed to stay within 10000 parts)
    copy_part_size: int = 512 * MiB
    #: UploadPartCopy requests in flight during one multipart copy
    copy_threads: int = 8
    options_type = S3Options

    def __init__(self, cloudpath, options: BackendOptions):
        super().__init__(cloudpath, options)
        # Options left at None keep the class defaults above.
        for name in ("list_page_size", "max_single_copy", "copy_part_size", "copy_threads"):
            value = getattr(options, name, None)
            if value is not None:
                setattr(self, name, value)
        if not cloudpath.bucket:
            raise CloudPathError(f"s3 cloudpath {cloudpath.url!r} names no bucket")
        self.bucket = cloudpath.bucket
        self.root = KeyRoot(cloudpath.path)
        self.custom = bool(cloudpath.host)
        if self.custom:
            parts = urlsplit(cloudpath.host)
            self._scheme, self._netloc = parts.scheme, parts.netloc
            self.endpoint = f"{self._scheme}://{self._netloc}"
        elif _env_endpoint():
            parts = urlsplit(_env_endpoint())
            self.custom = True
            self._scheme, self._netloc = parts.scheme, parts.netloc
            self.endpoint = f"{self._scheme}://{self._netloc}"
        else:
            self._scheme, self._netloc = "https", ""
            self.endpoint = "https://s3.amazonaws.com"
        self._limits = _limits.for_options(options)
        self._unsigned = bool(options.no_sign_request)
        self._creds: Optional[_Credentials] = None
        self._creds_lock = threading.Lock()
        self._region: Optional[str] = getattr(options, "region", None)
        self._fixed: dict[str, str] = {}
        if options.request_payer:
            self._fixed["x-amz-request-payer"] = str(options.request_payer)
        self._pid = -1
        self._pools: dict[str, Any] = {}
        self._bucket_ok = False
        self._sign_payload = self._scheme == "http"
        self._target_cache: Optional[tuple[str, str, str]] = None

    # -- credentials, region, addressing --------------------------------------
    def _credentials(self) -> _Credentials:
        creds = self._creds
        if creds is None:
            with self._creds_lock:
                if self._creds is None:
                    self._creds = resolve_credentials(self.bucket, self.options.secrets, self.cloudpath.alias)
                creds = self._creds
        return creds

    @property
    def region(self) -> str:
        r = _bucket_regions.get(self.bucket) if not self.custom else None
        if r:
            return r
        if self._region is None:
            creds_region = None
            if not self._unsigned:
                creds_region = self._credentials().region
            self._region = (creds_region or os.environ.get("AWS_DEFAULT_REGION")
                            or os.environ.get("AWS_REGION") or DEFAULT_REGION)
        return self._region

    def _target(self) -> tuple[str, str, str]:
        """``(region, host, path prefix)``: where requests for this bucket go."""
        region = self.region
        cached = self._target_cache
        if cached is not None and cached[0] == region:
            return cached
        if self.custom:
            t = (region, self._netloc, "/" + quote(self.bucket, safe=""))
        elif _is_aws_dns_bucket(self.bucket):
            t = (region, f"{self.bucket}.s3.{region}.{AWS_HOST_SUFFIX}", "")
        else:
            t = (region, f"s3.{region}.{AWS_HOST_SUFFIX}", "/" + quote(self.bucket, safe=""))
        self._target_cache = t
        return t

    def _pool(self, host: str):
        pid = os.getpid()
        if pid != self._pid:
            self._pools = {}
            self._pid = pid
        pool = self._pools.get(host)
        if pool is None:
            ident = None if self._unsigned else self._credentials().access_key
            pm = connections.pool_manager(("s3", self.endpoint, ident), maxsize=self.options.num_threads)
            pool = pm.for_host(self._scheme, host.rsplit(":", 1)[0] if host.count(":") == 1 else host,
                               int(host.rsplit(":", 1)[1]) if host.count(":") == 1 else None)
            self._pools[host] = pool
        return pool

    # -- the request path ------------------------------------------------------
    def _request(self, method: str, key: Optional[str], what: str, query: Optional[dict] = None,
                 headers: Optional[dict] = None, body: Optional[bytes] = None, sink=None) -> _Response:
        """Sign and send one request; on a wrong-region answer learn the region and resend once."""
        for attempt in (0, 1):
            region, host, base = self._target()
            path = base + "/" + quote(key, safe="/~") if key is not None else (base or "/")
            qs = _canonical_query(query) if query else ""
            hdrs = {"host": host}
            if self._fixed:
                hdrs.update(self._fixed)
            if headers:
                hdrs.update(headers)
            if not self._unsigned:
                self._sign(method, path, qs, hdrs, body, region)
            url = path + "?" + qs if qs else path
            try:
                resp = _exchange(self._pool(host), method, url, hdrs, body, self._limits, what, sink)
            except CloudFilesError as err:
                raise annotate(err, "s3", path_in(what, "s3://")) from None
            status = resp.status
            if attempt == 0 and not self.custom and status in (301, 307, 400):
                new_region = resp.headers.get("x-amz-bucket-region")
                if not new_region:
                    _code, _msg, root = _parse_error(resp.data)
                    new_region = _text(root, "Region")
                if new_region and new_region != region:
                    _bucket_regions[self.bucket] = new_region
                    continue
            return resp
        return resp

    def _sign(self, method: str, path: str, qs: str, hdrs: dict, body: Optional[bytes], region: str) -> None:
        ak, sk, token = self._credentials().current()
        stamp, day = _amz_now()
        if body is None or not body:
            payload = _EMPTY_SHA256
        elif self._sign_payload:
            payload = hashlib.sha256(body).hexdigest()
        else:
            payload = _UNSIGNED_PAYLOAD  # TLS plus Content-MD5 protect the body
        hdrs["x-amz-date"] = stamp
        hdrs["x-amz-content-sha256"] = payload
        if token:
            hdrs["x-amz-security-token"] = token
        names = sorted(k for k in hdrs if k == "host" or k.startswith("x-amz-") or k == "content-md5")
        signed = ";".join(names)
        canonical = (f"{method}\n{path}\n{qs}\n"
                     + "".join(f"{n}:{str(hdrs[n]).strip()}\n" for n in names)
                     + f"\n{signed}\n{payload}")
        scope = f"{day}/{region}/s3/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        sig = hmac.digest(_signing_key(sk, day, region), to_sign.encode(), "sha256").hex()
        hdrs["authorization"] = f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, Signature={sig}"

    def _where(self, key: Optional[str] = None) -> str:
        host = self.cloudpath.host  # None when the endpoint comes from AWS_ENDPOINT_URL_S3
        loc = f"s3://{host + '/' if host else ''}{self.bucket}"
        return f"{loc}/{key}" if key is not None else loc

    def _error(self, resp: _Response, what: str) -> CloudFilesError:
        """The exception for a failed response (S3 error code first, then HTTP status),
        carrying the request's path, status and request id."""
        return annotate(self._error_for(resp, what), "s3", path_in(what, "s3://"), resp.status, resp.headers,
                        resp.data)

    def _error_for(self, resp: _Response, what: str) -> CloudFilesError:
        code, message, _ = _parse_error(resp.data)
        status = resp.status
        detail = f"{code}: {message}" if code else ""
        if code == "NoSuchBucket" or (status == 404 and code == "" and resp.headers.get("x-amz-error-code") == "NoSuchBucket"):
            return BucketNotFoundError(f"bucket {self.bucket!r} does not exist ({what} at {self.endpoint})")
        if code in ("BadDigest", "XAmzContentSHA256Mismatch"):  # the body was corrupted in transit: retry
            return MD5IntegrityError(f"{what}: the service rejected the body: HTTP {status} {detail}")
        if code in _THROTTLE_CODES or status in (429, 503) and not code.startswith("NoSuch"):
            return connections.with_retry_after(ThrottledError(f"{what}: HTTP {status} {detail}".rstrip()), resp.headers)
        if status in (401, 403) or code in _AUTH_CODES:
            how = "unsigned request" if self._unsigned else f"credentials from {self._creds.source if self._creds else '?'}"
            return AuthorizationError(
                f"{what}: access to bucket {self.bucket!r} denied (HTTP {status}{' ' + detail if detail else ''}; {how})"
            )
        if status >= 500:
            return connections.with_retry_after(ServerError(f"{what}: HTTP {status} {detail}".rstrip()), resp.headers)
        return connections.error_for_status(status, what, detail, self.bucket, resp.headers)

    def _check_bucket_after_404(self, what: str) -> None:
        """HEAD answers 404 without saying whether the key or the bucket is missing: ask once."""
        if self._bucket_ok:
            return
        resp = self._request("HEAD", None, f"HEAD {self._where()}")
        if resp.status == 404:
            raise annotate(BucketNotFoundError(f"bucket {self.bucket!r} does not exist ({what} at {self.endpoint})"),
                           "s3", self._where(), 404, resp.headers)
        if resp.status < 300:
            self._bucket_ok = True

    # -- operations -------------------------------------------------------------
    def get(self, key: str, start: Optional[int] = None, end: Optional[int] = None) -> GetResult:
        full = self.root.join(key)
        rng = ranges.ByteRange.of(start, end)
        if rng is not None and rng.empty:
            return ranges.nothing_to_read(lambda: self.stat_meta(key))
        what = f"GET {self._where(full)}"
        resp = self._request("GET", full, what, headers=None if rng is None else {"range": rng.header()})
        status = resp.status
        h = resp.headers
        if status == 200 or status == 206:
            self._bucket_ok = True
            if rng is not None:
                return GetResult(ranges.body(rng, status, h, resp.data, what), h.get("content-encoding"))
            return GetResult(resp.data, h.get("content-encoding"), get_checksums(h, "s3"))
        if status == 416:  # the object exists; the range is past its end
            return ranges.nothing_to_read(lambda: self.stat_meta(key), h.get("content-encoding"))
        if status == 404:
            code, _, _ = _parse_error(resp.data)
            if code in ("NoSuchKey", ""):
                if code == "":
                    self._check_bucket_after_404(what)
                else:
                    self._bucket_ok = True
                return GetResult(None)
        raise self._error(resp, what)

    def put(self, key, content, encoding=None, content_type=None, cache_control=None,
            storage_class=None, md5=None, crc32c=None) -> None:
        full = self.root.join(key)
        if not full or full.endswith("/"):
            raise InvalidInputError(f"{key!r} is not a valid object key under {self._where()}")
        for name, value in (("content_type", content_type), ("cache_control", cache_control),
                            ("storage_class", storage_class), ("encoding", encoding)):
            if value:
                _check_header_value(name, value)
        headers = _object_headers(content_type, encoding, cache_control, storage_class)
        headers["content-md5"] = md5 or base64.b64encode(hashlib.md5(content).digest()).decode()
        resp = self._request("PUT", full, f"PUT {self._where(full)}", headers=headers, body=bytes(content))
        if resp.status != 200:
            raise self._error(resp, f"PUT {self._where(full)}")
        self._bucket_ok = True
        # A plain ETag is the md5 of what the server stored. Servers that skip the
        # Content-MD5 check (some S3-compatible stores) would otherwise keep bytes
        # corrupted in transit: remove them and fail, so the facade retries.
        etag = (resp.headers.get("etag") or "").strip('"').lower()
        sent = base64.b64decode(headers["content-md5"]).hex()
        if etag != sent and etag_kind(etag, resp.headers).is_md5:
            try:
                self.delete(key)
            finally:
                raise MD5IntegrityError(
                    f"PUT {self._where(full)}: the server stored md5 {etag}, we sent {sent}; "
                    "the body was corrupted in transit"
                )

    # -- conditional writes (dataset tags and other small control objects) -------
    def read_versioned(self, key: str) -> tuple[Optional[bytes], Optional[str]]:
        """Stored bytes of ``key`` and its ETag, the token :meth:`put_if` presents."""
        full = self.root.join(key)
        what = f"GET {self._where(full)}"
        resp = self._request("GET", full, what)
        if resp.status == 200:
            return resp.data, resp.headers.get("etag")
        if resp.status == 404 and _parse_error(resp.data)[0] in ("NoSuchKey", ""):
            return None, None
        raise self._error(resp, what)

    def put_if(self, key: str, content: bytes, expected: Optional[str]) -> str:
        """PUT with ``If-None-Match: *`` (``expected`` None) or ``If-Match: expected``.

        A 412, or a 409 from a concurrent conditional write, means someone else
        changed the object: :class:`PreconditionFailedError`. Returns the new ETag.
        """
        full = self.root.join(key)
        what = f"PUT {self._where(full)}"
        headers = _object_headers("application/json", None, None, None)
        headers["content-md5"] = base64.b64encode(hashlib.md5(content).digest()).decode()
        if expected is None:
            headers["if-none-match"] = "*"
        else:
            headers["if-match"] = expected
        resp = self._request("PUT", full, what, headers=headers, body=bytes(content))
        if resp.status == 200:
            return resp.headers.get("etag") or ""
        if resp.status in (409, 412) or (resp.status == 404 and expected is not None):
            raise PreconditionFailedError(
                f"{self._where(full)} changed since it was read (someone else wrote it meanwhile)"
            )
        raise self._error(resp, what)

    def read_range_to(self, key: str, start: int, end: int, sink, pin: Optional[ObjectStat] = None) -> Optional[int]:
        """Stream bytes ``[start, end)`` of ``key`` to ``sink(chunk)`` as they arrive.

        One request for the whole range, constant memory: the large-download
        path reads big contiguous slices this way. Returns the byte count, or
        None if the object is missing. ``pin`` (a stat of the object) sends
        ``If-Match`` with its ETag: a replaced object raises ObjectChangedError.
        """
        full = self.root.join(key)
        what = f"GET {self._where(full)} bytes {start}-{end - 1}"
        headers = {"range": ranges.ByteRange(start, end).header()}
        if pin is not None and pin.etag:
            _check_header_value("ETag", pin.etag)
            headers["if-match"] = f'"{pin.etag.strip(chr(34))}"'
        resp = self._request("GET", full, what, headers=headers, sink=sink)
        if resp.status == 412 and pin is not None:
            raise ObjectChangedError(f"{self._where(full)} changed during the download (ETag {pin.etag} no longer matches)")
        if resp.status == 404:
            self._check_bucket_after_404(what)
            return None
        n = ranges.streamed(start, end, resp.status, resp.headers, what)
        if n is None:
            raise self._error(resp, what) if resp.status >= 300 else ServerError(
                f"{what}: expected a 206 partial answer, got HTTP {resp.status}")
        self._bucket_ok = True
        return n

    def _headers_by_ranged_get(self, key: str) -> Optional[dict]:
        """A HEAD's headers from ``GET bytes=0-0`` (Content-Length from Content-Range)."""
        full = self.root.join(key)
        what = f"GET {self._where(full)} bytes 0-0"
        resp = self._request("GET", full, what, headers={"range": ranges.ByteRange(0, 1).header()})
        if resp.status == 404:
            self._check_bucket_after_404(what)
            return None
        if resp.status not in (200, 206, 416):
            raise self._error(resp, what)
        h = Headers(resp.headers)
        if resp.status == 200:
            h["content-length"] = str(len(resp.data))
        else:
            total = ranges.total_size(h)
            if total is None:
                raise ServerError(f"{what}: answered with Content-Range {h.get('content-range')!r}")
            h["content-length"] = str(total)
        return h

    def _head_headers(self, key: str) -> Optional[dict]:
        """The response headers of a HEAD of ``key``, or None if it is missing."""
        full = self.root.join(key)
        resp = self._request("HEAD", full, f"HEAD {self._where(full)}")
        if resp.status == 404:
            self._check_bucket_after_404(f"HEAD {self._where(full)}")
            return None
        if resp.status != 200:
            raise self._error(resp, f"HEAD {self._where(full)}")
        self._bucket_ok = True
        return resp.headers

    def stat_meta(self, key: str) -> Optional[ObjectMeta]:
        h = self._head_headers(key)
        return None if h is None else s3_meta(key, h)

    def exists(self, key: str) -> bool:
        return self._head_headers(key) is not None

    def delete(self, key: str) -> None:
        full = self.root.join(key)
        resp = self._request("DELETE", full, f"DELETE {self._where(full)}")
        if resp.status in (200, 204):
            return
        if resp.status == 404 and _parse_error(resp.data)[0] in ("NoSuchKey", ""):
            return
        raise self._error(resp, f"DELETE {self._where(full)}")

    def delete_many(self, keys: list[str]) -> None:
        """One DeleteObjects request for up to 1000 keys; per-key failures raise."""
        if not keys:
            return
        if len(keys) > 1000:
            raise InvalidInputError(f"DeleteObjects takes at most 1000 keys, got {len(keys)}")
        root = ET.Element("Delete")
        ET.SubElement(root, "Quiet").text = "true"
        for k in keys:
            obj = ET.SubElement(root, "Object")
            ET.SubElement(obj, "Key").text = self.root.join(k)
        body = ET.tostring(root, encoding="utf-8")
        headers = {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode(),
                   "content-type": "application/xml"}
        what = f"DeleteObjects {self._where()} ({len(keys)} keys)"
        resp = self._request("POST", None, what, query={"delete": ""}, headers=headers, body=body)
        if resp.status != 200:
            raise self._error(resp, what)
        errors = []
        try:
            doc = ET.fromstring(resp.data) if resp.data else None
        except ET.ParseError as err:
            raise ServerError(f"{what}: unreadable response: {err}") from err
        if doc is not None and doc.tag.endswith("Error"):
            raise self._error(_Response(500 if _text(doc, "Code") == "InternalError" else 400,
                                        resp.headers, resp.data), what)
        if doc is not None:
            for err in list(doc.iter(_NS + "Error")) + list(doc.iter("Error")):
                code = _text(err, "Code") or ""
                if code != "NoSuchKey":
                    errors.append((_text(err, "Key"), code, _text(err, "Message")))
        if errors:
            first = errors[0]
            msg = f"{what}: {len(errors)} keys not deleted, e.g. {first[0]!r}: {first[1]} {first[2]}"
            codes = {e[1] for e in errors}
            if codes & _THROTTLE_CODES:
                raise ThrottledError(msg)
            if codes & {"InternalError", "ServiceUnavailable"}:
                raise ServerError(msg)
            if codes & _AUTH_CODES:
                raise AuthorizationError(msg)
            raise CloudFilesError(msg)

    def list_meta(self, prefix: str = "", flat: bool = False,
                  start_after: Optional[str] = None) -> Iterator[ObjectMeta]:
        """ListObjectsV2 pages (``start-after`` when resuming), parsed by
        :func:`.wire.listing.parse_s3_page`: size, ETag (see its rule), time, storage class."""
        full = self.root.scope(prefix)
        params = {"list-type": "2", "prefix": full, "encoding-type": "url"}
        if self.list_page_size:
            params["max-keys"] = str(self.list_page_size)
        if flat:
            params["delimiter"] = "/"
        if start_after is not None:
            params["start-after"] = self.root.scope(start_after)
        what = f"ListObjectsV2 {self._where()} prefix={full!r}"
        guard = PageGuard(what, full)
        while True:
            guard.count()
            resp = self._request("GET", None, what, query=params)
            if resp.status != 200:
                raise self._error(resp, what)
            self._bucket_ok = True
            page = parse_s3_page(resp.data, what, self.root)
            if page.token:
                guard.token(page.token)
            guard.page(page.names, page.prefixes)
            yield from after(page.entries, start_after)
            if not page.token:
                return
            params = dict(params, **{"continuation-token": page.token})

    def _copy(self, src_full: str, dest: "S3Backend", dest_full: str, extra: Optional[dict] = None) -> _Response:
        headers = {"x-amz-copy-source": "/" + quote(self.bucket, safe="") + "/" + quote(src_full, safe="/~")}
        if extra:
            headers.update(extra)
        return dest._request("PUT", dest_full, f"CopyObject {self._where(src_full)} -> {dest._where(dest_full)}",
                             headers=headers)

    def copy_within(self, src_key: str, dest: Backend, dest_key: str) -> bool:
        """Server-side copy (metadata kept): one CopyObject, or parallel UploadPartCopy
        parts for objects larger than ``max_single_copy``."""
        if not isinstance(dest, S3Backend) or not self.same_service(dest):
            return False
        src_full, dest_full = self.root.join(src_key), dest.root.join(dest_key)
        what = f"CopyObject {self._where(src_full)} -> {dest._where(dest_full)}"
        if self.max_single_copy < 5 * GiB:  # a lowered limit: look before copying
            meta = self.stat_meta(src_key)
            if meta is None:
                raise NotFoundError(f"{what}: {src_key!r} does not exist")
            if (meta.size or 0) > self.max_single_copy:
                self._copy_multipart(src_full, dest, dest_full, meta)
                return True
        resp = self._copy(src_full, dest, dest_full)
        code, message, _ = _parse_error(resp.data)
        if resp.status == 200 and not code:
            return True
        if code == "NoSuchKey":
            raise NotFoundError(f"{what}: {src_key!r} does not exist")
        if code == "InvalidRequest" and "size" in message.lower():
            meta = self.stat_meta(src_key)  # larger than CopyObject allows (5 GiB): copy in parts
            if meta is None:
                raise NotFoundError(f"{what}: {src_key!r} does not exist")
            self._copy_multipart(src_full, dest, dest_full, meta)
            return True
        if resp.status == 200:  # S3 can fail a copy after sending 200
            resp = _Response(500 if code in ("InternalError", "ServiceUnavailable") else 400, resp.headers, resp.data)
        raise self._error(resp, what)

    def same_service(self, other: Backend) -> bool:
        if not isinstance(other, S3Backend) or other.endpoint != self.endpoint:
            return False
        if self._unsigned or other._unsigned:
            return False
        try:
            return self._credentials().access_key == other._credentials().access_key
        except CloudFilesError:
            return False

    def touch(self, key: str) -> None:
        """Refresh Last-Modified by copying the object onto itself with its metadata."""
        meta = self.stat_meta(key)
        if meta is None:
            raise NotFoundError(f"{key!r} does not exist in {self._where()}")
        full = self.root.join(key)
        extra = _object_headers(meta.content_type, meta.encoding, meta.cache_control, meta.storage_class)
        extra["x-amz-metadata-directive"] = "REPLACE"
        resp = self._copy(full, self, full, extra)
        if resp.status != 200 or _parse_error(resp.data)[0]:
            raise self._error(resp if resp.status != 200 else _Response(400, resp.headers, resp.data),
                              f"touch {self._where(full)}")

    # -- native multipart upload --------------------------------------------------
    # Every part's ETag must equal the md5 of the bytes we sent (a mismatch means
    # the body was corrupted on the way: MD5IntegrityError, the part is retried).
    # The completed object's ETag must equal md5(part md5s)-N, computed here from
    # those same md5s. The part size is kept in x-amz-meta-cloudfiles-part-size so
    # downloads can recompute the multipart ETag exactly.
    def multipart_begin(self, key, encoding=None, content_type=None, cache_control=None, storage_class=None,
                        part_size: Optional[int] = None) -> "_S3Upload":
        headers = _object_headers(content_type, encoding, cache_control, storage_class)
        for name, value in headers.items():
            _check_header_value(name, value)
        return self._create_upload(self.root.join(key), headers, part_size)

    def _create_upload(self, full: str, headers: dict, part_size: Optional[int]) -> "_S3Upload":
        if part_size:
            headers = dict(headers, **{PART_SIZE_META: str(int(part_size))})
        what = f"CreateMultipartUpload {self._where(full)}"
        resp = self._request("POST", full, what, query={"uploads": ""}, headers=headers)
        if resp.status != 200:
            raise self._error(resp, what)
        try:
            upload_id = _text(ET.fromstring(resp.data), "UploadId")
        except ET.ParseError as err:
            raise ServerError(f"{what}: unreadable response: {err}") from err
        if not upload_id:
            raise ServerError(f"{what}: no UploadId in the response")
        return _S3Upload(full, upload_id)

    def multipart_put_part(self, upload, part_number, data, offset, md5=None, crc32c=None) -> PartInfo:
        full, upload_id = upload.full, upload.upload_id
        body = data if isinstance(data, (bytes, bytearray)) else bytes(data)  # no copy of a part
        if md5 is None:
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        sent = base64.b64decode(md5).hex()
        what = f"UploadPart {part_number} of {self._where(full)}"
        resp = self._request("PUT", full, what, query={"partNumber": str(part_number), "uploadId": upload_id},
                             headers={"content-md5": md5}, body=body)
        if resp.status != 200:
            raise self._error(resp, what)
        etag = (resp.headers.get("etag") or "").strip('"').lower()
        if not etag:
            raise ServerError(f"{what}: the response has no ETag")
        if etag != sent and etag_kind(etag, resp.headers).is_md5:
            raise MD5IntegrityError(f"{what}: the server stored md5 {etag}, we sent {sent}; "
                                    "the part was corrupted in transit")
        return PartInfo(part_number, len(body), etag=f'"{etag}"', extra={"md5": sent})

    def multipart_complete(self, upload, parts) -> None:
        full, upload_id = upload.full, upload.upload_id
        what = f"CompleteMultipartUpload {self._where(full)}"
        if upload.failed is not None:
            # The facade retries an integrity failure, but this upload is gone.
            raise CloudFilesError(f"{what}: the upload was abandoned: {upload.failed}") from upload.failed
        ordered = sorted(parts, key=lambda p: p.part_number)
        root = ET.Element("CompleteMultipartUpload")
        for p in ordered:
            el = ET.SubElement(root, "Part")
            ET.SubElement(el, "PartNumber").text = str(p.part_number)
            ET.SubElement(el, "ETag").text = p.etag
        body = ET.tostring(root, encoding="utf-8")
        resp = self._request("POST", full, what, query={"uploadId": upload_id},
                             headers={"content-type": "application/xml"}, body=body)
        code = _parse_error(resp.data)[0]
        if resp.status != 200 or code:
            raise self._error(resp if resp.status != 200 else _Response(500 if code == "InternalError" else 400,
                                                                         resp.headers, resp.data), what)
        self._bucket_ok = True
        md5s = [p.extra.get("md5") or (p.etag or "").strip('"').lower() for p in ordered]
        if not all(len(m) == 32 for m in md5s):
            return  # parts without an md5 ETag (SSE-KMS): nothing to compare
        expected = multipart_etag_of(bytes.fromhex(m) for m in md5s)
        try:
            got = (_text(ET.fromstring(resp.data), "ETag") or "").strip().strip('"').lower()
        except ET.ParseError:
            got = ""
        if not got:  # no readable ETag in the answer: ask for it
            meta = self.stat_meta(self.root.relative(full))
            got = ((meta.etag if meta else None) or "").lower()
        if got == expected or not got or not etag_kind(got, resp.headers).verifiable:
            return
        err = MD5IntegrityError(f"{what}: the completed object's ETag is {got!r}, expected {expected!r} "
                                "from the parts' md5s; the object was removed")
        upload.failed = err
        try:
            self.multipart_abort(upload)
        finally:
            self.delete(self.root.relative(full))
        raise err

    def multipart_abort(self, upload) -> None:
        full, upload_id = upload.full, upload.upload_id
        what = f"AbortMultipartUpload {self._where(full)}"
        resp = self._request("DELETE", full, what, query={"uploadId": upload_id})
        if resp.status not in (200, 204) and _parse_error(resp.data)[0] != "NoSuchUpload":
            raise self._error(resp, what)

    def list_multipart_uploads(self, prefix: str = "") -> list[tuple[str, str]]:
        """``(key, upload id)`` of unfinished multipart uploads under ``prefix`` (to find leftovers)."""
        return [(self.root.relative(k), u) for k, u, _ in self._multipart_uploads(prefix)]

    def leftovers(self, cutoff: float):
        """Unfinished multipart uploads under this prefix started before ``cutoff`` (cloudfiles.cleanup)."""
        from ..cleanup import Leftover

        now = _dt.datetime.now(_dt.timezone.utc).timestamp()
        for full, upload_id, started in self._multipart_uploads(""):
            when = started.timestamp() if started else now
            if when < cutoff:
                yield Leftover("multipart upload", f"s3://{self.bucket}/{full} (UploadId {upload_id})",
                               now - when, None, _S3Upload(full, upload_id))

    def remove_leftover(self, item) -> None:
        self.multipart_abort(item.handle)

    def _multipart_uploads(self, prefix: str) -> list:
        """``(full key, upload id, initiated datetime or None)`` of unfinished multipart uploads."""
        params = {"uploads": "", "prefix": self.root.scope(prefix)}
        what = f"ListMultipartUploads {self._where()}"
        guard = PageGuard(what, params["prefix"])
        out: list = []
        while True:
            guard.count()
            resp = self._request("GET", None, what, query=params)
            if resp.status != 200:
                raise self._error(resp, what)
            try:
                doc = ET.fromstring(resp.data)
            except ET.ParseError as err:
                raise ServerError(f"{what}: unreadable response: {err}") from err
            uploads = list(doc.iter(_NS + "Upload")) + list(doc.iter("Upload"))
            # upload pages repeat keys (one per upload id): only bounded and token-checked
            for item in uploads:
                out.append((_text(item, "Key") or "", _text(item, "UploadId") or "",
                            iso_time(_text(item, "Initiated"))))
            if (_text(doc, "IsTruncated") or "").lower() != "true":
                return out
            markers = {"key-marker": _text(doc, "NextKeyMarker") or "",
                       "upload-id-marker": _text(doc, "NextUploadIdMarker") or ""}
            guard.token("\0".join(markers.values()))
            params = dict(params, **markers)

    def get_acl(self, key: str) -> Optional[dict]:
        """``GetObjectAcl`` (GET ?acl) as boto3 shapes it: ``{'Owner': {...}, 'Grants': [{'Grantee':
        {...}, 'Permission': ...}]}``; ``None`` if the object is missing."""
        full = self.root.join(key)
        what = f"GetObjectAcl {self._where(full)}"
        resp = self._request("GET", full, what, query={"acl": ""})
        if resp.status == 404 and _parse_error(resp.data)[0] in ("NoSuchKey", ""):
            self._check_bucket_after_404(what)
            return None
        if resp.status != 200:
            raise self._error(resp, what)
        return parse_acl(resp.data, what)

    def stat(self, key: str) -> Optional[ObjectStat]:
        """Size, encoding, ETag and the part size recorded by our multipart uploads.

        Where HEAD is refused (some policies and S3-compatible services allow
        GetObject only), a one-byte ranged GET answers the same questions.
        """
        try:
            h = self._head_headers(key)
        except AuthorizationError:
            h = self._headers_by_ranged_get(key)
        return None if h is None else s3_meta(key, h)

    # -- multipart server-side copy ---------------------------------------------------
    def _copy_multipart(self, src_full: str, dest: "S3Backend", dest_full: str, meta: ObjectMeta) -> None:
        """Copy an object too large for one CopyObject with parallel UploadPartCopy
        requests (each reading a byte range of the source, pinned to its ETag);
        the upload is aborted if any part fails."""
        size = meta.size or 0
        part = min(max(self.copy_part_size, self.features.min_part_size, -(-size // MAX_PARTS)),
                   self.max_single_copy)
        part = max(part, -(-size // MAX_PARTS))
        headers = _object_headers(meta.content_type, meta.encoding, meta.cache_control, meta.storage_class)
        upload = dest._create_upload(dest_full, headers, part)
        source = "/" + quote(self.bucket, safe="") + "/" + quote(src_full, safe="/~")
        src_etag = meta.etag
        spans = [(n + 1, a, min(a + part, size) - 1) for n, a in enumerate(range(0, size, part))]
        what = f"UploadPartCopy {self._where(src_full)} -> {dest._where(dest_full)}"

        def copy_part(number: int, first: int, last: int) -> PartInfo:
            hdrs = {"x-amz-copy-source": source, "x-amz-copy-source-range": f"bytes={first}-{last}"}
            if src_etag:
                hdrs["x-amz-copy-source-if-match"] = f'"{src_etag}"'
            resp = dest._request("PUT", dest_full, f"{what} part {number}", headers=hdrs,
                                 query={"partNumber": str(number), "uploadId": upload.upload_id})
            code, message, root = _parse_error(resp.data)
            if resp.status != 200 or code:
                if code == "NoSuchKey":
                    raise NotFoundError(f"{what}: the source does not exist")
                if code == "PreconditionFailed" or resp.status == 412:
                    raise ServerError(f"{what}: the source changed during the copy ({message})")
                status = resp.status if resp.status != 200 else (500 if code == "InternalError" else 400)
                raise self._error(_Response(status, resp.headers, resp.data), f"{what} part {number}")
            try:
                etag = (_text(ET.fromstring(resp.data), "ETag") or "").strip().strip('"')
            except ET.ParseError as err:
                raise ServerError(f"{what} part {number}: unreadable response: {err}") from err
            if not etag:
                raise ServerError(f"{what} part {number}: no ETag in the response")
            return PartInfo(number, last - first + 1, etag=f'"{etag}"')

        try:
            workers = max(1, min(self.copy_threads, len(spans)))
            with self.runner.local().executor(workers) as pool:
                futures = [pool.submit(copy_part, *r) for r in spans]
                try:
                    infos = [f.result() for f in futures]
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
            dest.multipart_complete(upload, infos)
        except BaseException:
            if upload.failed is None:
                try:
                    dest.multipart_abort(upload)
                except CloudFilesError:
                    pass  # the original failure matters more; the upload expires by lifecycle rules
            raise


class _S3Upload:
    """One multipart upload in progress: the key, its UploadId, and whether it was given up."""

    __slots__ = ("full", "upload_id", "failed")

    def __init__(self, full: str, upload_id: str):
        self.full = full
        self.upload_id = upload_id
        self.failed: Optional[BaseException] = None

    def __iter__(self):  # unpacks as (key, upload id)
        return iter((self.full, self.upload_id))
