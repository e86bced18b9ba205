"""HTTP/1.1 on pooled stdlib sockets: the one place requests are framed and responses read.

:mod:`cloudfiles.connpool` owns the connections (pool size, TLS and certificate
checks, socket options, dropped-connection detection, discarding sockets after
fork) on the stdlib ``socket`` and ``ssl`` modules alone; requests are written and
responses parsed here, for two reasons: http.client's per-message header machinery
costs more client CPU than a small S3 request's whole signing, and every byte a
server sends is untrusted, so this reader enforces the bounds of :mod:`cloudfiles.limits`:

* nothing is allocated ahead of its arrival beyond ``PREALLOCATE`` bytes: a body
  is collected in pieces that grow as bytes come, so a server declaring 2 GiB and
  sending 10 bytes costs 1 MiB;
* a declared ``Content-Length`` or chunk size above ``max_body``, or a body without
  a declared length that grows past it, is :class:`ResponseTooLargeError`, before
  (or instead of) reading it;
* a body shorter than declared is :class:`TruncatedBodyError`; bytes beyond the
  declared length, a malformed status line, header, length or chunk-size line
  are :class:`BadResponseError` (both transient: the facade retries them);
* every network wait is bounded by the idle ``timeout`` *and* what is left of the
  attempt's total ``deadline``, which is checked after every receive, so a body
  trickled at 1 byte/s ends at the deadline with :class:`DeadlineExceededError`;
* a TLS certificate that fails verification is :class:`TLSVerificationError`
  naming the host (never retried).
"""
from __future__ import annotations

import re
import socket
import ssl
from typing import Any, Callable, Optional

from .connpool import CONNECT_TIMEOUT_MAX, HostPool
from .exceptions import (
    BadResponseError,
    CloudFilesError,
    InvalidInputError,
    NetworkError,
    ResponseTooLargeError,
    TLSVerificationError,
    TruncatedBodyError,
)
from .limits import MAX_CHUNK_LINE, MAX_HEADER_BYTES, PREALLOCATE, STREAM_MIN_RATE, Deadline, WireLimits

#: bytes handed to a ``sink`` at a time
SINK_CHUNK = 1024 * 1024
_GROW_MAX = 64 * 1024 * 1024
#: Bytes asked of one ``recv``. CPython allocates that much and shrinks it to what arrived;
#: glibc serves blocks of 128 KiB and more with mmap/mremap/munmap system calls whenever
#: its adaptive threshold is off (``MALLOC_TRIM_THRESHOLD_`` set, as Dask's nannies do
#: for their workers): 256 KiB cost two extra system calls and fresh pages per response.
_RECV = 65536
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
_DIGITS = re.compile(r"^[0-9]{1,20}$")
_RANGE = re.compile(r"^\s*bytes=(\d{1,20})-(\d{1,20})\s*$")


class Headers(dict):
    """Response headers, names lower-cased; lookups ignore case."""

    __slots__ = ()

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name.lower() if isinstance(name, str) else name)


class _Response:
    """One parsed response: ``status``, ``reason``, case-insensitive ``headers``, ``data``."""

    __slots__ = ("status", "headers", "data", "reason")

    def __init__(self, status: int, headers: Any, data: bytes, reason: str = ""):
        self.status = status
        self.headers = headers
        self.data = data
        self.reason = reason


class _Dropped(Exception):
    """The connection ended before any byte of the response arrived."""


def _check_header_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise InvalidInputError(f"{name} must not contain line breaks: {value!r}")


def transport_error(err: BaseException, what: str, host: str) -> CloudFilesError:
    """The cloudfiles error for a failure of the connection itself."""
    if isinstance(err, ssl.SSLCertVerificationError):
        reason = getattr(err, "verify_message", None) or str(err)
        return TLSVerificationError(
            f"{what}: the TLS certificate of {host} failed verification ({reason}); not retried", host)
    return NetworkError(f"{what}: {type(err).__name__}: {err}")


def _exchange(pool: HostPool, method: str, target: str, headers: dict, body: Optional[bytes],
              limits: WireLimits, what: str, sink: Optional[Callable[[bytes], None]] = None) -> _Response:
    """One HTTP/1.1 request/response on a connection from ``pool``.

    The whole exchange (connect, send, response) runs under one
    :class:`~cloudfiles.limits.Deadline`. A reused keep-alive connection that the
    server had closed is replaced once, transparently, when no response byte
    arrived; other failures raise the errors listed in the module docstring.

    With ``sink``, the body of a 206 answer is handed to ``sink`` in chunks as it
    arrives instead of being collected, and the body of any other 2xx answer is
    not read at all (the response's ``data`` is then empty).
    """
    deadline = limits.start(what)
    asked = _range_length(headers) if sink is not None else None
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
        sock = pool.take()
        reused = sock is not None
        keep = False
        try:
            if sock is None:
                sock = pool.connect(min(limits.timeout, CONNECT_TIMEOUT_MAX, deadline.socket_timeout()))
            _set_timeout(sock, deadline.socket_timeout())
            sock.sendall(payload)
            if payload is head and body:
                _set_timeout(sock, deadline.socket_timeout())
                sock.sendall(body)
            resp, keep = _read_response(_Reader(sock, deadline), method, limits.max_body, sink, asked)
            return resp
        except CloudFilesError:
            raise
        except (_Dropped, BrokenPipeError, ConnectionResetError) as err:
            if reused and attempt == 0:
                continue  # a stale keep-alive connection: try once on a fresh one
            raise NetworkError(f"{what}: connection dropped: {type(err).__name__}: {err}") from err
        except socket.timeout as err:  # TimeoutError (Python >= 3.10 makes them one)
            if deadline.expired():
                raise deadline.error("while connecting or sending") from err
            raise NetworkError(f"{what}: timed out connecting or sending ({limits.timeout:g} s)") from err
        except OSError as err:  # refused, unreachable, name resolution, TLS (ssl.SSLError)
            if deadline.expired():
                raise deadline.error(f"{type(err).__name__}: {err}") from err
            raise transport_error(err, what, pool.host) from err
        finally:
            if sock is not None:
                if keep:
                    pool.put(sock)
                else:
                    sock.close()
    raise NetworkError(f"{what}: connection dropped twice")  # pragma: no cover - loop always returns


def _set_timeout(sock: Any, seconds: float) -> None:
    if sock.gettimeout() != seconds:  # settimeout costs a system call
        sock.settimeout(seconds)


class _Reader:
    """Bounded, deadline-aware buffered reads from a socket."""

    __slots__ = ("sock", "buf", "pos", "deadline")

    def __init__(self, sock: Any, deadline: Deadline):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0
        self.deadline = deadline

    @property
    def what(self) -> str:
        return self.deadline.what

    def _wait(self, call: Callable[[Any], int], arg: Any) -> Any:
        _set_timeout(self.sock, self.deadline.socket_timeout())
        try:
            return call(arg)
        except socket.timeout as err:
            if self.deadline.expired():
                raise self.deadline.error("while reading the response") from err
            raise NetworkError(f"{self.what}: no data from the server for "
                               f"{self.deadline.limits.timeout:g} s (timeout)") from err

    def _more(self) -> bool:
        chunk = self._wait(self.sock.recv, _RECV)
        if not chunk:
            return False
        if self.pos:
            del self.buf[:self.pos]  # O(1): bytearray drops a prefix in place
            self.pos = 0
        self.buf += chunk
        return True

    def until(self, sep: bytes, limit: int, name: str, first: bool = False) -> bytes:
        """Bytes up to ``sep`` (consumed); more than ``limit`` bytes without it is an error."""
        scan = 0  # offset from pos already searched
        while True:
            i = self.buf.find(sep, self.pos + scan)
            if i >= 0:
                out = bytes(self.buf[self.pos:i])
                self.pos = i + len(sep)
                return out
            have = len(self.buf) - self.pos
            if have > limit:
                raise BadResponseError(f"{self.what}: {name} longer than {limit} bytes")
            scan = max(0, have - len(sep) + 1)
            if not self._more():
                if first and not self.buf:
                    raise _Dropped("no response")
                raise TruncatedBodyError(f"{self.what}: connection closed in the middle of the {name}")

    def exactly(self, n: int) -> bytes:
        """The next ``n`` bytes, collected in pieces that grow as they arrive."""
        have = len(self.buf) - self.pos
        if have >= n:
            out = bytes(self.buf[self.pos:self.pos + n])
            self.pos += n
            return out
        parts: list[Any] = [bytes(self.buf[self.pos:])]
        self.buf, self.pos = bytearray(), 0
        got, step = have, PREALLOCATE
        while got < n:
            piece = bytearray(min(step, n - got))
            view = memoryview(piece)
            filled = 0
            while filled < len(piece):
                r = self._wait(self.sock.recv_into, view[filled:])
                if not r:
                    raise TruncatedBodyError(
                        f"{self.what}: response body ended after {got + filled} of {n} declared bytes")
                filled += r
            parts.append(piece)
            got += filled
            step = min(step * 2, _GROW_MAX)
        return b"".join(parts)

    def rest(self, max_body: int) -> bytes:
        """Everything until the server closes the connection, at most ``max_body`` bytes."""
        parts: list[bytes] = [bytes(self.buf[self.pos:])]
        total = len(parts[0])
        self.buf, self.pos = bytearray(), 0
        while True:
            if total > max_body:
                raise _too_large(self.what, f"the body (no declared length) passed {total} bytes", max_body)
            chunk = self._wait(self.sock.recv, _RECV)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
            total += len(chunk)

    def leftover(self) -> int:
        return len(self.buf) - self.pos


def _too_large(what: str, detail: str, max_body: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{what}: {detail}, more than max_body={max_body} bytes held in memory "
        "(read large objects with open/stream/download_file, or raise max_body= / $CLOUDFILES_MAX_BODY)")


def _content_length(value: str, what: str) -> int:
    if value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    values = {v.strip() for v in value.split(",")}  # repeated headers were joined with ', '
    if len(values) != 1 or not _DIGITS.match(next(iter(values))):
        raise BadResponseError(f"{what}: unusable Content-Length {value[:100]!r}")
    return int(values.pop())


def _range_length(headers: dict) -> Optional[int]:
    """The length a request's ``Range: bytes=A-B`` asks for, if it has one."""
    for k, v in headers.items():
        if k.lower() == "range":
            m = _RANGE.match(v)
            return int(m.group(2)) - int(m.group(1)) + 1 if m else None
    return None


def _read_response(r: _Reader, method: str, max_body: int,
                   sink: Optional[Callable[[bytes], None]] = None,
                   asked: Optional[int] = None) -> tuple[_Response, bool]:
    """Parse one response; returns it and whether the connection can be reused.

    ``asked`` is the length of the range a streamed (``sink``) request asked for:
    a 206 declaring more is refused before its body is read.
    """
    what = r.what
    first = True
    while True:
        head = r.until(b"\r\n\r\n", MAX_HEADER_BYTES, "response header", first=first)
        first = False
        status_line, _, rest = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit() or len(parts[1]) != 3:
            raise BadResponseError(f"{what}: malformed HTTP status line {status_line[:100]!r}")
        status = int(parts[1])
        raw: dict[str, str] = {}
        for line in rest.decode("latin-1").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                name = name.strip().lower()
                value = value.strip()
                raw[name] = raw[name] + ", " + value if name in raw else value
        if 100 <= status < 200:
            continue  # 100 Continue and friends precede the real answer
        break
    headers = Headers(raw)
    reason = parts[2].decode("latin-1").strip() if len(parts) > 2 else ""
    keep = parts[0] == b"HTTP/1.1"
    conn_hdr = raw.get("connection", "").lower()
    if "close" in conn_hdr:
        keep = False
    elif "keep-alive" in conn_hdr:
        keep = True
    if method == "HEAD" or status in (204, 304):
        if r.leftover():
            keep = False  # a body where none belongs: do not trust this connection again
        return _Response(status, headers, b"", reason), keep
    if sink is not None and 200 <= status < 300 and status != 206:
        return _Response(status, headers, b"", reason), False  # not what the caller streams: skip it
    if "chunked" in raw.get("transfer-encoding", "").lower():
        data = _read_chunked(r, max_body)
    elif "content-length" in raw:
        length = _content_length(raw["content-length"], what)
        if sink is not None and status == 206:
            if asked is not None and length > asked:
                raise BadResponseError(f"{what}: a 206 of {length} bytes for a range of {asked}")
            if asked is None and length > max_body:
                raise _too_large(what, f"the server declared a body of {length} bytes", max_body)
            r.deadline.extend(length / STREAM_MIN_RATE)
            left = length
            while left:
                chunk = r.exactly(min(SINK_CHUNK, left))
                sink(chunk)
                left -= len(chunk)
            data = b""
        elif length > max_body:
            raise _too_large(what, f"the server declared a body of {length} bytes", max_body)
        else:
            data = r.exactly(length)
        if r.leftover():
            raise BadResponseError(f"{what}: the server sent more than its Content-Length of {length} bytes")
    else:
        data = r.rest(max_body)
        keep = False
    return _Response(status, headers, data, reason), keep


def _read_chunked(r: _Reader, max_body: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = r.until(b"\r\n", MAX_CHUNK_LINE, "chunk-size line")
        token = line.split(b";", 1)[0].strip()
        if not _HEX.match(token):
            raise BadResponseError(f"{r.what}: malformed chunk-size line {line[:100]!r}")
        size = int(token, 16)
        if size == 0:
            while r.until(b"\r\n", MAX_HEADER_BYTES, "trailer"):  # trailers end with an empty line
                pass
            return b"".join(chunks)
        if total + size > max_body:
            raise _too_large(r.what, f"a chunk of {size} bytes takes the body to {total + size} bytes", max_body)
        chunks.append(r.exactly(size))
        total += size
        if r.until(b"\r\n", 2, "chunk end"):
            raise BadResponseError(f"{r.what}: a chunk is longer than its size line ({size} bytes) says")
