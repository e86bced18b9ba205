"""Read-only ``http://`` and ``https://`` backend.

Objects are plain URLs under the cloudpath (``host/path/KEY``). Reads go
through the shared connection pools in :mod:`cloudfiles.connections`, keyed by
``("http", scheme+host)``, read by the bounded reader of :mod:`cloudfiles.http1`
(idle timeout, total deadline and in-memory maximum of :mod:`cloudfiles.limits`)
with no automatic retries (the facade retries). Bodies are never decoded here:
a server that stores ``name`` pre-compressed sends the stored bytes with a
``Content-Encoding`` header, and the facade decodes them.

Checksums for whole-object reads are only reported where they can be
trusted: ``size`` from ``Content-Length`` always, md5/crc32c from
``x-goog-hash`` (GCS) and ``Content-MD5``, and the ETag only from S3
(``x-amz-request-id`` present, or moto's ``x-amzn-requestid``; no
KMS/customer-key encryption). Nothing is
reported when GCS says it transcoded the object.

Listing (``list``) works where the server offers one. How it is found:

1. ``CloudFiles(url, listing="html"|"s3"|"gcs")`` forces a kind
   (``list_page_size=N`` sets the S3/GCS page size).
2. Known public endpoints: ``storage.googleapis.com`` (and
   ``BUCKET.storage.googleapis.com``) use the GCS JSON API;
   ``s3.amazonaws.com``, ``s3.REGION.amazonaws.com`` and
   ``BUCKET.s3[.REGION].amazonaws.com`` use S3 ListObjectsV2.
3. Any other host is probed once per backend: the directory URL answering
   ``text/html`` means an autoindex page (nginx ``autoindex``, Apache, Python
   ``http.server``); else ``/BUCKET?list-type=2`` answering a
   ``ListBucketResult`` means S3; else ``/storage/v1/b/BUCKET/o`` answering
   ``storage#objects`` JSON means GCS. If none does,
   :class:`UnsupportedOperationError` names the URL and what each probe
   answered (:class:`AuthorizationError` if the directory URL answered
   401/403; a 429/5xx on a probe raises the retryable error instead).

Autoindex listings strip the compression suffixes ``file://`` writes
(``.gz .br .zstd .xz .bz2``) so a served ``file://`` tree lists the same keys.
"""
from __future__ import annotations

import base64
import re
import threading
from html.parser import HTMLParser
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

from .. import limits as _limits
from .. import secrets as _secrets
from ..compression import SUFFIX_TO_ENCODING
from ..connections import error_for_status, pool_manager, request
from ..exceptions import (
    BadResponseError,
    CloudFilesError,
    CloudPathError,
    InvalidInputError,
    ListingError,
    ObjectChangedError,
    UnsupportedOperationError,
)
from ..listings import PageGuard, subtree_after
from ..meta import ObjectMeta
from .base import Backend, BackendOptions, Features, GetResult, ObjectStat
from .wire import ranges
from .wire.errors import annotate
from .wire.headers import get_checksums, http_date, http_meta
from .wire.keyroot import KeyRoot
from .wire.listing import GCS_FIELDS, after, parse_gcs_page, parse_s3_page

LISTING_KINDS = ("html", "s3", "gcs")
# HTML index pages deeper than this below the base URL end the listing with an
# error (a server whose index links to itself at every level never ends).
MAX_HTML_DEPTH = 64
_MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_MISSING = (404, 410)
_WHOLE = ranges.ByteRange(0, None)
_FIRST_BYTE = ranges.ByteRange(0, 1)
# Codings the facade can decode; advertising them keeps GCS from transcoding
# (we want the stored bytes) and lets dynamic-compression servers compress.
_ACCEPT_ENCODING = "gzip, br, zstd"
_S3_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?::\d+)?$", re.IGNORECASE)
_GCS_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?storage\.googleapis\.com(?::\d+)?$", re.IGNORECASE)
_GCS_API = "https://storage.googleapis.com"
# An href needing full URL resolution (scheme, absolute path, query, fragment).
_PLAIN_HREF = re.compile(r"[:?#]|^/")
# Characters left alone when quoting a key into a URL path ('/' separates segments).
_KEY_SAFE = "/~!$&'()*+,;=:@"


@dataclass
class HTTPOptions(BackendOptions):
    """http(s):// options (docs/backends.md, "Options")."""

    #: how ``list()`` reads a listing: "html" (index pages), "s3" or "gcs"; None: known hosts, else probed
    listing: Optional[str] = None
    #: entries per page of an S3- or GCS-style listing (None: the server's default)
    list_page_size: Optional[int] = None

    def check(self) -> None:
        super().check()
        if self.listing is not None and self.listing not in LISTING_KINDS:
            raise InvalidInputError(f"listing must be one of {', '.join(LISTING_KINDS)} or None, got {self.listing!r}")
        from .base import positive_int

        positive_int("list_page_size", self.list_page_size, optional=True)


class HTTPBackend(Backend):
    """GET/HEAD over plain HTTP(S); ``put``/``delete`` raise UnsupportedOperationError."""

    features = Features(writable=False, listable=True, range_into=True, pinned_reads=True)
    options_type = HTTPOptions

    def __init__(self, cloudpath, options: BackendOptions):
        super().__init__(cloudpath, options)
        self.origin = cloudpath.host or ""
        if not self.origin.startswith(("http://", "https://")):
            raise CloudPathError(f"HTTP backend needs an http(s):// host, got {cloudpath!r}")
        base_path = quote(cloudpath.path, safe=_KEY_SAFE + "%")
        if base_path and not base_path.endswith("/"):
            base_path += "/"
        self.base_url = f"{self.origin}/{base_path}"
        self._limits = _limits.for_options(options)
        self._pm = pool_manager(("http", self.origin), maxsize=options.num_threads)
        self._headers = {"Accept-Encoding": _ACCEPT_ENCODING}
        if cloudpath.protocol == "middleauth+https":
            auth = _cave_auth_header(options.secrets, urlsplit(self.origin).netloc)
        else:
            auth = _auth_header(options.secrets, urlsplit(self.origin).hostname or "")
        if auth:
            self._headers["Authorization"] = auth
        listing = getattr(options, "listing", None)
        if listing is not None and listing not in LISTING_KINDS:  # options built by hand skip HTTPOptions.check
            raise InvalidInputError(f"listing must be one of {', '.join(LISTING_KINDS)} or None, got {listing!r}")
        self._listing: Optional[str] = listing or _known_listing(self.origin)
        self._listing_lock = threading.Lock()
        self._page_size: Optional[int] = getattr(options, "list_page_size", None)

    # -- plumbing -------------------------------------------------------------
    def url(self, key: str) -> str:
        """The URL of ``key``."""
        if not isinstance(key, str) or not key or key.endswith("/"):
            raise CloudPathError(f"{key!r} names a directory, not a file, under {self.base_url}")
        return self.base_url + quote(key, safe=_KEY_SAFE)

    def _send(self, method: str, url: str, headers: Optional[dict] = None, key: bool = False):
        """One request (following up to 5 redirects); returns ``(response, final_url)``.

        With ``key=True`` a redirect to the same path plus '/' (how web servers
        answer a directory's name) is reported as a 404: a directory is not a file.
        """
        hdrs = dict(self._headers)
        if headers:
            hdrs.update(headers)
        origin = _origin(url)
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                res = request(self._pm, method, url, headers=hdrs, limits=self._limits)
            except CloudFilesError as err:
                raise annotate(err, "http", url) from None
            location = res.headers.get("Location")
            if res.status not in _REDIRECTS or not location:
                return res, url
            target = urljoin(url, location)
            if key and urlsplit(target).path == urlsplit(url).path + "/":
                return _IsDirectory(), url
            url = target
            if _origin(url) != origin:
                hdrs.pop("Authorization", None)  # never hand credentials to another host
            if res.status == 303 and method != "HEAD":
                method = "GET"
        raise annotate(CloudFilesError(f"{method} {url}: more than {_MAX_REDIRECTS} redirects"), "http", url,
                       res.status, res.headers)

    def _fail(self, res, method: str, url: str) -> CloudFilesError:
        detail = res.reason or ""
        body = (res.data or b"")[:2000]
        m = re.search(rb"<Code>([^<]+)</Code>", body)
        if m:
            detail += f" ({m.group(1).decode('utf-8', 'replace')})"
        return annotate(error_for_status(res.status, f"{method} {url}", detail, headers=res.headers), "http", url,
                        res.status, res.headers, body)

    # -- reads ------------------------------------------------------------------
    def get(self, key: str, start: Optional[int] = None, end: Optional[int] = None) -> GetResult:
        rng = ranges.ByteRange.of(start, end)
        url = self.url(key)
        if rng is not None and rng.empty:
            return ranges.nothing_to_read(lambda: self.stat_meta(key))
        res, final = self._send("GET", url, None if rng is None else {"Range": rng.header()}, key=True)
        status = res.status
        if status in _MISSING:
            return GetResult(None)
        enc = res.headers.get("Content-Encoding")
        if status == 200 and rng is None:
            return GetResult(res.data, enc, get_checksums(res.headers, "http"))
        if status in (200, 206):
            return GetResult(ranges.body(rng or _WHOLE, status, res.headers, res.data, f"GET {final}"), enc)
        if status == 416:
            return ranges.nothing_to_read(lambda: self.stat_meta(key), enc)
        raise self._fail(res, "GET", final)

    def read_range_into(self, key: str, start: int, buf: memoryview, pin: Optional[ObjectStat] = None) -> Optional[int]:
        """Read bytes ``[start, start + len(buf))`` of ``key`` straight into ``buf``.

        The large-download path uses this: the body is copied into ``buf`` as it
        arrives, never held whole. Returns the byte count, or ``None`` when the answer
        is anything but a plain 206 (a redirect, a server ignoring Range, an error,
        an encoded body): the caller then uses :meth:`get`, which handles every
        case. A 206 whose Content-Range disagrees with the range raises.

        ``pin`` (a stat of the object) sends ``If-Match`` with its strong ETag and
        compares the ETag and Last-Modified the answer carries with it: a replaced
        object raises ObjectChangedError.
        """
        url = self.url(key)
        want = len(buf)
        hdrs = dict(self._headers)
        hdrs["Range"] = ranges.ByteRange(start, start + want).header()
        strong = pin.etag if pin is not None and pin.etag and not pin.etag.startswith("W/") else None
        if strong and "\r" not in strong and "\n" not in strong:
            hdrs["If-Match"] = strong if strong.startswith('"') else f'"{strong}"'

        got = 0

        def sink(chunk: bytes) -> None:
            nonlocal got
            if got + len(chunk) > want:
                raise BadResponseError(f"GET {url}: sent more than the {want} bytes asked for")
            buf[got:got + len(chunk)] = chunk
            got += len(chunk)

        try:
            res = request(self._pm, "GET", url, headers=hdrs, limits=self._limits, sink=sink)
        except CloudFilesError as err:
            raise annotate(err, "http", url) from None
        if pin is not None:
            _check_pin(res, pin, url)
        if res.status != 206 or res.headers.get("Content-Encoding"):
            return None
        expected = ranges.streamed(start, start + want, res.status, res.headers, f"GET {url}")
        if res.data:  # a chunked 206 was collected instead of streamed
            sink(res.data)
        if got != expected:
            raise BadResponseError(f"GET {url}: Content-Range {res.headers.get('Content-Range')!r} "
                                   f"promised {expected} bytes, the body had {got}")
        return got

    def _head_response(self, key: str):
        """HEAD ``key`` -> ``(headers, size)`` or None if missing.

        Servers that refuse HEAD, or answer without a length (on-the-fly
        compression), are asked for the first byte instead.
        """
        url = self.url(key)
        res, final = self._send("HEAD", url, key=True)
        if res.status in _MISSING:
            return None
        if res.status == 200 and res.headers.get("Content-Length") is not None:
            return res.headers, int(res.headers["Content-Length"])
        if res.status not in (200, 405, 501):
            raise self._fail(res, "HEAD", final)
        res, final = self._send("GET", url, {"Range": _FIRST_BYTE.header()}, key=True)
        if res.status in _MISSING:
            return None
        if res.status == 200:
            return res.headers, len(res.data)
        if res.status == 206:
            total = ranges.total_size(res.headers)
            if total is not None:
                return res.headers, total
            raise BadResponseError(f"GET {final}: unusable Content-Range {res.headers.get('Content-Range')!r}")
        if res.status == 416:
            return res.headers, 0
        raise self._fail(res, "GET", final)

    def stat_meta(self, key: str) -> Optional[ObjectMeta]:
        found = self._head_response(key)
        return None if found is None else http_meta(key, found[0], found[1])

    def exists(self, key: str) -> bool:
        return self._head_response(key) is not None

    def size(self, key: str) -> Optional[int]:
        found = self._head_response(key)
        return None if found is None else found[1]

    # -- listing ----------------------------------------------------------------
    def list_meta(self, prefix: str = "", flat: bool = False,
                  start_after: Optional[str] = None) -> Iterator[ObjectMeta]:
        """S3/GCS listings tell what their pages say (see :mod:`.wire.listing`); an HTML
        index tells names only (``size`` None)."""
        if not isinstance(prefix, str):
            raise InvalidInputError(f"prefix must be a str, got {type(prefix).__name__}")
        kind = self.listing_kind()
        if kind == "s3":
            return self._list_s3(prefix, flat, start_after)
        if kind == "gcs":
            return self._list_gcs(prefix, flat, start_after)
        return (ObjectMeta(key=k) for k in self._list_html(prefix, flat, start_after))

    def list_sizes(self, prefix: str = "", flat: bool = False,
                   start_after: Optional[str] = None) -> Iterator[tuple[str, Optional[int]]]:
        """Sizes from the S3/GCS listing; an HTML index has none, so each file is HEADed."""
        html = self.listing_kind() == "html"
        for meta in self.list_meta(prefix, flat, start_after):
            if html and not meta.key.endswith("/"):
                yield meta.key, self.size(meta.key)
            else:
                yield meta.key, meta.size

    def listing_kind(self) -> str:
        """Which listing this URL offers ('html', 's3' or 'gcs'), probing once if unknown."""
        if self._listing is None:
            with self._listing_lock:
                if self._listing is None:
                    self._listing = self._probe_listing()
        return self._listing

    def _probe_listing(self) -> str:
        tried: list[str] = []

        def probe(url: str):
            res, final = self._send("GET", url)
            if res.status == 429 or res.status >= 500:
                raise self._fail(res, "GET", final)  # unavailable: retry rather than conclude
            tried.append(f"GET {final} -> HTTP {res.status} {res.headers.get('Content-Type') or 'no Content-Type'}")
            return res, final

        res, final = probe(self.base_url)
        if res.status == 200 and "html" in res.headers.get("Content-Type", "").lower():
            return "html"
        refused = (res, final) if res.status in (401, 403) else None
        bucket, _, _ = self.cloudpath.path.partition("/")
        if bucket:
            res, _ = probe(f"{self.origin}/{quote(bucket, safe='')}?list-type=2&max-keys=1")
            if res.status == 200 and b"<ListBucketResult" in res.data[:2000]:
                return "s3"
            res, _ = probe(f"{self.origin}/storage/v1/b/{quote(bucket, safe='')}/o?maxResults=1")
            if res.status == 200 and b'"storage#objects"' in res.data[:2000]:
                return "gcs"
        summary = "; ".join(tried)
        if refused is not None:
            # The directory exists but listing it was refused (e.g. nginx without autoindex).
            err = self._fail(refused[0], "GET", refused[1])
            more = type(err)(f"{err}: the server refuses to list {self.base_url} and offers no "
                             f"S3 or GCS listing either ({summary})")
            more.__dict__.update(err.__dict__)
            raise more
        raise UnsupportedOperationError(
            f"{self.base_url} offers no listing cloudfiles understands (an HTML index page, "
            f"S3 ListObjectsV2 or the GCS JSON API): {summary}"
        )

    def _bucket_and_base(self) -> tuple[str, str, bool]:
        """``(bucket, key root inside the bucket (its :class:`KeyRoot` prefix), bucket named by the host)``."""
        host = urlsplit(self.origin).netloc
        base = self.cloudpath.path
        for pattern in (_S3_HOST, _GCS_HOST):
            m = pattern.match(host)
            if m and m.group("bucket"):
                return m.group("bucket"), KeyRoot(base).prefix, True
        bucket, _, rest = base.partition("/")
        if not bucket:
            raise UnsupportedOperationError(f"cannot list {self.base_url}: the URL names no bucket")
        return bucket, KeyRoot(rest).prefix, False

    def _list_s3(self, prefix: str, flat: bool, start_after: Optional[str]) -> Iterator[ObjectMeta]:
        bucket, prefix_root, virtual = self._bucket_and_base()
        base = KeyRoot(prefix_root)
        endpoint = f"{self.origin}/" if virtual else f"{self.origin}/{quote(bucket, safe='')}"
        params = {"list-type": "2", "prefix": base.scope(prefix), "encoding-type": "url"}
        if self._page_size:
            params["max-keys"] = str(self._page_size)
        if flat:
            params["delimiter"] = "/"
        if start_after is not None:
            params["start-after"] = base.scope(start_after)
        token = None
        guard = PageGuard(f"S3 listing of {endpoint} prefix={params['prefix']!r}", params["prefix"])
        while True:
            q = dict(params)
            if token:
                q["continuation-token"] = token
            guard.count()
            url = endpoint + "?" + urlencode(q, quote_via=quote, safe="")
            res, final = self._send("GET", url)
            if res.status != 200:
                raise self._fail(res, "GET", final)
            page = parse_s3_page(res.data, f"GET {final}", base, unreadable=UnsupportedOperationError)
            token = page.token
            if token:
                guard.token(token)
            guard.page(page.names, page.prefixes)
            yield from after(page.entries, start_after)
            if not token:
                return

    def _list_gcs(self, prefix: str, flat: bool, start_after: Optional[str]) -> Iterator[ObjectMeta]:
        bucket, prefix_root, _ = self._bucket_and_base()
        base = KeyRoot(prefix_root)
        api = _GCS_API if _GCS_HOST.match(urlsplit(self.origin).netloc) else self.origin
        endpoint = f"{api}/storage/v1/b/{quote(bucket, safe='')}/o"
        params = {"prefix": base.scope(prefix), "fields": GCS_FIELDS}
        if self._page_size:
            params["maxResults"] = str(self._page_size)
        if flat:
            params["delimiter"] = "/"
        if start_after is not None:
            params["startOffset"] = base.scope(start_after)
        token = None
        guard = PageGuard(f"GCS listing of {endpoint} prefix={params['prefix']!r}", params["prefix"])
        while True:
            q = dict(params)
            if token:
                q["pageToken"] = token
            guard.count()
            url = endpoint + "?" + urlencode(q, quote_via=quote, safe="")
            res, final = self._send("GET", url)
            if res.status != 200:
                raise self._fail(res, "GET", final)
            page = parse_gcs_page(res.data, f"GET {final}", base, unreadable=UnsupportedOperationError)
            token = page.token
            if token:
                guard.token(token)
            guard.page(page.names, page.prefixes)
            yield from after(page.entries, start_after)
            if not token:
                return

    def _list_html(self, prefix: str, flat: bool, start_after: Optional[str] = None) -> Iterator[str]:
        """Walk index pages below the base URL: each page (by its final URL, after
        redirects) is read once, pages redirected outside the base URL are
        ignored, and more than MAX_HTML_DEPTH levels is a ListingError. Pages of
        directories wholly at or before ``start_after`` are not read."""
        directory, _, name_filter = prefix.rpartition("/")
        rel = directory + "/" if directory else ""
        guard = PageGuard(f"HTML index listing of {self.base_url + quote(rel, safe=_KEY_SAFE)}")
        yield from self._walk_html(rel, name_filter, flat, guard, set(), 0, start_after)

    def _walk_html(self, rel: str, name_filter: str, flat: bool, guard: PageGuard, seen: set,
                   depth: int, start_after: Optional[str] = None) -> Iterator[str]:
        if depth > MAX_HTML_DEPTH:
            raise ListingError(f"{guard.what}: index pages nest more than {MAX_HTML_DEPTH} levels deep "
                               f"(at {self.base_url + quote(rel, safe=_KEY_SAFE)}); does an index link to itself?")
        guard.count()
        listed = self._index_entries(rel, seen)
        if listed is None:
            return
        entries = set()
        for name, is_dir in listed:
            if not is_dir:
                stem, dot, ext = name.rpartition(".")
                if dot and stem and "." + ext in SUFFIX_TO_ENCODING:
                    name = stem
            if name_filter and not name.startswith(name_filter):
                continue
            # Sorting a directory as "name/" keeps the whole walk in key order.
            entries.add((name + "/" if is_dir else name, is_dir))
        for sort_name, is_dir in sorted(entries):
            key = rel + sort_name
            if not is_dir or flat:
                if start_after is None or key > start_after:
                    yield key
                continue
            wanted = subtree_after(key, start_after)
            if wanted is not False:
                yield from self._walk_html(key, "", False, guard, seen, depth + 1,
                                           None if wanted else start_after)

    def _index_entries(self, rel: str, seen: Optional[set] = None) -> Optional[list[tuple[str, bool]]]:
        """Direct children ``(name, is_dir)`` of directory ``rel`` from its index page;
        ``None`` when the page (after redirects) is in ``seen`` or outside the base URL."""
        url = self.base_url + quote(rel, safe=_KEY_SAFE)
        res, final = self._send("GET", url)
        if seen is not None:
            page = urlsplit(final)._replace(query="", fragment="").geturl()
            if page in seen or not page.startswith(self.base_url):
                return None
            seen.add(page)
        if res.status in _MISSING:
            return []
        if res.status != 200:
            raise self._fail(res, "GET", final)
        ctype = res.headers.get("Content-Type", "")
        if "html" not in ctype.lower():
            raise UnsupportedOperationError(f"GET {final} answered {ctype or 'no Content-Type'}, not an HTML index page")
        charset = re.search(r"charset=([\w.-]+)", ctype)
        text = res.data.decode(charset.group(1) if charset else "utf-8", "replace")
        return parse_index(text, final)

    # -- writes ---------------------------------------------------------------
    def put(self, key, content, encoding=None, content_type=None, cache_control=None,
            storage_class=None, md5=None, crc32c=None) -> None:
        raise UnsupportedOperationError(f"{self.base_url} is read-only: HTTP(S) URLs cannot be written")

    def delete(self, key: str) -> None:
        raise UnsupportedOperationError(f"{self.base_url} is read-only: HTTP(S) URLs cannot be deleted from")


# -- helpers ---------------------------------------------------------------------
class _IsDirectory:
    """Stands in for the redirect a server sends for a directory's name: a 404 for keys."""

    status = 404
    reason = "a directory, not a file"
    headers: dict = {}
    data = b""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag.lower() == "a":
            for name, value in attrs:
                if name.lower() == "href" and value:
                    self.hrefs.append(value)


def parse_index(html: str, page_url: str) -> list[tuple[str, bool]]:
    """The direct children ``(name, is_dir)`` linked from an index page at ``page_url``.

    Links are resolved against the page URL; only those naming an immediate
    child of the page's directory count (parent links, sort links
    ``?C=N;O=D``, absolute links elsewhere and deeper paths are ignored).
    Names are returned percent-decoded, in page order, without duplicates.
    """
    parser = _Links()
    parser.feed(html)
    parser.close()
    page = urlsplit(page_url)
    dir_path = unquote(page.path)
    if not dir_path.endswith("/"):
        dir_path = dir_path.rsplit("/", 1)[0] + "/"
    out: list[tuple[str, bool]] = []
    seen = set()
    for href in parser.hrefs:
        if href.startswith(("?", "#")):
            continue
        if not _PLAIN_HREF.search(href) and not href.startswith("."):
            rest = unquote(href)  # the usual case: a bare relative name
        else:
            target = urlsplit(urljoin(page_url, href))
            if (target.scheme, target.netloc) != (page.scheme, page.netloc):
                continue
            path = unquote(target.path)
            if not path.startswith(dir_path):
                continue
            rest = path[len(dir_path):]
        is_dir = rest.endswith("/")
        name = rest[:-1] if is_dir else rest
        if not name or "/" in name or name in (".", ".."):
            continue
        if (name, is_dir) not in seen:
            seen.add((name, is_dir))
            out.append((name, is_dir))
    return out


def _auth_header(secrets: Any, hostname: str) -> Optional[str]:
    """A Basic Authorization header from ``secrets`` or ``http-secret.json``.

    ``secrets`` may be ``{"user": ..., "password": ...}``, a ``(user, password)``
    pair, or a path to a JSON file of that shape. Without it the secrets
    directories are searched for ``HOSTNAME-http-secret.json`` then
    ``http-secret.json`` (the reference library's file name).
    """
    if secrets is None:
        path = _secrets.find_secret_file("http-secret.json", hostname or None)
        if path is None:
            return None
        secrets = _secrets.load_json_secret(path)
    elif isinstance(secrets, str):
        secrets = _secrets.load_json_secret(secrets)
    if isinstance(secrets, (tuple, list)) and len(secrets) == 2:
        user, password = secrets
    elif isinstance(secrets, dict) and "user" in secrets and "password" in secrets:
        user, password = secrets["user"], secrets["password"]
    elif isinstance(secrets, dict) and not secrets:
        return None
    else:
        raise InvalidInputError("HTTP secrets must be {'user': ..., 'password': ...}, a (user, password) pair or a JSON file path")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _cave_auth_header(secrets: Any, server: str) -> Optional[str]:
    """A Bearer header for ``middleauth+https`` (CAVE) paths.

    The token comes from ``secrets={'token': ...}`` (or a JSON file path of
    that shape), else from ``SERVER-cave-secret.json`` / ``cave-secret.json``
    in the secrets directories; no token means no header.
    """
    if isinstance(secrets, str):
        secrets = _secrets.load_json_secret(secrets)
    if secrets is None:
        secrets = _secrets.cave_credentials(server) or {}
    if not isinstance(secrets, dict) or (secrets and "token" not in secrets):
        raise InvalidInputError("middleauth+https secrets must be {'token': ...} or a JSON file path of that shape")
    token = secrets.get("token")
    return f"Bearer {token}" if token else None


def _known_listing(origin: str) -> Optional[str]:
    host = urlsplit(origin).netloc
    if _GCS_HOST.match(host):
        return "gcs"
    if _S3_HOST.match(host):
        return "s3"
    return None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _check_pin(res, pin: ObjectStat, url: str) -> None:
    """Raise ObjectChangedError when a ranged answer is not from the version ``pin`` describes."""
    if res.status == 412:
        raise ObjectChangedError(f"GET {url}: the object changed during the download (If-Match failed)")
    if res.status != 206:
        return
    etag = res.headers.get("ETag")
    if pin.etag and etag and etag.strip('"') != pin.etag.strip('"'):
        raise ObjectChangedError(f"GET {url}: the object changed during the download "
                                 f"(ETag {etag} where {pin.etag} was)")
    modified = http_date(res.headers.get("Last-Modified"))
    if pin.last_modified is not None and modified is not None and modified != pin.last_modified:
        raise ObjectChangedError(f"GET {url}: the object changed during the download (Last-Modified {modified})")
