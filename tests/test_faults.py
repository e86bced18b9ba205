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
