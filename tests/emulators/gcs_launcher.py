"""gcp-storage-emulator, extended to answer as real Google Cloud Storage does.

Run ``python -m tests.emulators.gcs_launcher [--host 127.0.0.1] [--port 0]``;
it prints ``READY <port>`` on stdout once it listens and serves until killed.
Storage is in memory. The package's own handlers do the plain work (bucket
insert, object metadata, multipart upload with md5/crc32c checks, delete);
this module routes every request first and changes what differs from GCS:

Transport
  * Threaded HTTP/1.1 server with keep-alive and TCP_NODELAY (the stock one is
    single-threaded, HTTP/1.0, backlog 5: twenty client threads stall on SYN
    retries). One lock
    serialises storage access, since the package's storage is not thread-safe.
  * Request bodies are always read in full, so keep-alive connections stay in
    sync even when a handler ignores the body (the stock rewrite does).
  * Metadata is not re-serialised to JSON after every write (the in-memory
    store never reads it back; the stock code makes each write O(objects)).
  * multipart/related upload bodies are split on the exact boundary bytes
    (binary-safe) instead of through the ``email`` parser.

Downloads (``alt=media`` and ``/download/storage/v1``)
  * ``Content-Encoding`` is sent for encoded objects (the stock server drops it).
  * Decompressive transcoding: a gzip object requested without
    ``Accept-Encoding: gzip`` is sent decompressed, without Content-Encoding,
    ignoring Range, as GCS does.
  * ``x-goog-hash`` (crc32c, and md5 unless the object is composite),
    ``x-goog-stored-content-length``, ``x-goog-stored-content-encoding``,
    ``x-goog-generation``, ``x-goog-metageneration``, ``x-goog-storage-class``
    and ``x-goog-component-count`` headers.
  * Ranges: suffix ranges ``bytes=-N`` (stock: whole object), ``416`` with
    ``Content-Range: bytes */SIZE`` when the start is at or past the end
    (stock: 206 with a bogus range), malformed ranges ignored (200, whole).

Errors
  * 404 bodies say ``No such object: B/O`` or ``The specified bucket does not
    exist.`` (stock: empty), so clients can tell a missing bucket from a
    missing object. Object requests to a missing bucket get the latter.
  * Every answer carries an ``X-GUploader-UploadID`` header, as GCS's do.

Listing
  * ``maxResults`` (default and maximum 1000) and ``pageToken`` /
    ``nextPageToken`` pagination over names and prefixes together, in
    lexicographic order (stock: everything in one page); ``startOffset``
    (names and prefixes at or after it; stock: ignored).

Batch (``POST /batch/storage/v1``)
  * Replaced: each ``application/http`` part is parsed as a full HTTP request
    (request line, headers, body) and routed like a direct request, so GET
    (object metadata) works as well as DELETE and PATCH (stock: only
    DELETE/PATCH/copy, and unknown methods answer 404); responses carry
    ``Content-ID: <response-ID>``; more than 1000 parts is a 400 (GCS documents
    100 as the most a client should send, and google-cloud-storage sends up to
    1000, so only the latter is enforced; test_gcs checks our 100 by counting).

Preconditions
  * ``ifGenerationMatch`` on uploads (``0``: only if absent) answers 412
    ``conditionNotMet`` when the object's generation differs (stock: ignored),
    so compare-and-swap writers are exercised.

Compose and rewrite
  * Composite objects have ``crc32c`` and ``componentCount`` but no
    ``md5Hash`` (stock: an md5 too); at most 32 sources per call.
  * Rewrite honours ``maxBytesRewrittenPerCall`` and answers ``done: false``
    with a ``rewriteToken`` until the copy is complete (stock: always one call),
    so clients' token loops are exercised; the destination keeps the source's
    metadata (encoding, checksums, component count).

Buckets
  * Bucket insert keeps the fields sent with it (labels, billing, ...); the
    stock handler keeps only the name.

Requester pays, authentication
  * A bucket created with ``billing.requesterPays`` rejects object and list
    requests without ``userProject`` (400, GCS's message).
  * ``POST /token`` is an OAuth2 token endpoint for service-account JWT
    assertions (the JWT's shape and claims are checked, not its signature).
    A request carrying ``Authorization: Bearer T`` with a T not issued here
    gets 401 ``Invalid Credentials``. Buckets labelled
    ``cf-emulator-auth: required`` answer anonymous callers 401; those
    labelled ``cf-emulator-auth: deny`` answer everyone 403.

Test instrumentation (not part of GCS)
  * ``GET /_cf/stats``: tokens issued, requests by kind, userProject values seen.
  * ``POST /_cf/config`` with JSON ``{"batch_status": 503}`` makes the batch
    endpoint fail with that status (``null`` restores it), and
    ``{"corrupt_downloads": N}`` flips one byte in each of the next N
    whole-object downloads (headers still describe the stored object), so
    tests can show that clients fall back and verify checksums.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from copy import deepcopy
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import google_crc32c
from gcp_storage_emulator import server as gserver
from gcp_storage_emulator import settings as gsettings
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import buckets as gbuckets
from gcp_storage_emulator.handlers import objects as gobjects
from gcp_storage_emulator.storage import Storage

API = gsettings.API_ENDPOINT  # /storage/v1
UPLOAD = gsettings.UPLOAD_API_ENDPOINT  # /upload/storage/v1
DOWNLOAD = gsettings.DOWNLOAD_API_ENDPOINT  # /download/storage/v1
BATCH = gsettings.BATCH_API_ENDPOINT  # /batch/storage/v1

_BUCKET_PATH = re.compile(
    rf"^(?:{re.escape(UPLOAD)}|{re.escape(DOWNLOAD)}|{re.escape(API)})?/b/(?P<bucket>[-.\w]+)(?P<rest>/.*)?$"
)
_OBJECT_REST = re.compile(r"^/o/(?P<object>.+)$")
MAX_PAGE = 1000
MAX_BATCH = 1000
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
MAX_COMPOSE = 32


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class Req:
    """The request shape the package's handlers read (path, query, params, data, headers)."""

    def __init__(self, method: str, path: str, query: dict, headers: dict, data: Any, base_url: str,
                 full_url: str):
        self.method = method
        self.path = path
        self.query = query
        self._headers = {k.lower(): v for k, v in headers.items()}
        self.data = data
        self.base_url = base_url
        self.full_url = full_url
        self.params: dict = {}

    def get_header(self, key: str, default: Any = None) -> Any:
        return self._headers.get(key.lower(), default)

    def set_match(self, match) -> None:
        self.params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items() if v is not None}

    def q(self, name: str, default: Optional[str] = None) -> Optional[str]:
        v = self.query.get(name)
        return v[0] if v else default


class Out:
    """A response being built: status, headers, body bytes."""

    def __init__(self) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.body = b""

    def json(self, obj: Any, status: int = 200) -> "Out":
        self.status = status
        self.headers["Content-Type"] = "application/json; charset=UTF-8"
        self.body = json.dumps(obj).encode()
        return self

    def error(self, status: int, message: str, reason: str = "invalid") -> "Out":
        return self.json({"error": {"code": status, "message": message,
                                    "errors": [{"domain": "global", "reason": reason, "message": message}]}},
                         status)


def _parse_multipart_related(raw: bytes, content_type: str) -> dict:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise ValueError("multipart body without a boundary")
    delim = b"--" + m.group(1).encode()
    pieces = raw.split(delim)
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        head, sep, body = piece.partition(b"\r\n\r\n")
        if not sep:
            continue
        if body.endswith(b"\r\n"):
            body = body[:-2]
        headers = {}
        for line in head.strip(b"\r\n").split(b"\r\n"):
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        parts.append((headers, body))
    if len(parts) != 2:
        raise ValueError(f"multipart upload needs 2 parts, got {len(parts)}")
    return {"meta": json.loads(parts[0][1] or b"{}"), "content": parts[1][1],
            "content-type": parts[1][0].get("content-type", "application/octet-stream")}


def _parse_body(raw: Optional[bytes], headers: dict, query: dict) -> Any:
    if not raw:
        return None
    enc = headers.get("content-encoding", "")
    if enc == "gzip":
        raw = gzip.decompress(raw)
    ctype = headers.get("content-type") or "application/octet-stream"
    if ctype.startswith("application/json") and "upload_id" not in query:
        return json.loads(raw)
    if ctype.startswith("multipart/related"):
        return _parse_multipart_related(raw, ctype)
    return raw


class Emulator:
    """Storage plus the state the extensions keep (tokens, statistics)."""

    def __init__(self) -> None:
        self.storage = Storage(use_memory_fs=True)
        # The in-memory store never reads its metadata file back: skip rewriting it on every change.
        self.storage._write_config_to_file = lambda: None
        self.lock = threading.RLock()
        self.tokens: set[str] = set()
        self.stats: Counter = Counter()
        self.user_projects: Counter = Counter()
        self.config: dict = {"batch_status": None, "corrupt_downloads": 0}

    # ------------------------------------------------------------- routing
    def handle(self, req: Req) -> Out:
        with self.lock:
            try:
                return self._route(req)
            except NotFound:
                return Out().error(404, "Not Found", "notFound")
            except Exception as err:  # a bug here must show up as a 500, not a dropped connection
                return Out().error(500, f"emulator error: {type(err).__name__}: {err}", "backendError")

    def _route(self, req: Req) -> Out:
        path, method = req.path, req.method
        if path == "/" and method == "GET":
            out = Out()
            out.body = b"OK"
            return out
        if path == "/token" and method == "POST":
            return self._token(req)
        if path == "/_cf/stats":
            return Out().json({"tokens_issued": len(self.tokens), "requests": dict(self.stats),
                               "user_projects": dict(self.user_projects)})
        if path == "/_cf/config" and method == "POST":
            self.config.update(req.data or {})
            return Out().json(self.config)
        if path == BATCH and method == "POST":
            self.stats["batch"] += 1
            if self.config.get("batch_status"):
                return Out().error(int(self.config["batch_status"]), "batch endpoint disabled by the test",
                                   "backendError")
            return self._batch(req)

        auth = req.get_header("authorization")
        token_ok = False
        if auth:
            kind, _, tok = auth.partition(" ")
            if kind.lower() != "bearer" or tok not in self.tokens:
                return Out().error(401, "Invalid Credentials", "authError")
            token_ok = True
        user_project = req.q("userProject")
        if user_project:
            self.user_projects[user_project] += 1

        if path in (API + "/b", "/b") and method == "POST":
            out = self._stock(req)
            if out.status == 200 and isinstance(req.data, dict):
                gbuckets._patch_bucket(self.storage.buckets[req.data["name"]], req.data)
            return out
        m = _BUCKET_PATH.match(path)
        if m:
            bucket_name, rest = m.group("bucket"), m.group("rest") or ""
            bucket = self.storage.get_bucket(bucket_name)
            if bucket is not None:
                label = (bucket.get("labels") or {}).get("cf-emulator-auth")
                if label == "deny":
                    return Out().error(403, f"caller does not have storage access to bucket {bucket_name}.",
                                       "forbidden")
                if label == "required" and not token_ok:
                    return Out().error(401, "Anonymous caller does not have storage.objects access to the "
                                            f"Google Cloud Storage bucket {bucket_name}.", "required")
                if (bucket.get("billing") or {}).get("requesterPays") and not user_project and rest:
                    return Out().error(400, "Bucket is a requester pays bucket but no user project provided.",
                                       "required")
            if rest and bucket is None:
                return Out().error(404, "The specified bucket does not exist.", "notFound")
            obj_match = _OBJECT_REST.match(rest)
            is_download = path.startswith(DOWNLOAD + "/") or (req.q("alt") == "media")
            if method == "GET" and obj_match and is_download and not path.startswith(UPLOAD):
                self.stats["download"] += 1
                return self._download(req, bucket_name, urllib.parse.unquote(obj_match.group("object")))
            if method == "GET" and rest == "/o":
                self.stats["list"] += 1
                return self._list(req, bucket_name)
            if method == "POST" and obj_match and obj_match.group("object").endswith("/compose"):
                self.stats["compose"] += 1
                name = urllib.parse.unquote(obj_match.group("object")[: -len("/compose")])
                return self._compose(req, bucket_name, name)
            rw = re.match(r"^/o/(?P<src>.+)/rewriteTo/b/(?P<db>[-.\w]+)/o/(?P<dst>.+)$", rest)
            if method == "POST" and rw:
                self.stats["rewrite"] += 1
                return self._rewrite(req, bucket_name, urllib.parse.unquote(rw.group("src")), rw.group("db"),
                                     urllib.parse.unquote(rw.group("dst")))
            if method == "GET" and obj_match:
                self.stats["metadata"] += 1
            elif method == "DELETE" and obj_match:
                self.stats["delete"] += 1
            elif method == "POST" and path.startswith(UPLOAD):
                self.stats["upload"] += 1
                refused = self._precondition(req, bucket_name)
                if refused is not None:
                    return refused
        return self._stock(req)

    def _stock(self, req: Req) -> Out:
        """Run the package's own handler for ``req`` and fill in GCS's error bodies."""
        for regex, handlers in gserver.HANDLERS:
            match = re.fullmatch(regex, req.path)
            if not match:
                continue
            req.set_match(match)
            handler = handlers.get(req.method)
            if handler is None:
                return Out().error(405, f"method {req.method} not allowed on {req.path}")
            res = gserver.Response(None)
            handler(req, res, self.storage)
            out = Out()
            out.status = int(res.status)
            out.headers = {k: str(v) for k, v in res._headers.items()}
            body = res._content
            out.body = body.encode() if isinstance(body, str) else (body or b"")
            if out.status == 404 and not out.body:
                p = req.params
                what = f"No such object: {p.get('bucket_name')}/{p['object_id']}" if "object_id" in p \
                    else "Not Found"
                out.error(404, what, "notFound")
            return out
        return Out().error(404, f"no route for {req.method} {req.path}", "notFound")

    # ------------------------------------------------------------ extensions
    def _token(self, req: Req) -> Out:
        form = urllib.parse.parse_qs(req.data.decode() if isinstance(req.data, bytes) else "")
        assertion = (form.get("assertion") or [""])[0]
        parts = assertion.split(".")
        try:
            claims = json.loads(_b64url_decode(parts[1])) if len(parts) == 3 else None
        except ValueError:
            claims = None
        if not claims or not claims.get("iss") or not claims.get("aud"):
            return Out().json({"error": "invalid_grant", "error_description": "malformed JWT assertion"}, 400)
        token = "emu-" + secrets.token_hex(16)
        self.tokens.add(token)
        return Out().json({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _precondition(self, req: Req, bucket: str) -> Optional[Out]:
        """``ifGenerationMatch`` on uploads: 412 unless the object's generation is the
        one given ("0": the object must not exist)."""
        want = req.q("ifGenerationMatch")
        if want is None:
            return None
        name = req.q("name")
        if name is None and isinstance(req.data, dict):
            name = (req.data.get("meta") or req.data).get("name")
        current = self._object(bucket, name) if name else None
        have = "0" if current is None else str(current.get("generation"))
        if want != have:
            self.stats["precondition_failed"] += 1
            return Out().error(412, "At least one of the pre-conditions you specified did not hold.",
                               "conditionNotMet")
        return None

    def _object(self, bucket: str, name: str) -> Optional[dict]:
        return (self.storage.objects.get(bucket) or {}).get(name)

    def _download(self, req: Req, bucket: str, name: str) -> Out:
        out = Out()
        obj = self._object(bucket, name)
        if obj is None:
            out.status = 404
            out.headers["Content-Type"] = "text/html; charset=UTF-8"
            out.body = f"No such object: {bucket}/{name}".encode()
            return out
        data = self.storage.get_file(bucket, name)
        size = len(data)
        enc = obj.get("contentEncoding")
        h = out.headers
        h["Content-Type"] = obj.get("contentType") or "application/octet-stream"
        h["x-goog-stored-content-encoding"] = enc or "identity"
        h["x-goog-stored-content-length"] = str(size)
        h["x-goog-generation"] = str(obj.get("generation"))
        h["x-goog-metageneration"] = str(obj.get("metageneration"))
        h["x-goog-storage-class"] = obj.get("storageClass") or "STANDARD"
        hashes = [f"crc32c={obj['crc32c']}"] + ([f"md5={obj['md5Hash']}"] if obj.get("md5Hash") else [])
        h["x-goog-hash"] = ",".join(hashes)
        if obj.get("componentCount"):
            h["x-goog-component-count"] = str(obj["componentCount"])
        if obj.get("cacheControl"):
            h["Cache-Control"] = obj["cacheControl"]
        accept = (req.get_header("accept-encoding") or "").lower()
        if enc == "gzip" and "gzip" not in accept:
            out.body = gzip.decompress(data)  # decompressive transcoding; Range is ignored
            return out
        if enc:
            h["Content-Encoding"] = enc
        rng = req.get_header("range")
        m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", rng or "")
        if m and (m.group(1) or m.group(2)):
            if not m.group(1):
                n = int(m.group(2))
                start, end = max(0, size - n), size
                if n == 0 or size == 0:
                    return self._unsatisfiable(out, size)
            else:
                start = int(m.group(1))
                end = size if not m.group(2) else min(size, int(m.group(2)) + 1)
                if m.group(2) and int(m.group(2)) < start:
                    out.body = data  # an invalid range is ignored
                    return out
                if start >= size:
                    return self._unsatisfiable(out, size)
            out.status = 206
            h["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
            out.body = data[start:end]
            return out
        if self.config.get("corrupt_downloads", 0) > 0 and data:
            self.config["corrupt_downloads"] -= 1
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        out.body = data
        return out

    @staticmethod
    def _unsatisfiable(out: Out, size: int) -> Out:
        out.error(416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable")
        out.headers["Content-Range"] = f"bytes */{size}"
        return out

    def _list(self, req: Req, bucket: str) -> Out:
        prefix = req.q("prefix")
        delimiter = req.q("delimiter")
        try:
            max_results = min(MAX_PAGE, max(1, int(req.q("maxResults", str(MAX_PAGE)))))
        except ValueError:
            return Out().error(400, "Invalid maxResults")
        objs, prefixes = self.storage.get_file_list(bucket, prefix, delimiter)
        entries = sorted([(o["name"], o) for o in objs] + [(p, None) for p in prefixes], key=lambda e: e[0])
        offset = req.q("startOffset")
        if offset:
            entries = [e for e in entries if e[0] >= offset]
        token = req.q("pageToken")
        if token:
            try:
                after = _b64url_decode(token).decode()
            except ValueError:
                return Out().error(400, "Invalid pageToken")
            entries = [e for e in entries if e[0] > after]
        page = entries[:max_results]
        res: dict = {"kind": "storage#objects"}
        items = [o for _, o in page if o is not None]
        pfx = [n for n, o in page if o is None]
        if items:
            res["items"] = items
        if pfx:
            res["prefixes"] = pfx
        if len(entries) > max_results:
            res["nextPageToken"] = base64.urlsafe_b64encode(page[-1][0].encode()).decode().rstrip("=")
        return Out().json(res)

    def _compose(self, req: Req, bucket: str, dest: str) -> Out:
        body = req.data if isinstance(req.data, dict) else {}
        sources = body.get("sourceObjects") or []
        if not 1 <= len(sources) <= MAX_COMPOSE:
            return Out().error(400, f"The number of source components provided ({len(sources)}) must be "
                                    f"between 1 and {MAX_COMPOSE}.")
        content = b""
        components = 0
        for src in sources:
            obj = self._object(bucket, src.get("name", ""))
            if obj is None:
                return Out().error(404, f"No such object: {bucket}/{src.get('name')}", "notFound")
            content += self.storage.get_file(bucket, src["name"])
            components += int(obj.get("componentCount") or 1)
        if components > 1024:
            return Out().error(400, "The composite object would have more than 1024 components.")
        meta = dict(body.get("destination") or {})
        meta.pop("md5Hash", None)
        meta.pop("crc32c", None)
        obj = gobjects._make_object_resource(req.base_url, bucket, dest, meta.get("contentType"),
                                             str(len(content)), meta)
        obj["crc32c"] = base64.b64encode(google_crc32c.Checksum(content).digest()).decode()
        obj.pop("md5Hash", None)
        obj["etag"] = secrets.token_urlsafe(12)
        obj["componentCount"] = components
        self.storage.create_file(bucket, dest, content, obj)
        return Out().json(obj)

    def _rewrite(self, req: Req, bucket: str, src: str, dest_bucket: str, dest: str) -> Out:
        obj = self._object(bucket, src)
        if obj is None:
            return Out().error(404, f"No such object: {bucket}/{src}", "notFound")
        if self.storage.get_bucket(dest_bucket) is None:
            return Out().error(404, "The specified bucket does not exist.", "notFound")
        data = self.storage.get_file(bucket, src)
        size = len(data)
        done = 0
        token = req.q("rewriteToken")
        if token:
            try:
                tsrc, tdone = _b64url_decode(token).decode().rsplit("|", 1)
                done = int(tdone)
                if tsrc != f"{bucket}/{src}->{dest_bucket}/{dest}":
                    raise ValueError(tsrc)
            except ValueError:
                return Out().error(400, "Invalid rewriteToken")
        per_call = req.q("maxBytesRewrittenPerCall")
        if per_call and size - done > int(per_call):
            done += int(per_call)
            tok = base64.urlsafe_b64encode(f"{bucket}/{src}->{dest_bucket}/{dest}|{done}".encode()).decode()
            return Out().json({"kind": "storage#rewriteResponse", "totalBytesRewritten": str(done),
                               "objectSize": str(size), "done": False, "rewriteToken": tok.rstrip("=")})
        new = deepcopy(obj)
        override = req.data if isinstance(req.data, dict) else {}
        for k in gobjects._WRITABLE_FIELDS:
            if k in override and k not in ("md5Hash", "crc32c"):
                new[k] = override[k]
        gen = time.time_ns()
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        new.update({"bucket": dest_bucket, "name": dest, "generation": str(gen), "metageneration": "1",
                    "id": f"{dest_bucket}/{dest}/{gen}", "timeCreated": now, "updated": now,
                    "selfLink": f"{API}/b/{dest_bucket}/o/{dest}"})
        self.storage.create_file(dest_bucket, dest, data, new)
        return Out().json({"kind": "storage#rewriteResponse", "totalBytesRewritten": str(size),
                           "objectSize": str(size), "done": True, "resource": new})

    def _batch(self, req: Req) -> Out:
        ctype = req.get_header("content-type") or ""
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        if not ctype.startswith("multipart/mixed") or not m or not isinstance(req.data, bytes):
            return Out().error(400, "Batch requests must be multipart/mixed with a boundary.")
        delim = b"--" + m.group(1).encode()
        parts = []
        for piece in req.data.split(delim)[1:]:
            if piece.startswith(b"--"):
                break
            parts.append(piece.lstrip(b"\r\n"))
        if len(parts) > MAX_BATCH:
            return Out().error(400, f"A batch request cannot contain more than {MAX_BATCH} calls.")
        boundary = "batch_" + secrets.token_hex(12)
        chunks = []
        outer_auth = req.get_header("authorization")
        for i, part in enumerate(parts):
            # Clients differ in line endings: google-cloud-storage sends bare LF.
            mime_head, http = (_BLANK_LINE.split(part, 1) + [b""])[:2]
            mime = {}
            for line in mime_head.splitlines():
                k, _, v = line.decode("latin-1").partition(":")
                mime[k.strip().lower()] = v.strip()
            content_id = mime.get("content-id", f"<{i + 1}>").strip("<>")
            inner_head, inner_body = (_BLANK_LINE.split(http, 1) + [b""])[:2]
            inner_body = inner_body.rstrip(b"\r\n")  # the line break before the next delimiter
            lines = inner_head.decode("latin-1").splitlines()
            try:
                imethod, target, *_ = lines[0].split(" ")
            except ValueError:
                out = Out().error(400, f"malformed batch part {i}")
            else:
                headers = {}
                if outer_auth:
                    headers["authorization"] = outer_auth
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    if k:
                        headers[k.strip().lower()] = v.strip()
                url = urllib.parse.urlsplit(target)
                query = urllib.parse.parse_qs(url.query)
                try:
                    data = _parse_body(inner_body, headers, query)
                except ValueError as err:
                    out = Out().error(400, f"bad body in batch part {i}: {err}")
                else:
                    inner = Req(imethod.upper(), url.path, query, headers, data, req.base_url,
                                req.base_url + target)
                    out = self._route(inner)
            phrase = HTTPStatus(out.status).phrase if out.status in HTTPStatus._value2member_map_ else ""
            head = f"HTTP/1.1 {out.status} {phrase}\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in out.headers.items()) + f"Content-Length: {len(out.body)}\r\n\r\n"
            chunks.append(f"--{boundary}\r\nContent-Type: application/http\r\n"
                          f"Content-ID: <response-{content_id}>\r\n\r\n".encode() + head.encode()
                          + out.body + b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode())
        out = Out()
        out.headers["Content-Type"] = f"multipart/mixed; boundary={boundary}"
        out.body = b"".join(chunks)
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else header and body writes meet the client's delayed ACK (40 ms)
    emulator: Emulator

    def _serve(self, method: str) -> None:
        method = self.headers.get("x-http-method-override") or method
        raw = gserver._read_raw_data(self)
        headers = {k.lower(): v for k, v in self.headers.items()}
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        base = "http://" + (self.headers.get("Host") or "%s:%s" % self.server.server_address[:2])
        try:
            data = raw if url.path == BATCH else _parse_body(raw, headers, query)
        except ValueError as err:
            out = Out().error(400, f"unreadable request body: {err}")
        else:
            out = self.emulator.handle(Req(method, url.path, query, headers, data, base, base + self.path))
        self.send_response(out.status)
        for k, v in out.headers.items():
            self.send_header(k, v)
        # GCS names every answer with an upload id (what its support asks for).
        self.send_header("X-GUploader-UploadID", "emulator-" + uuid.uuid4().hex)
        self.send_header("Content-Length", str(len(out.body)))
        self.end_headers()
        self.wfile.write(out.body)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog: many client threads connect at once


def serve(host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Create the server (bound, not yet serving); ``server.server_address[1]`` is the port."""
    handler = type("BoundHandler", (Handler,), {"emulator": Emulator()})
    return _Server((host, port), handler)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    httpd = serve(args.host, args.port)
    print(f"READY {httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
