"""Hostile HTTP servers: bodies that lie about their length, never end or trickle,
Retry-After storms, self-signed TLS and unreachable ports.

Each server is a few lines of raw socket code on 127.0.0.1 in this process. Each
client runs in a child process under a wall-clock timeout and an address-space
limit (RLIMIT_AS: its size after imports plus 512 MiB), reads through the public
API (``CloudFiles(...).get``) and reports the exception type, the elapsed time
and its RSS growth, so a regression fails instead of hanging CI or eating the
machine.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import pytest

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
HEADROOM_MB = 512

CHILD = r'''
import json, resource, sys, time
from cloudfiles import CloudFiles, exceptions
from cloudfiles.retry import RetryPolicy
import cloudfiles.backends.http, cloudfiles.backends.s3, cloudfiles.backends.gcs  # noqa: F401 (before the limit)

def vm():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

limit = vm() + int(sys.argv[2]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {}
t = time.monotonic()
try:
    exec(sys.argv[1])
    out["ok"] = True
except BaseException as e:
    out.update(type=type(e).__name__, mro=[c.__name__ for c in type(e).__mro__], msg=str(e),
               notes=list(getattr(e, "__notes__", [])))
out["elapsed"] = time.monotonic() - t
out["rss_growth_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
print(json.dumps(out))
'''


def run_client(code: str, timeout: float = 40, env: Optional[dict] = None) -> tuple[dict, str]:
    """Run ``code`` (which may use ``CloudFiles``, ``RetryPolicy``, ``exceptions``) in a
    bounded child; returns its report and its stderr."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    proc = subprocess.run([sys.executable, "-c", CHILD, code, str(HEADROOM_MB)], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=str(ROOT))
    assert proc.stdout.strip(), f"child died (rc {proc.returncode}): {proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


class Hostile:
    """A raw TCP (optionally TLS) server: ``respond(conn, head)`` writes what it likes.

    One request per connection; ``requests`` counts request heads read and
    ``connections`` accepted connections.
    """

    def __init__(self, respond: Callable[[socket.socket, bytes], None], tls: Optional[ssl.SSLContext] = None):
        self.respond = respond
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.connections = 0
        self.times: list[float] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            self.requests += 1
            self.times.append(time.monotonic())
            self.respond(conn, head)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self.closed = True
        self.sock.close()


@pytest.fixture
def hostile():
    servers: list[Hostile] = []

    def start(respond, tls=None) -> Hostile:
        s = Hostile(respond, tls)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def _get(backend: str, url: str, extra: str = "") -> str:
    """Client code reading key ``f`` from the hostile server through ``backend``."""
    if backend == "http":
        return f"CloudFiles({url + '/d/'!r}{extra}).get('f')"
    if backend == "s3":
        return f"CloudFiles({'s3://' + url + '/bucket/'!r}, no_sign_request=True{extra}).get('f')"
    return f"CloudFiles('gs://bucket/', secrets={{'endpoint': {url!r}}}{extra}).get('f')"


BACKENDS = ["http", "s3", "gs"]


def _send(conn: socket.socket, data: bytes) -> None:
    conn.sendall(data)


# -- bodies ------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_declared_2gib_with_10_bytes_is_a_short_body_in_bounded_memory(hostile, backend):
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n"
                                       b"Connection: close\r\n\r\n0123456789"))
    fast = ", retry_policy=RetryPolicy(attempts=3, initial_window=0.01)"
    out, _ = run_client(_get(backend, srv.url(), fast))
    assert out["type"] == "TruncatedBodyError", out
    assert "ended after 10 of 2147483648 declared bytes" in out["msg"]
    assert srv.requests == 3  # a short body is transient: retried, then the clear error
    assert out["rss_growth_mb"] < 64, out


@pytest.mark.parametrize("backend", BACKENDS)
def test_declared_100gib_is_refused_before_reading(hostile, backend):
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 200 OK\r\nContent-Length: 107374182400\r\n\r\nxx"))
    out, _ = run_client(_get(backend, srv.url()))
    assert out["type"] == "ResponseTooLargeError" and "MemoryError" in out["mro"], out
    assert "107374182400" in out["msg"] and "max_body" in out["msg"]
    assert srv.requests == 1  # not retried
    assert out["elapsed"] < 5 and out["rss_growth_mb"] < 64


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunk_size_FFFFFFFFFF_is_refused(hostile, backend):
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       b"FFFFFFFFFF\r\nabc"))
    out, _ = run_client(_get(backend, srv.url()))
    assert out["type"] == "ResponseTooLargeError", out
    assert str(0xFFFFFFFFFF) in out["msg"]
    assert srv.requests == 1 and out["elapsed"] < 5 and out["rss_growth_mb"] < 64


def _endless(conn: socket.socket, chunked: bool) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + (b"Transfer-Encoding: chunked\r\n" if chunked else b"")
                 + b"Connection: close\r\n\r\n")
    block = b"x" * (1 << 20)
    piece = b"100000\r\n" + block + b"\r\n" if chunked else block
    while True:
        conn.sendall(piece)


@pytest.mark.parametrize("chunked", [False, True], ids=["close-delimited", "chunked"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_endless_body_stops_at_max_body(hostile, backend, chunked):
    srv = hostile(lambda c, h: _endless(c, chunked))
    out, _ = run_client(_get(backend, srv.url(), ", max_body=32 * 2**20"))
    assert out["type"] == "ResponseTooLargeError", out
    assert "max_body=33554432" in out["msg"]
    assert srv.requests == 1 and out["elapsed"] < 20
    assert out["rss_growth_mb"] < 3 * 32 + 32, out


def test_endless_body_limit_from_environment(hostile):
    srv = hostile(lambda c, h: _endless(c, False))
    out, _ = run_client(_get("http", srv.url()), env={"CLOUDFILES_MAX_BODY": str(8 * 2**20)})
    assert out["type"] == "ResponseTooLargeError" and "max_body=8388608" in out["msg"], out


@pytest.mark.parametrize("backend", BACKENDS)
def test_body_longer_than_declared_is_an_error(hostile, backend):
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n0123456789"))
    out, _ = run_client(_get(backend, srv.url(), ", retry_policy=RetryPolicy(attempts=2, initial_window=0.01)"))
    assert out["type"] == "BadResponseError", out
    assert "more than its Content-Length of 5" in out["msg"]
    assert srv.requests == 2


@pytest.mark.parametrize("backend", ["http", "s3"])
def test_streamed_range_longer_than_asked_is_refused(hostile, backend):
    """The large-download path streams ranged slices to disk: a 206 declaring more
    than the range asked for is refused before a byte is written."""
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/10\r\n"
                                       b"Content-Length: 1000000000000\r\n\r\n0123456789"))
    if backend == "http":
        code = f"CloudFiles({srv.url() + '/d/'!r}).backend.read_range_into('f', 0, memoryview(bytearray(10)))"
    else:
        code = (f"CloudFiles({'s3://' + srv.url() + '/bucket/'!r}, no_sign_request=True)"
                ".backend.read_range_to('f', 0, 10, lambda chunk: None)")
    out, _ = run_client(code)
    assert out["type"] == "BadResponseError" and "a 206 of 1000000000000 bytes for a range of 10" in out["msg"], out
    assert out["elapsed"] < 5


def test_malformed_lengths_are_clear_errors(hostile):
    for bad in (b"Content-Length: -5", b"Content-Length: 5, 6", b"Transfer-Encoding: chunked\r\n\r\nzz"):
        srv = hostile(lambda c, h, bad=bad: _send(c, b"HTTP/1.1 200 OK\r\n" + bad + b"\r\n\r\n12345"))
        out, _ = run_client(_get("http", srv.url(), ", retry_policy=RetryPolicy(attempts=1)"))
        assert out["type"] == "BadResponseError", (bad, out)


def test_endless_header_is_bounded(hostile):
    def respond(conn, head):
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while True:
            conn.sendall(b"X-Junk: " + b"y" * 65536 + b"\r\n")

    srv = hostile(respond)
    out, _ = run_client(_get("http", srv.url(), ", retry_policy=RetryPolicy(attempts=1)"))
    assert out["type"] == "BadResponseError" and "response header longer than" in out["msg"], out
    assert out["rss_growth_mb"] < 64


# -- deadlines ----------------------------------------------------------------------
def _trickle(conn: socket.socket, head: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n") -> None:
    conn.sendall(head)
    for _ in range(100):
        conn.sendall(b"x")
        time.sleep(1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_body_at_1_byte_per_second_ends_at_the_deadline(hostile, backend):
    srv = hostile(lambda c, h: _trickle(c))
    out, _ = run_client(_get(backend, srv.url(), ", timeout=5, deadline=3"))
    assert out["type"] == "DeadlineExceededError" and "TimeoutError" in out["mro"], out
    assert "deadline of 3 s" in out["msg"]
    assert 2.5 < out["elapsed"] < 5, out
    assert srv.requests == 1  # not retried: the same server would be as slow again


def test_trickled_headers_end_at_the_deadline_from_environment(hostile):
    def respond(conn, head):
        for b in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 100:
            conn.sendall(bytes([b]))
            time.sleep(0.5)

    srv = hostile(respond)
    out, _ = run_client(_get("http", srv.url(), ", timeout=5"), env={"CLOUDFILES_DEADLINE": "2"})
    assert out["type"] == "DeadlineExceededError", out
    assert 1.5 < out["elapsed"] < 4


def test_stalled_server_bounded_by_the_retry_deadline(hostile):
    srv = hostile(lambda c, h: time.sleep(30))  # accepts, reads the request, never answers
    code = _get("http", srv.url(), ", timeout=0.5, retry_policy=RetryPolicy(attempts=7, initial_window=0.01, total=1.2)")
    out, _ = run_client(code)
    assert out["type"] == "NetworkError" and "no data from the server for 0.5 s" in out["msg"], out
    assert out["elapsed"] < 2.5, out
    assert 2 <= srv.requests <= 4  # not 7: the retry deadline stopped it
    assert any("retry deadline of 1.2 s" in n for n in out["notes"])


def test_retry_after_large_value_is_capped(hostile):
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 503 Slow Down\r\nRetry-After: 3600\r\n"
                                       b"Content-Length: 0\r\n\r\n"))
    code = _get("http", srv.url(), ", retry_policy=RetryPolicy(attempts=3, initial_window=0.01, max_retry_after=0.6)")
    out, err = run_client(code)
    assert out["type"] == "ServerError", out
    assert srv.requests == 3
    gaps = [b - a for a, b in zip(srv.times, srv.times[1:])]
    assert all(0.55 < g < 2 for g in gaps), gaps  # the capped Retry-After, not the 0.01 s window
    assert err.count("retrying in 0.6 s") == 2


@pytest.mark.parametrize("backend", ["http", "s3"])
def test_retry_after_http_date_is_honoured(hostile, backend):
    def respond(conn, head):
        when = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2), usegmt=True)
        if srv.requests == 1:
            conn.sendall(f"HTTP/1.1 503 Busy\r\nRetry-After: {when}\r\nContent-Length: 0\r\n\r\n".encode())
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    srv = hostile(respond)
    out, _ = run_client("assert " + _get(backend, srv.url(), ", retry_policy=RetryPolicy(initial_window=0.01)")
                        + " == b'ok'")
    assert out.get("ok"), out
    assert srv.requests == 2 and 0.9 < srv.times[1] - srv.times[0] < 3.5  # the date is whole seconds


def test_retry_after_beyond_retry_deadline_gives_up_at_once(hostile):
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 429 Too Many\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n"))
    out, _ = run_client(_get("http", srv.url(), ", retry_policy=RetryPolicy(total=5)"))
    assert out["type"] == "ThrottledError" and srv.requests == 1 and out["elapsed"] < 2, out


# -- TLS ------------------------------------------------------------------------------
def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        import shutil

        if not shutil.which("openssl"):
            pytest.skip("neither the cryptography package nor the openssl CLI is available")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    else:
        pk = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = dt.datetime.now(dt.timezone.utc)
        import ipaddress

        c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pk.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
             .not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
             .sign(pk, hashes.SHA256()))
        cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(pk.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


@pytest.mark.parametrize("backend", BACKENDS)
def test_self_signed_tls_is_one_attempt_naming_the_host(hostile, tmp_path, backend):
    srv = hostile(lambda c, h: _send(c, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), tls=_self_signed(tmp_path))
    out, err = run_client(_get(backend, srv.url("https")))  # the default policy: 7 attempts for transient errors
    assert out["type"] == "TLSVerificationError", out
    assert "127.0.0.1" in out["msg"] and "certificate" in out["msg"]
    assert srv.connections == 1 and srv.requests == 0
    assert out["elapsed"] < 3 and "retrying" not in err


# -- unreachable ------------------------------------------------------------------------
def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


@pytest.mark.parametrize("backend", ["http", "s3"])
def test_unreachable_port_logs_each_retry(backend):
    url = f"http://127.0.0.1:{_free_port()}"
    out, err = run_client(_get(backend, url, ", retry_policy=RetryPolicy(attempts=4, initial_window=0.01)"))
    assert out["type"] == "NetworkError", out
    lines = [ln for ln in err.splitlines() if "retrying in" in ln]
    assert len(lines) == 3, err
    assert all(f"127.0.0.1:{url.rsplit(':', 1)[1]}" in ln and "NetworkError" in ln for ln in lines)
    assert "attempt 2 of 4" in lines[0] and "attempt 4 of 4" in lines[2]


def test_cli_warns_while_retrying_an_unreachable_endpoint(tmp_path):
    url = f"http://127.0.0.1:{_free_port()}/d/f"
    env = dict(os.environ, PYTHONPATH=str(ROOT), CLOUDFILES_RETRY_DEADLINE="1.5", HOME=str(tmp_path))
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cloudfiles_cli.main", "cp", url, str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=str(ROOT))
    assert proc.returncode != 0
    assert "retrying in" in proc.stderr and "127.0.0.1" in proc.stderr, proc.stderr
    assert time.monotonic() - t < 20
