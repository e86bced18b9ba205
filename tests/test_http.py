"""http(s):// backend: ranges, metadata, listings, integrity and failure modes,
against real servers on 127.0.0.1 (nginx or tests/rangeserver.py, moto, the
GCS emulator, and small scripted servers for misbehaviour no real server
shows on demand)."""
from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional

import pytest

from cloudfiles import CloudFiles, exceptions
from cloudfiles.backends.http import HTTPBackend, parse_index
from cloudfiles.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, initial_window=0.01, max_window=0.02)
NO_RETRY = RetryPolicy(attempts=1)


@pytest.fixture(params=["http_server", "http_python_server"])
def served(request):
    """(directory on disk, URL of that directory) on each kind of test server."""
    server = request.getfixturevalue(request.param)
    if request.param == "http_python_server" and server is request.getfixturevalue("http_server"):
        pytest.skip("nginx is absent: http_server is already the Python server")
    return server.fresh()


def writer(directory) -> CloudFiles:
    return CloudFiles("file://" + str(directory))


# -- ranges -------------------------------------------------------------------------
def test_ranges_plain(served):
    directory, url = served
    writer(directory).put("r", b"0123456789")
    cf = CloudFiles(url)
    assert cf.get({"path": "r", "start": -3}) == b"789"
    assert cf.get({"path": "r", "start": -30}) == b"0123456789"  # suffix longer than the file
    assert cf.get({"path": "r", "start": 2, "end": 5}) == b"234"
    assert cf.get({"path": "r", "start": 7}) == b"789"
    assert cf.get({"path": "r", "start": 8, "end": 100}) == b"89"
    assert cf.get({"path": "r", "start": 10}) == b""  # 416 from the server
    assert cf.get({"path": "r", "start": 50, "end": 60}) == b""
    assert cf.get({"path": "r", "start": 4, "end": 4}) == b""  # empty range, file exists
    assert cf.get({"path": "missing", "start": 4, "end": 4}) is None
    assert cf.get({"path": "missing", "start": 50}) is None


def test_range_past_stored_end_of_compressed_file(served):
    """A 416 on the stored bytes must still report the encoding: the range is over decoded bytes."""
    directory, url = served
    data = b"abcdefghij" * 100
    writer(directory).put("c", data, compress="gzip")
    cf = CloudFiles(url)
    stored = cf.size("c")
    assert stored < 200
    assert cf.get({"path": "c", "start": 500, "end": 510}) == data[500:510]
    res = cf.backend.get("c", 500, None)
    assert res.content == b"" and res.encoding == "gzip"


def test_empty_file_suffix_range(served):
    directory, url = served
    writer(directory).put("e", b"")
    cf = CloudFiles(url)
    assert cf.get({"path": "e", "start": -5}) == b""
    assert cf.get({"path": "e", "start": 0}) == b""
    assert cf.get("e") == b""


def test_encodings_served_for_bare_name_with_ranges_on_stored_bytes(served):
    directory, url = served
    w = writer(directory)
    cf = CloudFiles(url)
    data = bytes(range(256)) * 20
    for enc in ("gzip", "br", "zstd", "xz", "bzip2"):
        w.put(f"f-{enc}", data, compress=enc)
        stored = cf.get(f"f-{enc}", raw=True)
        res = cf.backend.get(f"f-{enc}", 3, 9)
        assert res.content == stored[3:9] and res.encoding == enc
        assert cf.get(f"f-{enc}") == data
    # The stored file itself, asked for by its real name, is not re-labelled.
    res = cf.backend.get("f-gzip.gz")
    assert res.encoding is None and gzip.decompress(res.content) == data


def test_odd_key_names_are_quoted(served):
    directory, url = served
    names = ["sp ace", "hash#tag", "q?uery", "pct%41", "ünï", "plus+amp&"]
    writer(directory).puts([(f"odd/{n}", n.encode()) for n in names], compress="gzip")
    cf = CloudFiles(url)
    assert cf.get([f"odd/{n}" for n in names], return_dict=True) == {f"odd/{n}": n.encode() for n in names}
    assert list(cf.list("odd/")) == sorted(f"odd/{n}" for n in names)


def test_large_object_streamed_in_ranged_parts(served, tmp_path):
    directory, url = served
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MB
    w = writer(directory)
    w.put("big", data)
    w.put("bigz", data, compress="gzip")
    cf = CloudFiles(url, part_size=1024 * 1024, part_threads=3)
    assert cf.download_file("big", str(tmp_path / "big")) == len(data)
    assert (tmp_path / "big").read_bytes() == data
    assert b"".join(cf.stream("bigz")) == data
    with cf.open("big") as f:
        assert f.read(10) == data[:10] and f.read() == data[10:]


# -- metadata -------------------------------------------------------------------------
def test_head_fields(served):
    directory, url = served
    writer(directory).put("z", b"x" * 1000, compress="gzip")
    cf = CloudFiles(url)
    head = cf.head("z")
    stored = (directory / "z.gz").stat()
    assert head["Content-Length"] == stored.st_size
    assert head["Content-Encoding"] == "gzip"
    assert head["ETag"]
    assert isinstance(head["Last-Modified"], dt.datetime)
    assert abs(head["Last-Modified"].timestamp() - stored.st_mtime) < 2
    assert head["Content-Type"]
    assert cf.size("z") == stored.st_size and cf.exists("z")
    st = cf.backend.stat("z")
    assert st.size == stored.st_size and st.encoding == "gzip"
    assert st.checksums.etag is None  # a plain web server's ETag is not an md5
    assert cf.head("nope") is None and cf.size("nope") is None and not cf.exists("nope")


def test_directory_key_is_an_error_not_a_page(served):
    directory, url = served
    writer(directory).put("d/x", b"1")
    cf = CloudFiles(url)
    assert cf.get("d") is None  # a directory is not a file
    with pytest.raises(exceptions.CloudPathError, match="directory"):
        cf.backend.get("d/")


def test_read_only(served):
    _, url = served
    cf = CloudFiles(url)
    with pytest.raises(exceptions.UnsupportedOperationError, match="read-only"):
        cf.put("x", b"1")
    with pytest.raises(exceptions.UnsupportedOperationError, match="read-only"):
        cf.delete("x")
    assert cf.backend.features.writable is False


# -- autoindex listing ------------------------------------------------------------------
def test_autoindex_listing_flat_and_recursive(served):
    directory, url = served
    w = writer(directory)
    w.puts([("a", b"1"), ("b/c", b"1"), ("b/d/e", b"1"), ("bb", b"1"), ("b-x", b"1")], compress="gzip")
    w.put("plain", b"p")
    w.put("c.json", b"{}", compress="br")
    (directory / "dup").write_bytes(b"plain copy")  # dup and dup.gz: listed once
    (directory / "dup.gz").write_bytes(gzip.compress(b"zipped"))
    cf = CloudFiles(url)
    assert cf.backend.listing_kind() == "html"
    everything = ["a", "b-x", "b/c", "b/d/e", "bb", "c.json", "dup", "plain"]
    assert list(cf.list()) == everything
    assert list(cf.list(flat=True)) == ["a", "b-x", "b/", "bb", "c.json", "dup", "plain"]
    assert list(cf.list("b")) == ["b-x", "b/c", "b/d/e", "bb"]
    assert list(cf.list("b/")) == ["b/c", "b/d/e"]
    assert list(cf.list("b/", flat=True)) == ["b/c", "b/d/"]
    assert list(cf.list("c.j")) == ["c.json"]
    assert list(cf.list("a.g")) == []  # suffixes are stripped before matching
    assert list(cf.list("nothing/")) == []
    assert dict(cf.list_sizes("b/")) == {"b/c": (directory / "b" / "c.gz").stat().st_size,
                                         "b/d/e": (directory / "b" / "d" / "e.gz").stat().st_size}


def test_no_listing_is_a_clear_error(http_server):
    url = f"{http_server.url}/does-not-exist-{id(http_server)}/"
    cf = CloudFiles(url)
    with pytest.raises(exceptions.UnsupportedOperationError) as info:
        list(cf.list())
    assert url in str(info.value) and "404" in str(info.value)


@pytest.mark.parametrize("status, ctype", [(200, "text/plain"), (403, "text/html"), (200, "application/json")])
def test_no_listing_names_url_and_answers(scripted, status, ctype):
    srv = scripted(lambda m, p, h: (status, {"Content-Type": ctype}, b"{}", None) if p == "/bkt/dir/"
                   else (404, {}, b"", None))
    cf = CloudFiles(srv.url + "/bkt/dir/")
    # A refused directory is an authorization error; anything else means "no listing here".
    expected = exceptions.AuthorizationError if status == 403 else exceptions.UnsupportedOperationError
    with pytest.raises(expected) as info:
        list(cf.list())
    msg = str(info.value)
    assert f"{srv.url}/bkt/dir/" in msg and f"HTTP {status} {ctype}" in msg
    assert "list-type=2" in msg and "/storage/v1/b/bkt/o" in msg  # every probe is reported
    assert cf.get("x") is None  # reads still work


def test_listing_probe_retries_transient_errors(scripted):
    state = {"n": 0}

    def handler(m, p, h):
        if p == "/d/":
            state["n"] += 1
            if state["n"] == 1:
                return 503, {}, b"busy", None
            return 200, {"Content-Type": "text/html"}, b'<a href="x.gz">x.gz</a>', None
        return 404, {}, b"", None

    srv = scripted(handler)
    cf = CloudFiles(srv.url + "/d/", retry_policy=FAST_RETRY)
    assert list(cf.list()) == ["x"]
    assert state["n"] == 3  # 503 on the probe, then the probe and the listing itself


def test_parse_index_keeps_only_children():
    html = """<html><body><h1>Index of /x/</h1><ul>
    <li><a href="/">Parent Directory</a></li>
    <li><a href="?C=N;O=D">Name</a></li>
    <li><a href="../">../</a></li>
    <li><a href="sub%20dir/">sub dir/</a></li>
    <li><a href="/x/abs.txt">abs.txt</a></li>
    <li><a href="http://127.0.0.1:9/x/other-port">elsewhere</a></li>
    <li><a href="http://h/x/full">full</a></li>
    <li><a href="deep/er">deeper</a></li>
    <li><a href="f%C3%BC.gz"><img src="i.png"></a> <a href="f%C3%BC.gz">fü.gz</a></li>
    </ul></body></html>"""
    got = parse_index(html, "http://h/x/")
    assert got == [("sub dir", True), ("abs.txt", False), ("full", False), ("fü.gz", False)]


# -- failure modes, with a scripted server ------------------------------------------------
class Scripted:
    """A real HTTP/1.1 server on 127.0.0.1 whose answers a test scripts.

    ``handler(method, path, headers) -> (status, headers, body, sent)``: ``sent``
    is how many body bytes to actually write (None: all); writing fewer than
    Content-Length and closing is a truncated response.
    """

    def __init__(self, handler: Callable):
        self.requests: list[tuple[str, str, dict]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _any(self):
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append((self.command, self.path, hdrs))
                status, headers, body, sent = handler(self.command, self.path, hdrs)
                self.send_response(status)
                headers = dict(headers)
                headers.setdefault("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body if sent is None else body[:sent])
                if sent is not None:
                    self.close_connection = True
                self.wfile.flush()

            do_GET = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    servers = []

    def start(handler):
        s = Scripted(handler)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def test_truncated_body_raises_never_short_bytes(scripted):
    body = b"y" * 1000
    srv = scripted(lambda m, p, h: (200, {}, body, 400))
    cf = CloudFiles(srv.url + "/d/", retry_policy=FAST_RETRY)
    with pytest.raises(exceptions.TruncatedBodyError, match="ended after 400 of 1000 declared bytes"):
        cf.backend.get("f")
    with pytest.raises(exceptions.NetworkError):
        cf.get("f")
    assert len(srv.requests) == 1 + FAST_RETRY.attempts  # retried by the facade, then raised
    [res] = cf.get(["f"])
    assert isinstance(res["error"], exceptions.NetworkError) and res["content"] is None


def test_truncated_range_raises(scripted):
    srv = scripted(lambda m, p, h: (206, {"Content-Range": "bytes 0-99/1000"}, b"z" * 100, 10))
    with pytest.raises(exceptions.NetworkError):
        CloudFiles(srv.url + "/", retry_policy=NO_RETRY).get({"path": "f", "start": 0, "end": 100})


def test_server_ignoring_range_is_sliced_locally(scripted):
    srv = scripted(lambda m, p, h: (200, {}, b"0123456789", None))
    cf = CloudFiles(srv.url + "/")
    assert cf.get({"path": "f", "start": 2, "end": 5}) == b"234"
    assert cf.get({"path": "f", "start": -2}) == b"89"
    assert srv.requests[0][2]["range"] == "bytes=2-4" and srv.requests[1][2]["range"] == "bytes=-2"


def test_checksums_from_x_goog_hash_are_verified(scripted):
    good = b"payload"
    md5 = base64.b64encode(hashlib.md5(good).digest()).decode()
    state = {"body": b"pAyload"}

    def handler(m, p, h):
        body, state["body"] = state["body"], good  # corrupt once, then right
        return 200, {"x-goog-hash": f"md5={md5}", "x-goog-stored-content-encoding": "identity"}, body, None

    srv = scripted(handler)
    cf = CloudFiles(srv.url + "/", retry_policy=FAST_RETRY)
    assert cf.get("f") == good
    assert len(srv.requests) == 2  # the corrupt copy was caught and fetched again
    state["body"] = b"bad"
    with pytest.raises(exceptions.MD5IntegrityError):
        CloudFiles(srv.url + "/", retry_policy=NO_RETRY).get("g")


def test_transcoded_gcs_response_is_not_checked_against_stored_hash(scripted):
    data = b"decoded bytes"
    stale = base64.b64encode(hashlib.md5(b"the gzip bytes").digest()).decode()
    srv = scripted(lambda m, p, h: (200, {"x-goog-hash": f"md5={stale}",
                                          "x-goog-stored-content-encoding": "gzip"}, data, None))
    assert CloudFiles(srv.url + "/", retry_policy=NO_RETRY).get("f") == data


def test_s3_etag_trusted_only_from_s3(scripted):
    data = b"etag me"
    wrong = '"' + hashlib.md5(b"other").hexdigest() + '"'
    plain = scripted(lambda m, p, h: (200, {"ETag": wrong}, data, None))
    assert CloudFiles(plain.url + "/", retry_policy=NO_RETRY).get("f") == data  # not an S3 ETag
    s3 = scripted(lambda m, p, h: (200, {"ETag": wrong, "x-amz-request-id": "r1"}, data, None))
    with pytest.raises(exceptions.MD5IntegrityError):
        CloudFiles(s3.url + "/", retry_policy=NO_RETRY).get("f")
    kms = scripted(lambda m, p, h: (200, {"ETag": wrong, "x-amz-request-id": "r1",
                                          "x-amz-server-side-encryption": "aws:kms"}, data, None))
    assert CloudFiles(kms.url + "/", retry_policy=NO_RETRY).get("f") == data


@pytest.mark.parametrize("status, exc", [
    (403, exceptions.AuthorizationError),
    (401, exceptions.AuthorizationError),
    (500, exceptions.ServerError),
    (503, exceptions.ServerError),
    (429, exceptions.ThrottledError),
    (418, exceptions.CloudFilesError),
])
def test_status_mapping(scripted, status, exc):
    srv = scripted(lambda m, p, h: (status, {}, b"<Error><Code>Nope</Code></Error>", None))
    cf = CloudFiles(srv.url + "/base/", retry_policy=NO_RETRY)
    with pytest.raises(exc, match=f"{srv.url}/base/f: HTTP {status}"):
        cf.get("f")
    with pytest.raises(exc):
        cf.head("f")


def test_redirects_followed_and_credentials_not_forwarded(scripted):
    other = scripted(lambda m, p, h: (200, {}, b"moved here", None))
    home = scripted(lambda m, p, h: (302, {"Location": other.url + "/new"}, b"", None)
                    if p == "/f" else (200, {}, b"same host", None))
    cf = CloudFiles(home.url + "/", secrets={"user": "u", "password": "p"})
    assert cf.get("f") == b"moved here"
    assert home.requests[0][2]["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert "authorization" not in other.requests[0][2]


def test_head_fallback_when_head_refused(scripted):
    def handler(m, p, h):
        if m == "HEAD":
            return 405, {}, b"", None
        return 206, {"Content-Range": "bytes 0-0/1234", "Content-Encoding": "br"}, b"x", None

    srv = scripted(handler)
    cf = CloudFiles(srv.url + "/")
    assert cf.size("f") == 1234
    assert cf.head("f")["Content-Encoding"] == "br"


def test_timeout_is_applied(scripted):
    import time

    def slow(m, p, h):
        time.sleep(1.5)
        return 200, {}, b"late", None

    srv = scripted(slow)
    cf = CloudFiles(srv.url + "/", timeout=0.3, retry_policy=NO_RETRY)
    t0 = time.monotonic()
    with pytest.raises(exceptions.NetworkError, match="(?i)timed? ?out"):
        cf.get("f")
    assert time.monotonic() - t0 < 1.4


def test_bad_options():
    with pytest.raises(exceptions.InvalidInputError, match="listing must be one of"):
        CloudFiles("http://127.0.0.1:9/x", listing="ftp")
    with pytest.raises(exceptions.InvalidInputError, match="list_page_size"):
        CloudFiles("http://127.0.0.1:9/x", list_page_size=0)
    with pytest.raises(exceptions.InvalidInputError, match="HTTP secrets"):
        CloudFiles("http://127.0.0.1:9/x", secrets={"token": "t"})


def test_http_secret_file(scripted, tmp_path, monkeypatch):
    srv = scripted(lambda m, p, h: (200, {}, h.get("authorization", "none").encode(), None))
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    monkeypatch.setenv("CLOUDFILES_SECRETS_DIR", str(secrets_dir))
    assert CloudFiles(srv.url + "/").get("f") == b"none"
    (secrets_dir / "http-secret.json").write_text(json.dumps({"user": "a", "password": "b"}))
    assert CloudFiles(srv.url + "/").get("f") == b"Basic " + base64.b64encode(b"a:b")
    (secrets_dir / "127.0.0.1-http-secret.json").write_text(json.dumps({"user": "c", "password": "d"}))
    assert CloudFiles(srv.url + "/").get("f") == b"Basic " + base64.b64encode(b"c:d")


# -- use_https and cloud listings ---------------------------------------------------------------
@pytest.mark.parametrize("cloudpath, url, kind", [
    ("gs://bucket/dir/sub", "https://storage.googleapis.com/bucket/dir/sub/", "gcs"),
    ("gs://bucket", "https://storage.googleapis.com/bucket/", "gcs"),
    ("s3://bucket/dir", "https://s3.amazonaws.com/bucket/dir/", "s3"),
    ("s3://https://s3.us-west-2.amazonaws.com/bucket/k", "https://s3.us-west-2.amazonaws.com/bucket/k/", "s3"),
    ("s3://http://127.0.0.1:9/bucket/k", "http://127.0.0.1:9/bucket/k/", None),
])
def test_use_https_mapping(cloudpath, url, kind):
    cf = CloudFiles(cloudpath, use_https=True)
    assert isinstance(cf.backend, HTTPBackend)
    assert cf.backend.base_url == url
    assert cf.backend._listing == kind
    assert cf.backend.url("a b/c") == url + "a%20b/c"


def test_virtual_hosted_buckets():
    b = CloudFiles("https://my-bucket.s3.eu-west-1.amazonaws.com/pre").backend
    assert b._listing == "s3" and b._bucket_and_base() == ("my-bucket", "pre/", True)
    g = CloudFiles("https://my.bucket.storage.googleapis.com/").backend
    assert g._listing == "gcs" and g._bucket_and_base() == ("my.bucket", "", True)


def _public_bucket(s3_server) -> str:
    bucket = s3_server.make_bucket()
    # Anonymous read and list. (moto refuses an anonymous HEAD under a policy
    # granting only s3:GetObject, which AWS allows, hence s3:* on the objects.)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:*"], "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"},
    ]}
    s3_server.boto3_client().put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return bucket


def test_s3_listing_and_reads_over_public_http(s3_server):
    bucket = _public_bucket(s3_server)
    w = CloudFiles(s3_server.cloudpath(bucket, "pre"), secrets=s3_server.secrets)
    names = ["a", "b/c", "b/d/e", "bb", "sp ace"]
    w.puts([(n, n.encode()) for n in names], compress="gzip")
    CloudFiles(s3_server.cloudpath(bucket, "prelude"), secrets=s3_server.secrets).put("x", b"x")  # not under pre/
    w.put("outside", b"x")
    cf = CloudFiles(s3_server.cloudpath(bucket, "pre"), use_https=True, list_page_size=2)
    assert isinstance(cf.backend, HTTPBackend)
    assert cf.backend.listing_kind() == "s3"  # found by probing: a local host is not a known endpoint
    assert list(cf.list()) == sorted(names + ["outside"])
    assert list(cf.list(flat=True)) == ["a", "b/", "bb", "outside", "sp ace"]
    assert list(cf.list("b/", flat=True)) == ["b/c", "b/d/"]
    assert list(cf.list("b")) == ["b/c", "b/d/e", "bb"]
    assert dict(cf.list_sizes("b/d/")) == {"b/d/e": w.size("b/d/e")}
    assert cf.get("sp ace") == b"sp ace"
    assert cf.get({"path": "b/c", "start": 1}) == b"/c"
    assert cf.head("a")["Content-Encoding"] == "gzip"


def test_s3_etag_verified_against_moto(s3_server):
    bucket = _public_bucket(s3_server)
    w = CloudFiles(s3_server.cloudpath(bucket), secrets=s3_server.secrets)
    w.put("obj", b"hello s3")
    cf = CloudFiles(s3_server.cloudpath(bucket), use_https=True)
    res = cf.backend.get("obj")
    assert res.checksums.etag == hashlib.md5(b"hello s3").hexdigest()  # moto sends x-amz-request-id
    assert cf.get("obj") == b"hello s3"


def test_gcs_json_listing_and_hashes_against_emulator(gcs_server, monkeypatch):
    # The emulator's public /BUCKET/OBJECT route sends x-goog-hash but not
    # Content-Encoding, so objects here are stored uncompressed.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    bucket = gcs_server.create_bucket()
    w = CloudFiles(f"gs://{bucket}/pre")
    names = ["a", "b/c", "b/d/e", "bb"]
    w.puts([(n, n.encode() * 50) for n in names])
    CloudFiles(f"gs://{bucket}/prelude").put("x", b"x")  # not under pre/
    cf = CloudFiles(f"{gcs_server.endpoint}/{bucket}/pre", list_page_size=2)
    assert cf.backend.listing_kind() == "gcs"  # found by probing
    assert list(cf.list()) == names
    assert list(cf.list(flat=True)) == ["a", "b/", "bb"]
    assert list(cf.list("b/", flat=True)) == ["b/c", "b/d/"]
    assert list(cf.list("b")) == ["b/c", "b/d/e", "bb"]
    assert dict(cf.list_sizes("b/d/")) == {"b/d/e": 250}
    res = cf.backend.get("b/c")
    sums = res.checksums
    assert sums.md5 == hashlib.md5(b"b/c" * 50).hexdigest() and sums.crc32c and sums.size == 150
    assert cf.get("b/c") == b"b/c" * 50
    assert cf.get({"path": "b/d/e", "start": -3}) == b"d/e"
