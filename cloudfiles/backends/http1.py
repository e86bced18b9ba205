"""Minimal HTTP/1.1 framing over urllib3's pooled connections, for the S3 hot path.

urllib3 owns the connections (pool size, TLS, proxies, socket options,
discarding pools after fork); requests are written and responses parsed
here because http.client's per-message header machinery costs more client
CPU than a small S3 request's whole signing.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from urllib3.exceptions import HTTPError as _Urllib3Error

from ..exceptions import InvalidInputError, NetworkError


class _Response:
    """The parts of a urllib3 response the backend uses."""

    __slots__ = ("status", "headers", "data")

    def __init__(self, status: int, headers: Any, data: bytes):
        self.status = status
        self.headers = headers
        self.data = data


class _Dropped(Exception):
    """The connection ended before any byte of the response arrived."""


def _check_header_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise InvalidInputError(f"{name} must not contain line breaks: {value!r}")


def _exchange(pool: Any, method: str, target: str, headers: dict, body: Optional[bytes],
              timeout: float, what: str, sink: Optional[Callable[[bytes], None]] = None) -> _Response:
    """One HTTP/1.1 request/response on a connection from urllib3's ``pool``.

    urllib3 owns the connections (pool size, TLS, proxies, socket options, dropped
    connection detection, discarding pools after fork); the bytes are framed here
    because http.client's per-message header machinery costs more client CPU than
    a small S3 request's whole signing. A reused keep-alive connection that the
    server had closed is replaced once, transparently, when no response byte
    arrived; other transport failures raise :class:`NetworkError` (retried by the
    facade).

    With ``sink``, the body of a 206 answer is handed to ``sink`` in chunks as
    it arrives instead of being collected (the response's ``data`` is then empty).
    """
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    for k, v in headers.items():
        lines.append(f"{k}: {v}\r\n")
    if body is not None or method in ("PUT", "POST"):
        lines.append(f"content-length: {len(body) if body else 0}\r\n")
    lines.append("\r\n")
    try:
        head = "".join(lines).encode("latin-1")
    except UnicodeEncodeError as err:
        raise InvalidInputError(f"{what}: header values must be latin-1: {err}") from None
    payload = head + body if body and len(body) <= 262144 else head
    for attempt in (0, 1):
        conn = pool._get_conn()
        reused = conn.sock is not None
        ok = False
        try:
            if not reused:
                conn.connect()
                conn.sock.settimeout(timeout)
            sock = conn.sock
            sock.sendall(payload)
            if payload is head and body:
                sock.sendall(body)
            resp, keep = _read_response(sock, method, sink)
            ok = keep
            return resp
        except (_Dropped, BrokenPipeError, ConnectionResetError) as err:
            if reused and attempt == 0:
                continue  # a stale keep-alive connection: try once on a fresh one
            raise NetworkError(f"{what}: connection dropped: {type(err).__name__}: {err}") from err
        except (_Urllib3Error, OSError) as err:
            raise NetworkError(f"{what}: {type(err).__name__}: {err}") from err
        finally:
            if not ok:
                conn.close()
            pool._put_conn(conn)
    raise NetworkError(f"{what}: connection dropped twice")  # pragma: no cover - loop always returns


class _Reader:
    """Buffered reads from a socket for response parsing."""

    __slots__ = ("sock", "buf", "pos")

    def __init__(self, sock: Any):
        self.sock = sock
        self.buf = b""
        self.pos = 0

    def _more(self) -> bool:
        chunk = self.sock.recv(262144)
        if not chunk:
            return False
        self.buf = self.buf[self.pos:] + chunk if self.pos < len(self.buf) else chunk
        self.pos = 0
        return True

    def until(self, sep: bytes, first: bool = False) -> bytes:
        while True:
            i = self.buf.find(sep, self.pos)
            if i >= 0:
                out = self.buf[self.pos:i]
                self.pos = i + len(sep)
                return out
            if not self._more():
                if first and not self.buf:
                    raise _Dropped("no response")
                raise NetworkError("connection closed in the middle of a response")

    def exactly(self, n: int) -> bytes:
        have = len(self.buf) - self.pos
        if have >= n:
            out = self.buf[self.pos:self.pos + n]
            self.pos += n
            return out
        out = bytearray(n)
        view = memoryview(out)
        view[:have] = self.buf[self.pos:]
        self.buf, self.pos = b"", 0
        got = have
        while got < n:
            r = self.sock.recv_into(view[got:])
            if not r:
                raise NetworkError(f"response body truncated: {got} of {n} bytes")
            got += r
        return bytes(out)

    def rest(self) -> bytes:
        parts = [self.buf[self.pos:]]
        while True:
            chunk = self.sock.recv(262144)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)


SINK_CHUNK = 1024 * 1024


def _read_response(sock: Any, method: str,
                   sink: Optional[Callable[[bytes], None]] = None) -> tuple[_Response, bool]:
    """Parse one response; returns it and whether the connection can be reused."""
    r = _Reader(sock)
    first = True
    while True:
        head = r.until(b"\r\n\r\n", first=first)
        first = False
        status_line, _, rest = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise NetworkError(f"malformed HTTP status line {status_line[:100]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in rest.decode("latin-1").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                name = name.strip().lower()
                value = value.strip()
                headers[name] = headers[name] + ", " + value if name in headers else value
        if 100 <= status < 200:
            continue  # 100 Continue and friends precede the real answer
        break
    keep = parts[0] == b"HTTP/1.1"
    conn_hdr = headers.get("connection", "").lower()
    if "close" in conn_hdr:
        keep = False
    elif "keep-alive" in conn_hdr:
        keep = True
    if method == "HEAD" or status in (204, 304):
        data = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = r.until(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while r.until(b"\r\n"):  # trailers end with an empty line
                    pass
                break
            chunks.append(r.exactly(size))
            r.until(b"\r\n")
        data = b"".join(chunks)
    elif "content-length" in headers and sink is not None and status == 206:
        left = int(headers["content-length"])
        while left:
            chunk = r.exactly(min(SINK_CHUNK, left))
            sink(chunk)
            left -= len(chunk)
        data = b""
    elif "content-length" in headers:
        data = r.exactly(int(headers["content-length"]))
    else:
        data = r.rest()
        keep = False
    if r.pos < len(r.buf):
        keep = False  # unexpected extra bytes: do not trust this connection again
    return _Response(status, headers, data), keep
