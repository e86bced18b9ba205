"""The connection layer (cloudfiles/connpool.py) against a real keep-alive HTTP/1.1
server that counts the TCP connections it accepts and which one carried each request:
reuse, the idle bound under thread bursts, green threads, fork, TLS and servers that
close idle connections."""
from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import pytest

from cloudfiles import CloudFiles, connections

ROOT = Path(__file__).resolve().parent.parent


class Counting(http.server.ThreadingHTTPServer):
    """Answers ``GET /k`` with ``body-k``; records the connection number of each request."""

    daemon_threads = True

    def __init__(self, tls: Optional[ssl.SSLContext] = None, close_after_each: bool = False):
        self.connections = 0
        self.seen: list[tuple[int, str]] = []  # (connection number, path)
        self.close_after_each = close_after_each
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def conns_of(self, path: str) -> list[int]:
        return [c for c, p in self.seen if p == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1
            self.number = self.server.connections

    def do_GET(self) -> None:
        body = ("body-" + self.path.lstrip("/")).encode()
        with self.server.lock:
            self.server.seen.append((self.number, self.path))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.server.close_after_each:
            self.close_connection = True  # without saying so: as an idle timeout would

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    servers = []

    def start(**kw) -> Counting:
        s = Counting(**kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _idle(cf: CloudFiles) -> int:
    return sum(len(p.idle) for p in cf.backend._pm._hosts.values())


def test_sequential_requests_share_one_connection(server):
    srv = server()
    cf = CloudFiles(srv.url + "/", num_threads=1)
    assert [cf.get(f"k{i}") for i in range(20)] == [f"body-k{i}".encode() for i in range(20)]
    assert srv.connections == 1 and len(srv.seen) == 20


def test_a_thread_burst_keeps_at_most_num_threads_idle_and_reuses_them(server):
    srv = server()
    cf = CloudFiles(srv.url + "/", num_threads=4)

    def work(t: int) -> list:
        return [cf.get(f"t{t}-{i}") for i in range(10)]

    with ThreadPoolExecutor(16) as ex:
        got = list(ex.map(work, range(16)))
    assert got == [[f"body-t{t}-{i}".encode() for i in range(10)] for t in range(16)]
    assert 1 <= _idle(cf) <= 4
    opened = srv.connections
    assert opened <= 16  # one per concurrent request at most
    assert [cf.get(f"after{i}") for i in range(10)] == [f"body-after{i}".encode() for i in range(10)]
    assert srv.connections == opened  # kept connections carried the rest


def test_a_server_closing_idle_connections_unannounced_costs_nothing_but_a_connect(server):
    srv = server(close_after_each=True)
    cf = CloudFiles(srv.url + "/", num_threads=1)
    assert [cf.get(f"k{i}") for i in range(5)] == [f"body-k{i}".encode() for i in range(5)]
    assert srv.connections == 5 and len(srv.seen) == 5  # no request sent twice


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_uses_its_parents_connection(server):
    srv = server()
    cf = CloudFiles(srv.url + "/", num_threads=1)
    assert cf.get("parent1") == b"body-parent1"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        try:
            out = json.dumps({"got": cf.get("child").decode(), "idle": _idle(cf)}).encode()
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            out = json.dumps({"error": repr(err)}).encode()
        os.write(write, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        report = json.loads(f.read())
    os.waitpid(pid, 0)
    assert report == {"got": "body-child", "idle": 1}, report
    assert cf.get("parent2") == b"body-parent2"
    parent, child = srv.conns_of("/parent1"), srv.conns_of("/child")
    assert child != parent, "the child sent its request on the parent's connection"
    assert srv.conns_of("/parent2") == parent  # the parent's connection survived the child
    assert srv.connections == 2


_GREEN = r"""
from gevent import monkey; monkey.patch_all()
import json, sys
from cloudfiles import CloudFiles
cf = CloudFiles(sys.argv[1] + "/", green=True, num_threads=8)
keys = [f"g{i}" for i in range(200)]
res = cf.get(keys)
ok = all(r["error"] is None and r["content"] == ("body-" + r["path"]).encode() for r in res)
print(json.dumps({"ok": ok, "n": len(res)}))
"""


def test_green_threads_share_the_pool(server):
    pytest.importorskip("gevent")
    srv = server()
    out = subprocess.run([sys.executable, "-c", _GREEN, srv.url], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"ok": True, "n": 200}
    assert len(srv.seen) == 200 and srv.connections <= 8 * 2


def _tls_cert(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudfiles test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx, cert_path


_TLS = r"""
import json, sys
from cloudfiles import CloudFiles
cf = CloudFiles(sys.argv[1] + "/", num_threads=1)
print(json.dumps([cf.get(f"s{i}").decode() for i in range(5)]))
"""


def test_tls_verifies_against_the_trust_store_and_keeps_the_connection(server, tmp_path):
    """A certificate the trust store ($SSL_CERT_FILE here) vouches for is accepted, for
    its IP address; the TLS connection carries every request."""
    ctx, cert = _tls_cert(tmp_path)
    srv = server(tls=ctx)
    out = subprocess.run([sys.executable, "-c", _TLS, srv.url], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), SSL_CERT_FILE=str(cert)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [f"body-s{i}" for i in range(5)]
    assert srv.connections == 1


def test_reset_connection_pools_closes_idle_connections_and_clients_keep_working(server):
    srv = server()
    cf = CloudFiles(srv.url + "/", num_threads=2)
    assert cf.get("a") == b"body-a" and _idle(cf) == 1
    connections.reset_connection_pools()
    assert _idle(cf) == 0
    assert cf.get("b") == b"body-b"
    assert srv.connections == 2
