"""Wire-level faults: the proxy itself, then every network backend behind it.

Part 1 checks :mod:`tests.faultproxy` against a small real HTTP/1.1 server
started here. Part 2 puts each network backend (s3, gcs, http) behind the
proxy and proves every operation either recovers (the facade retries) or
fails with a typed error, and that no bytes are ever lost or silently wrong.
"""
from __future__ import annotations

import hashlib
import http.client
import http.server
import socket
import threading
import time

import pytest

from tests.faultproxy import FaultProxy


# ---------------------------------------------------------------------------
# Part 1: the proxy against a plain local server
# ---------------------------------------------------------------------------
class _Upstream(http.server.BaseHTTPRequestHandler):
    """Keep-alive server over a dict: GET/HEAD/PUT/DELETE; ``/chunked/...`` answers chunked."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    store: dict = {}

    def log_message(self, *args) -> None:
        pass

    def _key(self) -> str:
        return self.path.split("?")[0].removeprefix("/chunked")

    def _answer(self, code: int, body: bytes, extra: dict | None = None, head: bool = False) -> None:
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.path.startswith("/chunked/") and not head:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                piece = body[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_GET(self) -> None:
        data = self.store.get(self._key())
        if data is None:
            self._answer(404, b"missing")
        else:
            self._answer(200, data, {"X-Md5": hashlib.md5(data).hexdigest()})

    def do_HEAD(self) -> None:
        data = self.store.get(self._key())
        if data is None:
            self._answer(404, b"", head=True)
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()

    def do_PUT(self) -> None:
        n = int(self.headers.get("Content-Length", 0))
        data = self.rfile.read(n)
        self.store[self._key()] = data
        self._answer(200, hashlib.md5(data).hexdigest().encode())

    def do_DELETE(self) -> None:
        self.store.pop(self._key(), None)
        self._answer(204, b"")


@pytest.fixture
def upstream():
    store: dict = {}
    handler = type("Handler", (_Upstream,), {"store": store})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv.server_address[1], store
    srv.shutdown()
    srv.server_close()
    t.join(5)


@pytest.fixture
def proxy(upstream):
    port, _ = upstream
    with FaultProxy("127.0.0.1", port) as px:
        yield px


def _conn(px: FaultProxy, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(px.host, px.port, timeout=timeout)


def _get(conn: http.client.HTTPConnection, path: str, method: str = "GET", body: bytes | None = None):
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    return resp.status, dict(resp.getheaders()), resp.read()


def test_proxy_relays_keep_alive_and_chunked(upstream, proxy):
    _, store = upstream
    store["/a"] = b"alpha" * 10
    store["/b"] = bytes(range(256)) * 3
    c = _conn(proxy)
    assert _get(c, "/a")[2] == b"alpha" * 10
    status, headers, body = _get(c, "/chunked/b")
    assert status == 200 and body == bytes(range(256)) * 3
    assert headers["Content-Length"] == str(len(body)) and "Transfer-Encoding" not in headers
    status, headers, body = _get(c, "/a", "HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == "50"
    assert _get(c, "/new", "PUT", b"xyz")[2] == hashlib.md5(b"xyz").hexdigest().encode()
    assert store["/new"] == b"xyz"
    assert _get(c, "/new", "DELETE")[0] == 204 and "/new" not in store
    assert _get(c, "/nope")[0] == 404
    c.close()
    assert proxy.connections == 1, "all six requests should share one keep-alive connection"
    assert proxy.count() == 6 and proxy.count("GET") == 3 and proxy.count("PUT", r"^/new$") == 1
    assert proxy.faults() == 0


def test_proxy_drop_before_and_mid(upstream, proxy):
    _, store = upstream
    store["/f"] = b"0123456789" * 100
    proxy.drop(method="GET", path="/f", times=1)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _get(_conn(proxy), "/f")
    proxy.drop(mid=True, path="/f", times=1)
    with pytest.raises(http.client.IncompleteRead):
        _get(_conn(proxy), "/f")
    assert _get(_conn(proxy), "/f")[2] == store["/f"]  # both rules spent
    assert proxy.count("GET", "/f") == 3 and proxy.count(fault=True) == 2
    assert proxy.count(fault="drop") == 1 and proxy.count(fault="drop_mid") == 1


def test_proxy_status_answers_without_forwarding(upstream, proxy):
    _, store = upstream
    proxy.status(503, style="s3", method="PUT", times=1)
    proxy.status(429, style="gcs", method="PUT", times=1)
    c = _conn(proxy)
    status, headers, body = _get(c, "/k", "PUT", b"data")
    assert status == 503 and headers["Retry-After"] == "0" and b"<Code>SlowDown</Code>" in body
    status, headers, body = _get(c, "/k", "PUT", b"data")
    assert status == 429 and b'"rateLimitExceeded"' in body
    assert "/k" not in store, "an injected status must not reach the server"
    assert _get(c, "/k", "PUT", b"data")[0] == 200 and store["/k"] == b"data"


def test_proxy_truncate_sends_short_body_then_closes(upstream, proxy):
    _, store = upstream
    store["/t"] = b"x" * 1000
    proxy.truncate(keep=100, path="/t")
    c = _conn(proxy)
    c.request("GET", "/t")
    resp = c.getresponse()
    assert resp.getheader("Content-Length") == "1000"
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert len(info.value.partial) == 100


def test_proxy_flip_keeps_length_changes_one_byte(upstream, proxy):
    _, store = upstream
    data = bytes(range(256)) * 4
    store["/chunked/z"] = store["/z"] = data
    proxy.flip(path="/z", times=2)
    for path in ("/z", "/chunked/z"):
        status, headers, body = _get(_conn(proxy), path)
        assert len(body) == len(data) and body != data
        assert sum(a != b for a, b in zip(body, data)) == 1
        assert headers["X-Md5"] == hashlib.md5(data).hexdigest()  # the header still tells the truth
    assert _get(_conn(proxy), "/z")[2] == data


def test_proxy_flip_request_body_reaches_server_corrupted(upstream, proxy):
    _, store = upstream
    proxy.flip_request(method="PUT", offset=0)
    status, _, body = _get(_conn(proxy), "/p", "PUT", b"hello")
    assert status == 200 and store["/p"] == bytes([ord("h") ^ 0xFF]) + b"ello"


def test_proxy_delay_trips_client_timeout(upstream, proxy):
    _, store = upstream
    store["/d"] = b"slow"
    proxy.delay(0.6, path="/d")
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError)):
        _get(_conn(proxy, timeout=0.2), "/d")
    assert time.monotonic() - t0 < 0.55
    assert _get(_conn(proxy), "/d")[2] == b"slow"


def test_proxy_plan_matching_skip_forever_and_probability(upstream, proxy):
    _, store = upstream
    for i in range(200):
        store[f"/m/{i}"] = b"v"
    proxy.status(500, method="GET", path=r"^/m/1\d$", skip=2, times=None)
    proxy.status(404, path=r"^/m/3$", times=None, method={"DELETE"})
    proxy.flip(path=r"^/m/(1\d\d)$", p=0.25, times=None)
    c = _conn(proxy)
    statuses = [_get(c, f"/m/{i}")[0] for i in range(10, 20)]
    assert statuses == [200, 200] + [500] * 8
    assert _get(c, "/m/3")[0] == 200 and _get(c, "/m/3", "DELETE")[0] == 404
    flipped = sum(_get(c, f"/m/{i}")[2] != b"v" for i in range(100, 200))
    assert 10 < flipped < 45 and proxy.count(fault="flip") == flipped
    with pytest.raises(ValueError, match="unknown fault kind"):
        proxy.add("explode")
    with pytest.raises(ValueError, match="style"):
        proxy.status(503, style="azure")


def test_proxy_flip_is_reproducible_with_a_seed(upstream):
    port, store = upstream
    for i in range(50):
        store[f"/s/{i}"] = b"payload"

    def flipped_set() -> set[int]:
        with FaultProxy("127.0.0.1", port, seed=7) as px:
            px.flip(path="^/s/", p=0.3, times=None)
            c = _conn(px)
            return {i for i in range(50) if _get(c, f"/s/{i}")[2] != b"payload"}

    first = flipped_set()
    assert first and first == flipped_set()


# ---------------------------------------------------------------------------
# Part 2: every network backend behind the proxy
# ---------------------------------------------------------------------------
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Callable  # noqa: E402

from cloudfiles import CloudFiles  # noqa: E402
from cloudfiles.exceptions import (  # noqa: E402
    AuthorizationError,
    CloudFilesError,
    IntegrityError,
    NetworkError,
    ServerError,
    ThrottledError,
    TransientError,
)
from cloudfiles.retry import RetryPolicy  # noqa: E402

FAST = RetryPolicy(attempts=7, initial_window=0.01)
TIMEOUT = 0.5  # client timeout (s) for the delay tests; every other test uses 10 s


@dataclass
class Net:
    """One network backend with a FaultProxy in front of its real server.

    ``cf()`` goes through the proxy; ``direct`` bypasses it (to plant objects
    and to read back what the server really stored). The ``*_rx(key)``
    helpers take a key regex (plain keys match themselves) and return the
    regex for ``FaultProxy`` rules and counts that matches the request each
    operation makes for it.
    """

    name: str
    px: FaultProxy
    make_cf: Callable[..., CloudFiles]
    direct: CloudFiles
    writable: bool
    checksums: bool       # whole-object GETs carry a checksum the facade verifies
    listable: bool
    can_head: bool
    get_rx: Callable[[str], str]
    head_rx: Callable[[str], str]
    head_method: str
    put_rx: Callable[[str], str]
    put_method: str
    delete_rx: Callable[[str], str]
    list_rx: str
    list_probes: int = 0  # extra listing requests (http probes the listing kind once)
    extra: dict = field(default_factory=dict)

    def cf(self, **kwargs) -> CloudFiles:
        opts = {"retry_policy": FAST, "timeout": 10.0}
        opts.update(kwargs)
        return self.make_cf(**opts)

    def plant(self, files: dict[str, bytes]) -> None:
        """Store ``files`` on the server directly (no proxy, no faults)."""
        self.direct.puts([{"path": k, "content": v} for k, v in files.items()])


def _selected(name: str) -> bool:
    chosen = os.environ.get("CLOUDFILES_TEST_BACKENDS")
    base = name.split("-")[0]
    return not chosen or name in chosen.split(",") or base in chosen.split(",")


def _make_s3(request, style="s3") -> Net:
    server = request.getfixturevalue("s3_server")
    bucket = server.make_bucket()
    port = int(server.endpoint.rsplit(":", 1)[1])
    px = FaultProxy("127.0.0.1", port, style=style).start()
    request.addfinalizer(px.stop)
    obj = lambda key: rf"^/{bucket}/prefix/{key}$"  # noqa: E731
    return Net(
        "s3", px,
        make_cf=lambda **kw: CloudFiles(f"s3://{px.url}/{bucket}/prefix", secrets=server.secrets, **kw),
        direct=CloudFiles(server.cloudpath(bucket, "prefix"), secrets=server.secrets),
        writable=True, checksums=True, listable=True, can_head=True,
        get_rx=obj, head_rx=obj, head_method="HEAD", put_rx=obj, put_method="PUT", delete_rx=obj,
        list_rx=rf"^/{bucket}\?.*list-type=2", extra={"bucket": bucket},
    )


def _make_gcs(request) -> Net:
    server = request.getfixturevalue("gcs_server")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.endpoint)
    bucket = server.create_bucket()
    px = FaultProxy("127.0.0.1", server.port, style="gcs").start()
    request.addfinalizer(px.stop)
    obj = lambda key: rf"^/storage/v1/b/{bucket}/o/prefix%2F{key}"  # noqa: E731
    return Net(
        "gcs", px,
        make_cf=lambda **kw: CloudFiles(f"gs://{bucket}/prefix", secrets={"endpoint": px.url}, **kw),
        direct=CloudFiles(f"gs://{bucket}/prefix", secrets={"endpoint": server.endpoint}),
        writable=True, checksums=True, listable=True, can_head=True,
        get_rx=lambda key: obj(key) + r"\?alt=media", head_rx=lambda key: obj(key) + r"\?fields=",
        head_method="GET",
        put_rx=lambda key: rf"^/upload/storage/v1/b/{bucket}/o\?uploadType=multipart", put_method="POST",
        delete_rx=lambda key: obj(key) + "$", list_rx=rf"^/storage/v1/b/{bucket}/o\?",
        extra={"bucket": bucket},
    )


def _make_http(request) -> Net:
    server = request.getfixturevalue("http_server")
    directory, url = server.fresh()
    port = int(server.url.rsplit(":", 1)[1])
    px = FaultProxy("127.0.0.1", port, style="plain").start()
    request.addfinalizer(px.stop)
    sub = url.rstrip("/").rsplit("/", 1)[1]
    obj = lambda key: rf"^/{sub}/{key}$"  # noqa: E731
    return Net(
        "http", px,
        make_cf=lambda **kw: CloudFiles(f"{px.url}/{sub}/", **kw),
        direct=CloudFiles("file://" + str(directory)),
        writable=False, checksums=False, listable=True, can_head=True,
        get_rx=obj, head_rx=obj, head_method="HEAD", put_rx=obj, put_method="PUT", delete_rx=obj,
        list_rx=rf"^/{sub}/$", list_probes=1,
    )


def _make_http_s3(request) -> Net:
    """The read-only HTTP backend reading a public S3 bucket: it reports the S3 ETag."""
    server = request.getfixturevalue("s3_server")
    bucket = server.make_bucket(public=True)
    port = int(server.endpoint.rsplit(":", 1)[1])
    px = FaultProxy("127.0.0.1", port, style="s3").start()
    request.addfinalizer(px.stop)
    obj = lambda key: rf"^/{bucket}/prefix/{key}$"  # noqa: E731
    return Net(
        "http-s3", px,
        make_cf=lambda **kw: CloudFiles(f"{px.url}/{bucket}/prefix/", **kw),
        direct=CloudFiles(server.cloudpath(bucket, "prefix"), secrets=server.secrets),
        writable=False, checksums=True, listable=False,
        can_head=False,  # moto answers 403 to anonymous HEAD even where a bucket policy allows GetObject
        get_rx=obj, head_rx=obj, head_method="HEAD", put_rx=obj, put_method="PUT", delete_rx=obj,
        list_rx=r"^$", extra={"bucket": bucket},
    )


_MAKERS = {"s3": _make_s3, "gcs": _make_gcs, "http": _make_http, "http-s3": _make_http_s3}
ALL = [n for n in _MAKERS if _selected(n)]
WRITABLE = [n for n in ("s3", "gcs") if _selected(n)]
# Plain web servers (nginx) send no checksum, so a flipped byte there is
# undetectable by design; "http-s3" covers the HTTP backend's verification.
CHECKSUMMED = [n for n in ("s3", "gcs", "http-s3") if _selected(n)]
LISTABLE = [n for n in ("s3", "gcs", "http") if _selected(n)]


@pytest.fixture
def net(request) -> Net:
    return _MAKERS[request.param](request)


def _data(i: int = 0, n: int = 3000) -> bytes:
    return random.Random(i).randbytes(n)


# -- corrupted GET bodies ------------------------------------------------------
@pytest.mark.parametrize("net", CHECKSUMMED, indirect=True)
def test_flipped_get_body_is_detected_and_retried(net):
    data = _data(1)
    net.plant({"obj": data})
    net.px.flip(method="GET", path=net.get_rx("obj"), times=2)
    assert net.cf().get("obj") == data
    assert net.px.count("GET", net.get_rx("obj")) == 3
    assert net.px.count(fault="flip") == 2


@pytest.mark.parametrize("net", CHECKSUMMED, indirect=True)
def test_persistent_corruption_raises_never_returns_bad_bytes(net):
    net.plant({"obj": _data(2)})
    net.px.flip(method="GET", path=net.get_rx("obj"), times=None)
    with pytest.raises(IntegrityError):
        net.cf().get("obj")
    assert net.px.count("GET", net.get_rx("obj")) == FAST.attempts


@pytest.mark.parametrize("net", CHECKSUMMED, indirect=True)
def test_list_get_reports_the_corrupt_file_alone(net):
    files = {f"f{i}": _data(10 + i) for i in range(6)}
    net.plant(files)
    net.px.flip(method="GET", path=net.get_rx("f3"), times=None)
    results = net.cf().get(list(files))
    assert len(results) == len(files)
    for res in results:
        if res["path"] == "f3":
            assert isinstance(res["error"], IntegrityError) and res["content"] is None
        else:
            assert res["error"] is None and res["content"] == files[res["path"]]


# -- truncated and dropped responses -------------------------------------------
@pytest.mark.parametrize("net", ALL, indirect=True)
def test_truncated_body_is_retried(net):
    data = _data(3)
    net.plant({"obj": data})
    net.px.truncate(method="GET", path=net.get_rx("obj"), times=2)
    assert net.cf().get("obj") == data
    net.px.truncate(keep=1, method="GET", path=net.get_rx("obj"), times=1)
    assert net.cf().get({"path": "obj", "start": 100, "end": 2100}) == data[100:2100]
    assert net.px.count("GET", net.get_rx("obj")) == 5


@pytest.mark.parametrize("net", ALL, indirect=True)
def test_truncation_every_time_raises_never_short_bytes(net):
    net.plant({"obj": _data(4)})
    net.px.truncate(method="GET", path=net.get_rx("obj"), times=None)
    with pytest.raises(NetworkError):
        net.cf().get("obj")
    with pytest.raises(NetworkError):
        net.cf().get({"path": "obj", "start": 10, "end": 1000})
    [res] = net.cf().get(["obj"])
    assert isinstance(res["error"], NetworkError) and res["content"] is None
    assert net.px.count("GET", net.get_rx("obj")) == 3 * FAST.attempts


@pytest.mark.parametrize("mid", [False, True], ids=["before", "mid"])
@pytest.mark.parametrize("net", ALL, indirect=True)
def test_dropped_connection_on_get_is_retried(net, mid):
    data = _data(5)
    net.plant({"obj": data})
    net.px.drop(mid=mid, method="GET", path=net.get_rx("obj"), times=3)
    assert net.cf().get("obj") == data
    assert net.px.count("GET", net.get_rx("obj")) == 4


# -- statuses ------------------------------------------------------------------
def _ops(net: Net, data: bytes):
    """(name, method, path regex, action, check) for every operation the backend supports."""
    cf = net.cf()
    ops = [
        ("get", "GET", net.get_rx("obj"), lambda: cf.get("obj"), lambda r: r == data),
        ("get-range", "GET", net.get_rx("obj"), lambda: cf.get({"path": "obj", "start": 5, "end": 50}),
         lambda r: r == data[5:50]),
    ]
    if net.can_head:
        ops.append(("head", net.head_method, net.head_rx("obj"), lambda: cf.head("obj"),
                    lambda r: r["Content-Length"] == len(data)))
        ops.append(("exists", net.head_method, net.head_rx("obj"), lambda: cf.exists("obj"),
                    lambda r: r is True))
    if net.listable:
        ops.append(("list", "GET", net.list_rx, lambda: list(cf.list()), lambda r: r == ["obj"]))
    if net.writable:
        ops.append(("put", net.put_method, net.put_rx("new"), lambda: cf.put("new", data),
                    lambda r: net.direct.get("new") == data))
        ops.append(("delete", "DELETE", net.delete_rx("obj"), lambda: cf.delete("obj"),
                    lambda r: net.direct.exists("obj") is False))
    return ops


@pytest.mark.parametrize("code", [503, 429])
@pytest.mark.parametrize("net", ALL, indirect=True)
def test_503_and_429_are_retried_for_every_operation(net, code):
    data = _data(6)
    net.plant({"obj": data})
    failed = []
    for name, method, rx, action, check in _ops(net, data):
        net.px.reset()
        net.px.status(code, method=method, path=rx, times=2)
        try:
            result = action()
        except CloudFilesError as err:
            failed.append(f"{name}: raised {err!r}")
            continue
        if not check(result):
            failed.append(f"{name}: wrong result {result!r:.80}")
        elif net.px.count(method, rx) != 3 + (net.list_probes if name == "list" else 0):
            failed.append(f"{name}: {net.px.count(method, rx)} requests seen, expected 3")
    assert not failed, f"{net.name} HTTP {code}: " + "; ".join(failed)


@pytest.mark.parametrize("net", ALL, indirect=True)
def test_403_fails_at_once_with_authorization_error(net):
    data = _data(7)
    net.plant({"obj": data})
    failed = []
    for name, method, rx, action, _ in _ops(net, data):
        net.px.reset()
        net.px.status(403, method=method, path=rx, times=None)
        try:
            action()
            failed.append(f"{name}: no error")
        except AuthorizationError:
            if net.px.count(method, rx) != 1:
                failed.append(f"{name}: {net.px.count(method, rx)} requests, expected 1")
        except Exception as err:
            failed.append(f"{name}: raised {err!r}, expected AuthorizationError")
    assert not failed, f"{net.name} HTTP 403: " + "; ".join(failed)


@pytest.mark.parametrize("net", ALL, indirect=True)
def test_404_means_missing_and_is_not_retried(net):
    net.plant({"obj": _data(8)})
    cf = net.cf()
    net.px.status(404, method="GET", path=net.get_rx("obj"), times=None)
    assert cf.get("obj") is None
    assert net.px.count("GET", net.get_rx("obj")) == 1
    if not net.can_head:
        return
    net.px.status(404, method=net.head_method, path=net.head_rx("obj"), times=None)
    assert cf.exists("obj") is False
    assert net.px.count(net.head_method, net.head_rx("obj")) == 1


# -- uploads -------------------------------------------------------------------
@pytest.mark.parametrize("mid", [False, True], ids=["before", "after-stored"])
@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_dropped_put_is_retried_and_stored_complete(net, mid):
    data = _data(9, 50_000)
    net.px.drop(mid=mid, method=net.put_method, path=net.put_rx("up"), times=2)
    net.cf().put("up", data)
    assert net.px.count(net.put_method, net.put_rx("up")) == 3
    assert net.direct.get("up") == data
    assert net.direct.size("up") == len(data)


@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_put_that_keeps_failing_raises_and_leaves_nothing(net):
    net.px.drop(method=net.put_method, path=net.put_rx("up"), times=None)
    with pytest.raises(NetworkError):
        net.cf().put("up", _data(10))
    assert net.px.count(net.put_method, net.put_rx("up")) == FAST.attempts
    assert net.direct.exists("up") is False
    net.px.reset()
    net.px.status(503, method=net.put_method, path=net.put_rx("up"), times=None)
    with pytest.raises((ServerError, ThrottledError)):
        net.cf().put("up", _data(10))
    assert net.direct.exists("up") is False


@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_flipped_put_body_is_rejected_by_the_server_and_retried(net):
    data = _data(11, 20_000)
    # offset -100 lands inside the object bytes for both S3 (raw body) and GCS
    # (multipart/related body: the object is followed by a ~40 byte closing boundary).
    net.px.flip_request(offset=-100, method=net.put_method, path=net.put_rx("up"), times=2)
    net.cf().put("up", data)
    assert net.direct.get("up") == data, f"{net.name}: a corrupted upload was accepted and stored as sent"
    assert net.px.count(net.put_method, net.put_rx("up")) == 3


@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_put_corrupted_every_time_raises_integrity_error(net):
    net.px.flip_request(offset=-100, method=net.put_method, path=net.put_rx("up"), times=None)
    with pytest.raises(IntegrityError):
        net.cf().put("up", _data(12, 20_000))
    assert net.direct.exists("up") is False


@pytest.mark.parametrize("net", [n for n in ("s3",) if _selected(n)], indirect=True)
def test_s3_bad_digest_answer_is_retried(net):
    """AWS answers a PUT whose body fails its Content-MD5 with 400 BadDigest
    (moto never does: it checks neither Content-MD5 nor the signed payload
    hash, so the proxy answers for it). That is a corrupted upload: retry."""
    data = _data(14)
    net.px.status(400, error_code="BadDigest", method="PUT", path=net.put_rx("up"), times=2)
    net.cf().put("up", data)
    assert net.px.count("PUT", net.put_rx("up")) == 3
    assert net.direct.get("up") == data


# -- timeouts ------------------------------------------------------------------
@pytest.mark.parametrize("net", ALL, indirect=True)
def test_delay_beyond_timeout_is_retried(net):
    data = _data(13)
    net.plant({"obj": data})
    net.px.delay(TIMEOUT * 3, method="GET", path=net.get_rx("obj"), times=1)
    t0 = time.monotonic()
    assert net.cf(timeout=TIMEOUT).get("obj") == data
    assert TIMEOUT <= time.monotonic() - t0 < TIMEOUT * 3
    assert net.px.count("GET", net.get_rx("obj")) == 2
    net.px.delay(TIMEOUT * 3, method="GET", path=net.get_rx("obj"), times=None)
    with pytest.raises(NetworkError):
        net.cf(timeout=TIMEOUT, retry_policy=RetryPolicy(attempts=2, initial_window=0.01)).get("obj")


# -- many files at once ------------------------------------------------------------
@pytest.mark.parametrize("net", CHECKSUMMED, indirect=True)
def test_many_files_with_random_corruption(net):
    files = {f"m{i:03d}": _data(1000 + i, 200 + i) for i in range(200)}
    net.plant(files)
    net.px.flip(method="GET", path=net.get_rx(r"m\d+"), p=0.10, times=None)
    results = net.cf().get(list(files))
    _assert_none_silently_wrong(results, files)
    assert net.px.count(fault="flip") >= 5
    assert net.px.count("GET") >= len(files) + net.px.count(fault="flip")


@pytest.mark.parametrize("net", ALL, indirect=True)
def test_many_files_with_mixed_faults(net):
    files = {f"m{i:03d}": _data(2000 + i, 300 + i) for i in range(200)}
    net.plant(files)
    rx = net.get_rx(r"m\d+")
    net.px.truncate(method="GET", path=rx, p=0.05, times=None)
    net.px.drop(method="GET", path=rx, p=0.05, times=None)
    net.px.drop(mid=True, method="GET", path=rx, p=0.05, times=None)
    net.px.status(503, method="GET", path=rx, p=0.05, times=None)
    if net.checksums:
        net.px.flip(method="GET", path=rx, p=0.05, times=None)
    results = net.cf().get(list(files))
    _assert_none_silently_wrong(results, files)
    assert net.px.faults() >= 20


def _assert_none_silently_wrong(results: list[dict], files: dict[str, bytes]) -> None:
    assert sorted(r["path"] for r in results) == sorted(files)
    for res in results:
        if res["error"] is None:
            assert res["content"] == files[res["path"]], f"{res['path']} silently wrong"
        else:
            assert res["content"] is None
            assert isinstance(res["error"], (IntegrityError, TransientError)), repr(res["error"])


# -- listings ------------------------------------------------------------------
def test_resumable_listing_resumes_after_what_was_yielded_and_gives_up_loudly():
    from cloudfiles.retry import resumable

    calls = []

    def pages(fail_at: set, honour: bool = True):
        def make(after):
            calls.append(after)
            start = 0 if after is None or not honour else int(after[1:]) + 1
            for i in range(start, 10):
                if (len(calls), i) in fail_at:
                    raise ServerError(f"page at {i}")
                yield f"k{i}"
        return make

    assert list(resumable(pages({(1, 4), (2, 7)}), lambda k: k, FAST)) == [f"k{i}" for i in range(10)]
    assert calls == [None, "k3", "k6"]  # each retry asks for what follows the last key yielded
    calls.clear()
    # a lister that ignores its argument and starts over: nothing is yielded twice
    assert list(resumable(pages({(1, 4), (2, 7)}, honour=False), lambda k: k, FAST)) == [f"k{i}" for i in range(10)]
    assert calls == [None, "k3", "k6"]
    calls.clear()
    always = {(n, 0) for n in range(1, 20)}
    with pytest.raises(ServerError):
        list(resumable(pages(always), lambda k: k, FAST))
    assert len(calls) == FAST.attempts
    calls.clear()
    with pytest.raises(AuthorizationError):
        list(resumable(lambda after: (_ for _ in ()).throw(AuthorizationError("no")), lambda k: k, FAST))


@pytest.mark.parametrize("net", [n for n in ("s3", "gcs") if _selected(n)], indirect=True)
def test_listing_page_failure_resumes_after_the_last_key(net):
    cf = net.cf()
    page = cf.backend.list_page_size = 10  # small pages, few objects
    keys = [f"L{i:04d}" for i in range(25)]
    if net.name == "s3":
        resume = "start-after=prefix%2FL0009"
    else:
        resume = "startOffset=prefix%2FL0009"  # inclusive: the client drops the one repeated name
    net.direct.puts([{"path": k, "content": b"x"} for k in keys])
    net.px.status(503, method="GET", path=net.list_rx, skip=1, times=1)   # the second page
    net.px.drop(mid=True, method="GET", path=net.list_rx, skip=1, times=1)  # the first resumed request
    assert list(cf.list()) == keys
    lists = [s for s in net.px.seen if s.method == "GET" and re.search(net.list_rx, s.target)]
    # page 1, page 2 (503), the resume (dropped), the resume again, then the pages after it:
    # never page 1 again
    assert len(lists) == 2 + -(-len(keys) // page)
    assert [s.fault for s in lists[:3]] == [None, "status", "drop_mid"]
    assert not any(resume in s.target for s in lists[:2])
    assert all(resume in s.target for s in lists[2:4]), [s.target for s in lists]
    net.px.reset()
    net.px.status(503, method="GET", path=net.list_rx, skip=2, times=2)
    assert [k for k, _ in cf.list_sizes()] == keys
    assert [m.key for m in cf.list_meta(start_after="L0003")] == keys[4:]


@pytest.mark.parametrize("net", [n for n in ("http",) if _selected(n)], indirect=True)
def test_html_index_listing_resumes_without_rereading_what_was_listed(net):
    """An index page that fails mid-walk: the walk resumes after the last key yielded, so
    the pages of directories already listed are not read again (only the way down is)."""
    files = {f"{d}/{i}": b"x" for d in ("a", "b", "c") for i in range(3)}
    net.plant(files)
    cf = net.cf()
    sub = net.list_rx.strip("^$/")
    net.px.status(503, method="GET", path=rf"^/{sub}/c/$", times=1)
    assert list(cf.list()) == sorted(files)
    # resumed after 'b/2': the base page and b/ (the way down to it) are read again, c/ is
    # retried, and a/ (wholly before 'b/2') is not read again
    assert net.px.count("GET", rf"^/{sub}/c/$") == 2
    assert net.px.count("GET", rf"^/{sub}/b/$") == 2
    assert net.px.count("GET", rf"^/{sub}/a/$") == 1


# -- large objects (parallel parts) ----------------------------------------------
MiB = 1024 * 1024


def _part_rx(net: Net) -> tuple[str, str]:
    """(method, regex) of the second part upload of a multipart/composite write."""
    if net.name == "s3":
        return "PUT", r"[?&]partNumber=2(&|$)"
    return "POST", r"^/upload/storage/v1/b/[^/]+/o\?"  # GCS parts are ordinary uploads of temp objects


@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_large_upload_part_failures_are_retried(net, tmp_path):
    data = random.Random(15).randbytes(11 * MiB)  # three parts of 5 MiB (S3's minimum)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    cf = net.cf(part_size=5 * MiB, large_threshold=5 * MiB, part_threads=3)
    method, rx = _part_rx(net)
    net.px.drop(method=method, path=rx, times=1)
    net.px.status(503, method=method, path=rx, times=1)
    net.px.drop(mid=True, method=method, path=rx, times=1)
    net.px.flip_request(offset=1000, method=method, path=rx, times=1)
    assert cf.upload_file(str(src), "big") == len(data)
    assert net.px.count(fault=True) == 4
    assert net.direct.get("big") == data, f"{net.name}: a corrupted part was accepted and stored as sent"
    assert list(net.direct.list()) == ["big"], "no temporary part objects may be left"


@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_large_upload_that_keeps_failing_leaves_nothing(net, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(random.Random(16).randbytes(11 * MiB))
    cf = net.cf(part_size=5 * MiB, large_threshold=5 * MiB, part_threads=3)
    method, rx = _part_rx(net)
    net.px.status(503, method=method, path=rx, times=None)
    with pytest.raises((ServerError, ThrottledError)):
        cf.upload_file(str(src), "big")
    net.px.reset()
    assert list(net.direct.list()) == []


# Large downloads start with a HEAD, which moto refuses anonymously: no http-s3 here.
HEADABLE_CHECKSUMMED = [n for n in CHECKSUMMED if n != "http-s3"]


@pytest.mark.parametrize("net", HEADABLE_CHECKSUMMED, indirect=True)
def test_large_download_with_a_corrupt_part_is_retried_or_refused(net, tmp_path):
    data = random.Random(17).randbytes(3 * MiB + 123)
    net.plant({"big": data})
    cf = net.cf(part_size=1 * MiB, large_threshold=1 * MiB, part_threads=4)
    # Flip a byte in the first ranged read only: the whole-object check must catch it.
    net.px.flip(method="GET", path=net.get_rx("big"), times=1)
    out = tmp_path / "big.out"
    assert cf.download_file("big", str(out)) == len(data)
    assert out.read_bytes() == data
    assert net.px.count(fault="flip") == 1
    # Corrupt on every attempt: refused, and nothing left at the destination.
    net.px.flip(method="GET", path=net.get_rx("big"), times=None)
    out2 = tmp_path / "big2.out"
    with pytest.raises(IntegrityError):
        cf.download_file("big", str(out2))
    assert not out2.exists() and [p.name for p in tmp_path.iterdir()] == ["big.out"]


@pytest.mark.parametrize("net", [n for n in ALL if n != "http-s3"], indirect=True)
def test_large_download_truncated_parts_are_retried(net, tmp_path):
    data = random.Random(18).randbytes(3 * MiB + 7)
    net.plant({"big": data})
    cf = net.cf(part_size=1 * MiB, large_threshold=1 * MiB, part_threads=4)
    # p is kept low enough that 7 failed attempts of one part (~1e-4) cannot flake the test
    net.px.truncate(method="GET", path=net.get_rx("big"), p=0.2, times=2)
    net.px.drop(mid=True, method="GET", path=net.get_rx("big"), p=0.1, times=None)
    net.px.truncate(method="GET", path=net.get_rx("big"), times=1)
    out = tmp_path / "big.out"
    assert cf.download_file("big", str(out)) == len(data)
    assert out.read_bytes() == data
    assert net.px.count(fault=True) >= 1


# -- many writes, batch deletes and existence checks -------------------------------
@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_many_puts_with_mixed_faults_store_everything_intact(net):
    files = {f"w{i:03d}": _data(3000 + i, 500 + i) for i in range(100)}
    rx = net.put_rx(r"w\d+") if net.name == "s3" else net.put_rx("")
    net.px.drop(method=net.put_method, path=rx, p=0.05, times=None)
    net.px.drop(mid=True, method=net.put_method, path=rx, p=0.05, times=None)
    net.px.status(503, method=net.put_method, path=rx, p=0.05, times=None)
    if net.name != "s3":  # moto stores corrupted uploads as sent: see the s3 upload tests above
        net.px.flip_request(offset=-100, method=net.put_method, path=rx, p=0.05, times=None)
    net.cf().puts([{"path": k, "content": v} for k, v in files.items()])
    assert net.px.faults() >= 5
    net.px.clear()
    got = {r["path"]: r["content"] for r in net.direct.get(list(files))}
    assert got == files


@pytest.mark.parametrize("net", WRITABLE, indirect=True)
def test_batch_delete_and_exists_survive_faults(net):
    files = {f"d{i:02d}": b"x" for i in range(30)}
    net.plant(files)
    batch_method = "POST"
    batch_rx = r"[?&]delete(=|&|$)" if net.name == "s3" else r"^/batch/storage/v1"
    net.px.status(503, method=batch_method, path=batch_rx, times=1)
    net.px.drop(mid=True, method=batch_method, path=batch_rx, times=1)
    cf = net.cf()
    assert cf.exists(list(files) + ["nope"]) == {**{k: True for k in files}, "nope": False}
    cf.delete(list(files)[:20])
    assert sorted(net.direct.list()) == sorted(files)[20:]
    assert net.px.count(fault=True) == 2
