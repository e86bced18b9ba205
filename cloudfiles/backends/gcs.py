"""Google Cloud Storage backend (``gs://``), speaking the JSON API directly.

Requests go over the shared connection pools (no google-cloud-storage in the
hot path: its per-call overhead dominates small-file work). google-auth is
imported only when credentials are needed and only turns them into bearer
tokens, cached and refreshed under a lock.

Endpoint and credentials, first match wins:

* ``secrets={"endpoint": URL, ...}``: that endpoint; if the dict also holds a
  service account (``client_email``, ``private_key`` ...) it is used, otherwise
  requests are anonymous.
* ``STORAGE_EMULATOR_HOST`` (e.g. ``http://127.0.0.1:9023``): that endpoint,
  anonymous unless ``secrets`` carries credentials.
* ``secrets=`` a service-account dict, a path to its JSON file, or a
  ``google.auth.credentials.Credentials`` object.
* ``no_sign_request=True``: anonymous (public buckets).
* A ``google-secret.json`` secrets file (``BUCKET-google-secret.json`` first,
  see :mod:`cloudfiles.secrets`), then ``google.auth.default()``.

Stored bytes are always what is returned: downloads send
``Accept-Encoding: gzip`` and are not decoded, so GCS never transcodes a gzip
object; the facade decompresses. Whole-object reads report the ``x-goog-hash``
crc32c/md5 and stored length for the facade to verify.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import quote, urlencode

from .. import connections, limits as _limits, secrets as _secrets
from ..exceptions import (
    AuthorizationError,
    BucketNotFoundError,
    CloudFilesError,
    CRC32CIntegrityError,
    CredentialsError,
    InvalidInputError,
    MD5IntegrityError,
    NetworkError,
    NotFoundError,
    ObjectChangedError,
    PreconditionFailedError,
    ServerError,
)
from ..listings import PageGuard
from ..meta import ObjectMeta
from .base import Backend, BackendOptions, Features, GetResult, positive_int, PartInfo, iter_batches
from .wire import ranges
from .wire.errors import annotate, path_in
from .wire.headers import gcs_meta, get_checksums
from .wire.keyroot import KeyRoot
from .wire.listing import GCS_FIELDS, Page, after, parse_gcs_page

DEFAULT_ENDPOINT = "https://storage.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/devstorage.full_control",)
SECRET_NAME = "google-secret.json"
MAX_COMPOSE_SOURCES = 32
MAX_COMPONENTS = 1024  # a composite object's limit, so the most parts one upload can have
TMP_PREFIX = "_cloudfiles_tmp/"  # bucket-level home of in-flight upload parts
_PAGE = 1000
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_HEAD_FIELDS = "name,size,contentEncoding,contentType,cacheControl,etag,updated,md5Hash,crc32c,storageClass,componentCount,generation"
_SA_KEYS = ("client_email", "private_key", "type", "token_uri", "private_key_id", "client_id", "project_id")


# --------------------------------------------------------------- credentials
class _TokenSource:
    """Bearer tokens from one google-auth Credentials object, refreshed when expired.

    Thread-safe: the common path (a valid cached token) takes no lock; refresh
    happens once under the lock while other threads wait for it.
    """

    def __init__(self, creds: Any, identity: str):
        self.creds = creds
        self.identity = identity
        self._lock = threading.Lock()
        self._request = None

    def header(self, bucket: str) -> str:
        creds = self.creds
        token = creds.token
        if token and creds.valid:
            return "Bearer " + token
        with self._lock:
            if not (creds.token and creds.valid):
                self._refresh(bucket)
            return "Bearer " + creds.token

    def _refresh(self, bucket: str) -> None:
        import google.auth.exceptions as gexc
        from google.auth.transport.requests import Request

        if self._request is None:
            self._request = Request()
        try:
            self.creds.refresh(self._request)
        except gexc.RefreshError as err:
            raise AuthorizationError(
                f"could not get an access token for gs://{bucket} as {self.identity}: {err}"
            ) from err
        except gexc.TransportError as err:
            raise NetworkError(f"token refresh for gs://{bucket} failed: {err}") from err
        except gexc.GoogleAuthError as err:
            raise CredentialsError(f"credentials for gs://{bucket} are unusable: {err}") from err


_sources: dict[Any, _TokenSource] = {}
_sources_lock = threading.Lock()


def _cached_source(key: Any, make) -> _TokenSource:
    src = _sources.get(key)
    if src is None:
        with _sources_lock:
            src = _sources.get(key)
            if src is None:
                src = make()
                _sources[key] = src
    return src


def _service_account_source(info: dict, bucket: str, origin: str) -> _TokenSource:
    key = ("sa", json.dumps(info, sort_keys=True, default=str))

    def make() -> _TokenSource:
        try:
            from google.oauth2 import service_account

            creds = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
        except (ValueError, KeyError, TypeError) as err:
            raise CredentialsError(
                f"the service account from {origin} for gs://{bucket} is not usable: {err}"
            ) from err
        return _TokenSource(creds, creds.service_account_email)

    return _cached_source(key, make)


def _default_source(bucket: str) -> _TokenSource:
    def make() -> _TokenSource:
        import google.auth
        import google.auth.exceptions as gexc

        try:
            creds, _project = google.auth.default(scopes=list(SCOPES))
        except gexc.DefaultCredentialsError as err:
            raise CredentialsError(
                f"no Google credentials for gs://{bucket}: "
                f"{_secrets.searched_description(SECRET_NAME, bucket, ('GOOGLE_APPLICATION_CREDENTIALS',))}"
                f"; google.auth.default() found none either ({err}). Pass secrets=, add a secrets file, "
                "or use no_sign_request=True for a public bucket."
            ) from err
        ident = getattr(creds, "service_account_email", None) or type(creds).__name__
        return _TokenSource(creds, f"default credentials ({ident})")

    return _cached_source(("default",), make)


def _resolve(cloudpath, options: BackendOptions) -> tuple[str, Optional[_TokenSource], str]:
    """(endpoint, token source or None for anonymous, identity for the pool key)."""
    bucket = cloudpath.bucket
    secrets = options.secrets
    endpoint: Optional[str] = None
    origin = "secrets="
    if isinstance(secrets, str):
        if not os.path.isfile(os.path.expanduser(secrets)):
            raise CredentialsError(f"secrets={secrets!r} for gs://{bucket} is not a file")
        origin = secrets
        secrets = _secrets.load_json_secret(os.path.expanduser(secrets))
    if isinstance(secrets, dict):
        info = dict(secrets)
        endpoint = info.pop("endpoint", None)
        if endpoint is not None and not isinstance(endpoint, str):
            raise InvalidInputError(f"secrets['endpoint'] must be a URL string, got {endpoint!r}")
        if any(k in info for k in _SA_KEYS):
            source = _service_account_source(info, bucket, origin)
            return _endpoint(endpoint or _emulator_host()), source, source.identity
        if info:
            raise CredentialsError(
                f"secrets for gs://{bucket} is not a service account (no client_email/private_key): "
                f"keys {sorted(info)}"
            )
        if endpoint:
            return _endpoint(endpoint), None, "anonymous"
        secrets = None
    elif secrets is not None:
        if not hasattr(secrets, "refresh") or not hasattr(secrets, "valid"):
            raise InvalidInputError(
                f"secrets for gs:// must be a service-account dict, a JSON file path or google.auth "
                f"Credentials, got {type(secrets).__name__}"
            )
        source = _cached_source(("obj", id(secrets)), lambda: _TokenSource(secrets, f"{type(secrets).__name__}"))
        source.creds = secrets
        return _endpoint(_emulator_host()), source, f"creds-{id(secrets)}"

    emulator = _emulator_host()
    if emulator:
        return _endpoint(emulator), None, "anonymous"
    if options.no_sign_request:
        return DEFAULT_ENDPOINT, None, "anonymous"
    path = _secrets.find_secret_file(SECRET_NAME, bucket)
    if path:
        source = _service_account_source(_secrets.load_json_secret(path), bucket, path)
        return DEFAULT_ENDPOINT, source, source.identity
    source = _default_source(bucket)
    return DEFAULT_ENDPOINT, source, source.identity


def _emulator_host() -> Optional[str]:
    return os.environ.get("STORAGE_EMULATOR_HOST") or None


def _endpoint(value: Optional[str]) -> str:
    if not value:
        return DEFAULT_ENDPOINT
    value = value.rstrip("/")
    if "://" not in value:
        value = "http://" + value
    return value


# ------------------------------------------------------------------ helpers
def _q(name: str) -> str:
    return quote(name, safe="")


def _error_message(body: bytes) -> str:
    text = body[:2000].decode("utf-8", "replace").strip()
    try:
        return json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return text[:300]


def _bucket_missing(message: str) -> bool:
    m = message.lower()
    return "bucket does not exist" in m or "no such bucket" in m


def _object_metadata(content_type: Optional[str], encoding: Optional[str], cache_control: Optional[str],
                     storage_class: Optional[str]) -> dict:
    """An object resource's stored metadata, for uploads and compositions alike."""
    meta: dict = {"contentType": content_type or "application/octet-stream"}
    if encoding:
        meta["contentEncoding"] = encoding
    if cache_control:
        meta["cacheControl"] = cache_control
    if storage_class:
        meta["storageClass"] = storage_class
    return meta


@dataclass
class GCSOptions(BackendOptions):
    """gs:// options (docs/backends.md, "Options"). The endpoint comes from
    ``secrets={"endpoint": ...}`` or ``$STORAGE_EMULATOR_HOST``."""

    #: objects per listing page (``maxResults``, 1-1000; None: 1000)
    list_page_size: Optional[int] = None
    #: ``maxBytesRewrittenPerCall`` of server-side copies (None: the service decides)
    max_bytes_rewritten_per_call: Optional[int] = None

    def check(self) -> None:
        super().check()
        positive_int("list_page_size", self.list_page_size, 1000, optional=True)
        positive_int("max_bytes_rewritten_per_call", self.max_bytes_rewritten_per_call, optional=True)


class GCSBackend(Backend):
    """gs:// over the GCS JSON API."""

    features = Features(
        server_side_copy=True, batch_delete=100, batch_exists=100, multipart=True, conditional_writes=True,
        leftovers=True, acl=True, range_streaming=True, pinned_reads=True, wants_md5=True, wants_crc32c=True,
    )
    _batch_broken: set = set()  # endpoints whose batch route is missing: go per item at once
    #: GCS's ``maxBytesRewrittenPerCall`` for copies (None: let the service decide).
    max_bytes_rewritten_per_call: Optional[int] = None
    options_type = GCSOptions

    def __init__(self, cloudpath, options: BackendOptions):
        super().__init__(cloudpath, options)
        self.list_page_size: int = getattr(options, "list_page_size", None) or _PAGE
        rewrite = getattr(options, "max_bytes_rewritten_per_call", None)
        if rewrite is not None:
            self.max_bytes_rewritten_per_call = rewrite
        if not cloudpath.bucket:
            raise InvalidInputError(f"gs:// paths need a bucket: {cloudpath.url!r}")
        self.bucket = cloudpath.bucket
        self._root = KeyRoot(cloudpath.path)
        self.endpoint, self._auth, identity = _resolve(cloudpath, options)
        self._limits = _limits.for_options(options)
        self._pm = connections.pool_manager(("gs", self.endpoint, identity), maxsize=options.num_threads)
        self._api = f"{self.endpoint}/storage/v1/b/{_q(self.bucket)}"
        self._user_project = options.request_payer

    # ------------------------------------------------------------ plumbing
    def _name(self, key: str) -> str:
        return self._root.join(key)

    def _obj_url(self, name: str) -> str:
        return f"{self._api}/o/{_q(name)}"

    def _query(self, params: Optional[dict] = None) -> str:
        params = dict(params or {})
        if self._user_project:
            params["userProject"] = self._user_project
        return ("?" + urlencode(params)) if params else ""

    def _headers(self, extra: Optional[dict] = None) -> dict:
        h = {"User-Agent": "cloudfiles"}
        if self._auth is not None:
            h["Authorization"] = self._auth.header(self.bucket)
        if extra:
            h.update(extra)
        return h

    def _request(self, method: str, url: str, what: str, headers: Optional[dict] = None, body: Any = None):
        try:
            return connections.request(self._pm, method, url, what=what, headers=self._headers(headers),
                                       body=body, limits=self._limits)
        except CloudFilesError as err:
            raise annotate(err, "gcs", path_in(what, "gs://")) from None

    def _fail(self, resp, what: str) -> CloudFilesError:
        """The exception a failed response means (bucket-aware, checksum-aware), carrying
        the request's path, status and upload id."""
        return annotate(self._error_for(resp, what), "gcs", path_in(what, "gs://"), resp.status, resp.headers,
                        resp.data)

    def _error_for(self, resp, what: str) -> CloudFilesError:
        message = _error_message(resp.data or b"")
        status = resp.status
        if status == 404 and _bucket_missing(message):
            return BucketNotFoundError(f"{what}: bucket gs://{self.bucket} does not exist")
        if status == 400:
            low = message.lower()
            if "md5" in low and ("match" in low or "mismatch" in low):
                return MD5IntegrityError(f"{what}: the server rejected the upload: {message}")
            if "crc32c" in low and ("match" in low or "mismatch" in low):
                return CRC32CIntegrityError(f"{what}: the server rejected the upload: {message}")
        return connections.error_for_status(status, what, message, bucket=self.bucket, headers=resp.headers)

    def _missing_or_raise(self, resp, what: str) -> None:
        """On 404, return if the object is missing; raise if the bucket is."""
        err = self._fail(resp, what)
        if isinstance(err, BucketNotFoundError) or not isinstance(err, NotFoundError):
            raise err

    # ------------------------------------------------------------------ get
    def get(self, key: str, start: Optional[int] = None, end: Optional[int] = None) -> GetResult:
        name = self._name(key)
        what = f"GET gs://{self.bucket}/{name}"
        headers = {"Accept-Encoding": "gzip"}
        rng = ranges.ByteRange.of(start, end)
        if rng is not None:
            if rng.empty:
                return ranges.nothing_to_read(lambda: self.stat_meta(key))
            headers["Range"] = rng.header()
        resp = self._request("GET", self._obj_url(name) + self._query({"alt": "media"}), what, headers)
        status = resp.status
        if status == 404:
            self._missing_or_raise(resp, what)
            return GetResult(None)
        if status == 416 and rng is not None:
            # Start at or past the end of the stored bytes. Report the encoding so the
            # facade re-reads compressed objects whole (ranges address decoded bytes);
            # the 416's own Content-Encoding may describe its error body, so ask.
            return ranges.nothing_to_read(lambda: self.stat_meta(key))
        if status not in (200, 206):
            raise self._fail(resp, what)
        h = resp.headers
        # Downloads accept gzip, so GCS serves stored bytes; where it still
        # transcoded, Content-Encoding says what came (none), and no hash applies.
        encoding = h.get("Content-Encoding") or None
        if rng is not None:
            # 200: the server ignored the range (e.g. it transcoded): cut out here.
            return GetResult(ranges.body(rng, status, h, resp.data, what), encoding)
        return GetResult(resp.data, encoding, get_checksums(h, "gcs"))

    def read_range_to(self, key: str, start: int, end: int, sink, pin=None) -> Optional[int]:
        """Stream stored bytes ``[start, end)`` of ``key`` to ``sink(chunk)`` as they
        arrive (constant memory); returns the byte count, or None if missing.

        ``pin`` (a stat of the object) adds ``ifGenerationMatch``: a replaced object
        raises ObjectChangedError instead of handing out the new one's bytes.
        """
        name = self._name(key)
        what = f"GET gs://{self.bucket}/{name} bytes {start}-{end - 1}"
        params = {"alt": "media"}
        if pin is not None and pin.version:
            params["ifGenerationMatch"] = str(pin.version)
        resp = connections.request(
            self._pm, "GET", self._obj_url(name) + self._query(params), what=what,
            headers=self._headers({"Accept-Encoding": "gzip", "Range": f"bytes={start}-{end - 1}"}),
            limits=self._limits, sink=sink)
        if resp.status == 412 and pin is not None:
            raise ObjectChangedError(
                f"gs://{self.bucket}/{name} changed during the download (generation {pin.version} is gone)")
        if resp.status == 404:
            self._missing_or_raise(resp, what)
            return None
        if resp.status != 206:
            if resp.status >= 300:
                raise self._fail(resp, what)
            raise ServerError(f"{what}: expected a 206 partial answer, got HTTP {resp.status}")
        first, _, last = resp.headers.get("Content-Range", "").partition(" ")[2].partition("/")[0].partition("-")
        if not first.isdigit() or not last.isdigit() or int(first) != start:
            raise ServerError(f"{what}: answered with Content-Range {resp.headers.get('Content-Range')!r}")
        return int(last) - int(first) + 1

    # ------------------------------------------------------------------ put
    def put(self, key, content, encoding=None, content_type=None, cache_control=None,
            storage_class=None, md5=None, crc32c=None) -> None:
        self._put_name(self._name(key), content, encoding, content_type, cache_control, storage_class,
                       md5, crc32c)

    def _put_name(self, name: str, content: bytes, encoding=None, content_type=None, cache_control=None,
                  storage_class=None, md5=None, crc32c=None, if_generation: Optional[str] = None) -> Optional[str]:
        """Upload one object; ``if_generation`` makes it conditional ("0": only if absent).
        Returns the new generation."""
        meta = _object_metadata(content_type, encoding, cache_control, storage_class)
        meta["name"] = name
        if md5:
            meta["md5Hash"] = md5
        if crc32c:
            meta["crc32c"] = crc32c
        boundary = uuid.uuid4().hex
        while boundary.encode() in content:
            boundary = uuid.uuid4().hex
        b = boundary.encode()
        body = b"".join([
            b"--", b, b"\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n",
            json.dumps(meta).encode(), b"\r\n--", b,
            b"\r\nContent-Type: ", meta["contentType"].encode("latin-1", "replace"), b"\r\n\r\n",
            content, b"\r\n--", b, b"--\r\n",
        ])
        url = (f"{self.endpoint}/upload/storage/v1/b/{_q(self.bucket)}/o"
               + self._query({"uploadType": "multipart", "fields": "name,generation",
                              **({} if if_generation is None else {"ifGenerationMatch": if_generation})}))
        what = f"PUT gs://{self.bucket}/{name}"
        resp = self._request("POST", url, what, {"Content-Type": f"multipart/related; boundary={boundary}"}, body)
        if resp.status == 412 and if_generation is not None:
            raise PreconditionFailedError(
                f"gs://{self.bucket}/{name} changed since it was read (someone else wrote it meanwhile)"
            )
        if resp.status != 200:
            raise self._fail(resp, what)
        try:
            gen = json.loads(resp.data or b"{}").get("generation")
        except (ValueError, AttributeError):
            gen = None
        return None if gen is None else str(gen)

    # -------------------------------------------------- conditional writes
    def read_versioned(self, key: str) -> tuple[Optional[bytes], Optional[str]]:
        """Stored bytes of ``key`` and its generation, the token :meth:`put_if` presents."""
        name = self._name(key)
        what = f"GET gs://{self.bucket}/{name}"
        resp = self._request("GET", self._obj_url(name) + self._query({"alt": "media"}), what,
                             {"Accept-Encoding": "gzip"})
        if resp.status == 404:
            self._missing_or_raise(resp, what)
            return None, None
        if resp.status != 200:
            raise self._fail(resp, what)
        return resp.data, resp.headers.get("x-goog-generation")

    def put_if(self, key: str, content: bytes, expected: Optional[str]) -> str:
        """Upload with ``ifGenerationMatch`` (``expected`` None: only if absent); a lost
        race raises :class:`PreconditionFailedError`. Returns the new generation."""
        return self._put_name(self._name(key), content, content_type="application/json",
                              if_generation="0" if expected is None else expected) or ""

    # ------------------------------------------------------------- metadata
    def _meta(self, name: str, fields: str = _HEAD_FIELDS) -> Optional[dict]:
        what = f"HEAD gs://{self.bucket}/{name}"
        resp = self._request("GET", self._obj_url(name) + self._query({"fields": fields}), what)
        if resp.status == 404:
            self._missing_or_raise(resp, what)
            return None
        if resp.status != 200:
            raise self._fail(resp, what)
        return json.loads(resp.data)

    def stat_meta(self, key: str) -> Optional[ObjectMeta]:
        resource = self._meta(self._name(key))
        return None if resource is None else gcs_meta(key, resource)

    def get_acl(self, key: str) -> Optional[list]:
        """The object's ACL entries (``objectAccessControls.list``) as ``[{'entity', 'role'}]``,
        the shape cloud-files' ``list(blob.acl)`` gives; ``None`` if the object is missing."""
        name = self._name(key)
        what = f"GET gs://{self.bucket}/{name} ACL"
        resp = self._request("GET", self._obj_url(name) + "/acl" + self._query(), what)
        if resp.status == 404:
            self._missing_or_raise(resp, what)
            return None
        if resp.status != 200:
            raise self._fail(resp, what)
        try:
            doc = json.loads(resp.data)
        except ValueError as err:
            raise ServerError(f"{what}: unreadable answer: {err}") from err
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            items = []
        return [{"entity": str(i["entity"]), "role": str(i["role"])}
                for i in items if isinstance(i, dict) and i.get("entity") and i.get("role")]

    def exists(self, key: str) -> bool:
        return self._meta(self._name(key), "name") is not None

    def size(self, key: str) -> Optional[int]:
        meta = self._meta(self._name(key), "name,size")
        return None if meta is None else int(meta["size"])

    # --------------------------------------------------------------- delete
    def delete(self, key: str) -> None:
        self._delete_name(self._name(key))

    def _delete_name(self, name: str) -> None:
        what = f"DELETE gs://{self.bucket}/{name}"
        resp = self._request("DELETE", self._obj_url(name) + self._query(), what)
        if resp.status == 404:
            self._missing_or_raise(resp, what)
        elif resp.status not in (200, 204):
            raise self._fail(resp, what)

    # ---------------------------------------------------------------- batch
    def _batch(self, method: str, names: list[str], params: dict) -> Optional[list[tuple[int, bytes]]]:
        """Run one request per name through the batch endpoint.

        Returns ``(status, body)`` per name in order, or None when the batch
        endpoint itself failed (the caller then goes item by item).
        """
        if not names or self.endpoint in self._batch_broken:
            return None
        boundary = "cfbatch" + uuid.uuid4().hex
        base = f"/storage/v1/b/{_q(self.bucket)}/o/"
        query = self._query(params)
        parts = []
        for i, name in enumerate(names):
            parts.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                f"Content-ID: <{i}>\r\n\r\n{method} {base}{_q(name)}{query} HTTP/1.1\r\n\r\n"
            )
        body = ("".join(parts) + f"--{boundary}--\r\n").encode()
        what = f"batch {method} of {len(names)} objects in gs://{self.bucket}"
        try:
            resp = self._request("POST", f"{self.endpoint}/batch/storage/v1", what,
                                 {"Content-Type": f"multipart/mixed; boundary={boundary}"}, body)
        except NetworkError:
            return None
        if resp.status in (404, 405, 501):
            self._batch_broken.add(self.endpoint)
            return None
        if resp.status in (401, 403):
            raise self._fail(resp, what)
        if resp.status != 200:
            return None
        return _parse_batch_response(resp.headers.get("Content-Type", ""), resp.data, len(names))

    def exists_many(self, keys: list[str]) -> dict[str, bool]:
        names = [self._name(k) for k in keys]
        results = self._batch("GET", names, {"fields": "name"})
        if results is None:
            return {k: self.exists(k) for k in keys}
        out = {}
        for key, name, (status, body) in zip(keys, names, results):
            if status == 200:
                out[key] = True
            elif status == 404 and not _bucket_missing(_error_message(body)):
                out[key] = False
            elif status == 404:
                raise BucketNotFoundError(f"HEAD gs://{self.bucket}/{name}: bucket gs://{self.bucket} does not exist")
            else:
                out[key] = self.exists(key)  # throttled or failed inside the batch: ask directly
        return out

    def delete_many(self, keys: list[str]) -> None:
        self._delete_names([self._name(k) for k in keys])

    def _delete_names(self, names: list[str]) -> None:
        results = self._batch("DELETE", names, {})
        if results is None:
            for name in names:
                self._delete_name(name)
            return
        for name, (status, body) in zip(names, results):
            if status in (200, 204):
                continue
            if status == 404 and not _bucket_missing(_error_message(body)):
                continue
            if status == 404:
                raise BucketNotFoundError(f"DELETE gs://{self.bucket}/{name}: bucket gs://{self.bucket} does not exist")
            self._delete_name(name)  # throttled or failed inside the batch: try it directly

    # ----------------------------------------------------------------- list
    def _pages(self, full_prefix: str, flat: bool, root: Optional[KeyRoot] = None,
               start_offset: Optional[str] = None) -> Iterator[Page]:
        """Listing pages for object names starting with ``full_prefix`` (bucket-relative),
        from ``start_offset`` on (inclusive, as GCS's ``startOffset``)."""
        params = {"prefix": full_prefix, "maxResults": self.list_page_size, "fields": GCS_FIELDS}
        if flat:
            params["delimiter"] = "/"
        if start_offset is not None:
            params["startOffset"] = start_offset
        what = f"LIST gs://{self.bucket}/{full_prefix}"
        guard = PageGuard(what, full_prefix)
        while True:
            guard.count()
            resp = self._request("GET", f"{self._api}/o" + self._query(params), what)
            if resp.status != 200:
                raise self._fail(resp, what)
            page = parse_gcs_page(resp.data, what, root)
            if page.token:
                guard.token(page.token)
            guard.page(page.names, page.prefixes)
            yield page
            if not page.token:
                return
            params["pageToken"] = page.token

    def list_meta(self, prefix: str = "", flat: bool = False,
                  start_after: Optional[str] = None) -> Iterator[ObjectMeta]:
        """objects.list pages (``startOffset`` when resuming), parsed by
        :func:`.wire.listing.parse_gcs_page`: size, md5, crc32c, generation, times, encoding."""
        root = self._root
        offset = None if start_after is None else root.scope(start_after)
        for page in self._pages(root.scope(prefix), flat, root, offset):
            yield from after(page.entries, start_after)

    def leftovers(self, cutoff: float):
        """Temporary part objects of composite uploads (bucket-wide, under TMP_PREFIX) created
        before ``cutoff`` (cloudfiles.cleanup)."""
        from ..cleanup import Leftover

        now = _dt.datetime.now(_dt.timezone.utc).timestamp()
        for page in self._pages(TMP_PREFIX, False):
            for o in page.entries:
                created = o.extra.get("time_created")
                when = created.timestamp() if created else now
                if when < cutoff:
                    yield Leftover("composite part", f"gs://{self.bucket}/{o.key}", now - when, o.size, o.key)

    def remove_leftover(self, item) -> None:
        self._delete_name(item.handle)

    # ------------------------------------------------------- server-side ops
    def same_service(self, other: Backend) -> bool:
        return (
            isinstance(other, GCSBackend)
            and other.endpoint == self.endpoint
            and (other._auth is self._auth)
        )

    def copy_within(self, src_key: str, dest: Backend, dest_key: str) -> bool:
        """Copy with objects.rewrite (looping on ``rewriteToken`` for large objects)."""
        if not isinstance(dest, GCSBackend) or dest.endpoint != self.endpoint:
            return False
        src, dst = self._name(src_key), dest._name(dest_key)
        url = f"{self._api}/o/{_q(src)}/rewriteTo/b/{_q(dest.bucket)}/o/{_q(dst)}"
        what = f"COPY gs://{self.bucket}/{src} -> gs://{dest.bucket}/{dst}"
        params: dict = {"fields": "done,rewriteToken,totalBytesRewritten"}
        if self.max_bytes_rewritten_per_call:
            params["maxBytesRewrittenPerCall"] = self.max_bytes_rewritten_per_call
        while True:
            resp = self._request("POST", url + self._query(params), what,
                                 {"Content-Type": "application/json"}, b"{}")
            if resp.status == 404:
                self._missing_or_raise(resp, what)
                raise NotFoundError(f"{what}: gs://{self.bucket}/{src} does not exist")
            if resp.status != 200:
                raise self._fail(resp, what)
            res = json.loads(resp.data)
            if res.get("done"):
                return True
            token = res.get("rewriteToken")
            if not token:
                raise CloudFilesError(f"{what}: rewrite not done but no rewriteToken returned")
            params["rewriteToken"] = token

    def compose(self, sources: list[str], dest: str, content_type: Optional[str] = None,
                encoding: Optional[str] = None, cache_control: Optional[str] = None,
                storage_class: Optional[str] = None) -> dict:
        """Concatenate up to 32 objects (keys under this path) into ``dest`` server-side.

        The result is a composite object: it has a crc32c but no md5, which
        whole-object reads verify. Returns the new object's metadata.
        """
        if not sources or len(sources) > MAX_COMPOSE_SOURCES:
            raise InvalidInputError(
                f"compose takes 1 to {MAX_COMPOSE_SOURCES} source objects, got {len(sources)}"
            )
        return self._compose([self._name(s) for s in sources], self._name(dest), content_type, encoding,
                             cache_control, storage_class)

    def _compose(self, sources: list[str], name: str, content_type: Optional[str] = None,
                 encoding: Optional[str] = None, cache_control: Optional[str] = None,
                 storage_class: Optional[str] = None) -> dict:
        destination = _object_metadata(content_type, encoding, cache_control, storage_class)
        body = json.dumps({"sourceObjects": [{"name": s} for s in sources],
                           "destination": destination}).encode()
        what = f"COMPOSE gs://{self.bucket}/{name}"
        resp = self._request("POST", f"{self._obj_url(name)}/compose" + self._query(), what,
                             {"Content-Type": "application/json"}, body)
        if resp.status == 404:
            self._missing_or_raise(resp, what)
            raise NotFoundError(f"{what}: a source object does not exist ({_error_message(resp.data)})")
        if resp.status != 200:
            raise self._fail(resp, what)
        return json.loads(resp.data)


    # -- large objects: parallel composite upload ---------------------------
    # Parts are uploaded as temporary objects (each verified by md5/crc32c on
    # arrival), then composed into the destination in one atomic step (in a
    # tree of compose calls past 32 parts) and deleted. The result is a
    # composite object, verified on read by its crc32c.
    def multipart_begin(self, key, encoding=None, content_type=None, cache_control=None,
                        storage_class=None, part_size=None) -> "_CompositeUpload":
        tmp = f"{TMP_PREFIX}{uuid.uuid4().hex}/"
        return _CompositeUpload(self._name(key), tmp, dict(
            content_type=content_type, encoding=encoding, cache_control=cache_control,
            storage_class=storage_class))

    def multipart_put_part(self, upload, part_number, data, offset, md5=None, crc32c=None) -> PartInfo:
        if not 1 <= part_number <= MAX_COMPONENTS:
            raise InvalidInputError(
                f"part {part_number} of gs://{self.bucket}/{upload.name}: a composite object has at most "
                f"{MAX_COMPONENTS} parts; use a larger part_size"
            )
        tmp = f"{upload.tmp}{part_number:05d}"
        self._put_name(tmp, data, md5=md5, crc32c=crc32c)
        return PartInfo(part_number, len(data), extra={"name": tmp})

    def multipart_complete(self, upload, parts) -> None:
        names = [p.extra["name"] for p in sorted(parts, key=lambda p: p.part_number)]
        if not names:
            self._put_name(upload.name, b"", **upload.meta)
            return
        level = 0
        while len(names) > MAX_COMPOSE_SOURCES:
            grouped = []
            for i, group in enumerate(iter_batches(names, MAX_COMPOSE_SOURCES)):
                inner = f"{upload.tmp}L{level}-{i:05d}"
                self._compose(group, inner)
                grouped.append(inner)
            names = grouped
            level += 1
        m = upload.meta
        self._compose(names, upload.name, m["content_type"], m["encoding"], m["cache_control"],
                      m["storage_class"])
        self._delete_tmp(upload)

    def multipart_abort(self, upload) -> None:
        self._delete_tmp(upload)

    def _delete_tmp(self, upload) -> None:
        """Remove an upload's temporary objects (best effort: they are garbage either way)."""
        try:
            names = [o.key for page in self._pages(upload.tmp, False) for o in page.entries]
            for batch in iter_batches(names, self.features.batch_delete):
                self._delete_names(batch)
        except CloudFilesError:
            pass


class _CompositeUpload:
    __slots__ = ("name", "tmp", "meta")

    def __init__(self, name: str, tmp: str, meta: dict):
        self.name, self.tmp, self.meta = name, tmp, meta


def _parse_batch_response(content_type: str, data: bytes, count: int) -> Optional[list[tuple[int, bytes]]]:
    """``(status, body)`` per request of a multipart/mixed batch response, in request order."""
    marker = "boundary="
    i = content_type.find(marker)
    if not content_type.startswith("multipart/mixed") or i < 0:
        return None
    boundary = content_type[i + len(marker):].split(";")[0].strip().strip('"')
    out: list[Optional[tuple[int, bytes]]] = [None] * count
    order = 0
    for piece in data.split(b"--" + boundary.encode())[1:]:
        if piece.startswith(b"--"):
            break
        split = _BLANK_LINE.split(piece.lstrip(b"\r\n"), 1)
        if len(split) != 2:
            continue
        mime_head, http = split
        index = order
        for line in mime_head.splitlines():
            k, _, v = line.decode("latin-1").partition(":")
            if k.strip().lower() == "content-id":
                ident = v.strip().strip("<>")
                ident = ident[len("response-"):] if ident.startswith("response-") else ident
                if ident.isdigit():
                    index = int(ident)
        order += 1
        head, body = (_BLANK_LINE.split(http, 1) + [b""])[:2]
        status_line = head.split(b"\n", 1)[0].split()
        if len(status_line) < 2 or not status_line[1].isdigit() or not 0 <= index < count:
            return None
        out[index] = (int(status_line[1]), body.rstrip(b"\r\n"))
    if any(r is None for r in out):
        return None
    return out  # type: ignore[return-value]
