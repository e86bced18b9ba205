"""A fault-injecting HTTP/1.1 proxy for tests.

:class:`FaultProxy` listens on 127.0.0.1 (a free port) in front of one real
upstream server and relays every request, each one parsed in full (request
line, headers, body by Content-Length or chunked), forwarded over a
keep-alive upstream connection, the whole response read back (body by
Content-Length, chunked, or until close) and re-sent to the client with a
Content-Length. Tests tell it, through a thread-safe plan, to break chosen
requests on the wire:

========================  ====================================================
``drop()``                close the client connection before forwarding
``drop(mid=True)``        forward, then send headers and half the body (an
                          empty body: part of the status line); close
``status(503)``           answer itself (S3 XML / GCS JSON / plain body,
                          ``Retry-After``) without forwarding
``truncate()``            send fewer body bytes than Content-Length; close
``flip()``                flip one response body byte (same length)
``flip_request()``        flip one request body byte before forwarding
``delay(s)``              sleep before answering (to trip client timeouts)
``strip_headers(*names)`` forward the request without those headers (a
                          service that ignores, say, If-None-Match)
========================  ====================================================

Each rule matches by method and a regular expression on the request target
(path plus query), fires for the next ``times`` matching requests (``None``:
for ever), optionally only with probability ``p`` from a seeded generator,
and after letting ``skip`` matches through. Every request is logged, so tests
can count how many attempts a client really made.

Example::

    with FaultProxy("127.0.0.1", 9000) as px:
        px.flip(method="GET", path=r"/bucket/key$", times=2)
        ...client pointed at px.url...
        assert px.count("GET", r"/bucket/key$") == 3
"""
from __future__ import annotations

import http.client
import json
import random
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

__all__ = ["FaultProxy", "Rule", "Seen"]

KINDS = ("drop", "drop_mid", "status", "truncate", "flip", "flip_request", "delay", "strip_headers")
_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "expect"}
MAX_LINE = 65536


@dataclass
class Rule:
    """One planned fault. ``times=None`` fires for every matching request."""

    kind: str
    method: Optional[frozenset] = None
    path: Optional[re.Pattern] = None
    times: Optional[int] = 1
    skip: int = 0
    p: float = 1.0
    # kind-specific settings
    code: int = 503
    style: Optional[str] = None
    retry_after: Optional[str] = "0"
    error_code: Optional[str] = None    # status: the S3 <Code> / GCS reason to send
    seconds: float = 0.0
    keep: Optional[int] = None          # truncate: body bytes to send (default half)
    offset: Optional[int] = None        # flip: byte offset (default middle)
    names: tuple = ()                   # strip_headers: lower-case header names to drop
    fired: int = 0
    matched: int = 0

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and method not in self.method:
            return False
        return self.path is None or self.path.search(target) is not None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class Seen:
    """One request the proxy received, and the fault (if any) applied to it."""

    method: str
    target: str
    fault: Optional[str]
    status: Optional[int] = None
    body_len: int = 0
    t: float = field(default_factory=time.monotonic)
    range: Optional[str] = None  # the request's Range header, if any


class _Drop(Exception):
    """Close the client connection now."""


def _compile_methods(method: Union[None, str, Iterable[str]]) -> Optional[frozenset]:
    if method is None:
        return None
    if isinstance(method, str):
        return frozenset(m.strip().upper() for m in method.split(",") if m.strip())
    return frozenset(m.upper() for m in method)


def _flip_at(body: bytes, offset: Optional[int]) -> bytes:
    if not body:
        return body
    i = len(body) // 2 if offset is None else offset % len(body)
    return body[:i] + bytes([body[i] ^ 0xFF]) + body[i + 1:]


def error_body(code: int, style: str, target: str, error_code: Optional[str] = None) -> tuple[bytes, str]:
    """A service-shaped error body (and its content type) for ``code``.

    ``error_code`` overrides the S3 ``<Code>`` / GCS ``reason`` (e.g. "BadDigest").
    """
    s3_codes = {400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey", 429: "SlowDown",
                500: "InternalError", 503: "SlowDown"}
    msg = _REASONS.get(code, "Error") + " (injected by FaultProxy)"
    if style == "s3":
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
               '<Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>'
               % (error_code or s3_codes.get(code, "Error"), msg, target.split("?")[0]))
        return xml.encode(), "application/xml"
    if style == "gcs":
        reason = error_code or {429: "rateLimitExceeded", 503: "backendError", 403: "forbidden",
                                404: "notFound"}.get(code, "error")
        doc = {"error": {"code": code, "message": msg,
                         "errors": [{"message": msg, "domain": "global", "reason": reason}]}}
        return json.dumps(doc).encode(), "application/json; charset=UTF-8"
    return msg.encode(), "text/plain"


class FaultProxy:
    """Relay HTTP between tests' clients and ``upstream``, breaking what the plan says."""

    def __init__(self, upstream_host: str, upstream_port: int, style: str = "plain",
                 seed: int = 0, upstream_timeout: float = 30.0):
        if style not in ("plain", "s3", "gcs"):
            raise ValueError(f"style must be 'plain', 's3' or 'gcs', not {style!r}")
        self.upstream = (upstream_host, int(upstream_port))
        self.style = style
        self.upstream_timeout = upstream_timeout
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._seen: list[Seen] = []
        self._rng = random.Random(seed)
        self._conns: set[socket.socket] = set()
        self.connections = 0  # client connections accepted
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.host, self.port = self._server.server_address[:2]
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle --------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"faultproxy:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every client connection, join the server thread."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the plan ---------------------------------------------------------
    def add(self, kind: str, method: Union[None, str, Iterable[str]] = None, path: Optional[str] = None,
            times: Optional[int] = 1, skip: int = 0, p: float = 1.0, **settings) -> Rule:
        """Plan a fault of ``kind`` (one of :data:`KINDS`) for matching requests."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if times is not None and times < 0:
            raise ValueError(f"times must be >= 0 or None, not {times}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be within [0, 1], not {p}")
        if settings.get("style") not in (None, "plain", "s3", "gcs"):
            raise ValueError(f"style must be 'plain', 's3' or 'gcs', not {settings['style']!r}")
        rule = Rule(kind, _compile_methods(method), re.compile(path) if path else None,
                    times, skip, p, **settings)
        with self._lock:
            self._rules.append(rule)
        return rule

    def drop(self, mid: bool = False, **match) -> Rule:
        """Close the connection before forwarding (or, ``mid``, halfway through the response body)."""
        return self.add("drop_mid" if mid else "drop", **match)

    def status(self, code: int = 503, retry_after: Optional[str] = "0", style: Optional[str] = None,
               error_code: Optional[str] = None, **match) -> Rule:
        """Answer ``code`` without forwarding (with ``Retry-After`` for 429/503).

        ``error_code`` names the service's error (S3 ``<Code>``, GCS ``reason``).
        """
        return self.add("status", code=code, retry_after=retry_after, style=style, error_code=error_code,
                        **match)

    def truncate(self, keep: Optional[int] = None, **match) -> Rule:
        """Send ``keep`` body bytes (default half) under the full Content-Length, then close."""
        return self.add("truncate", keep=keep, **match)

    def flip(self, offset: Optional[int] = None, **match) -> Rule:
        """Invert one response body byte (default the middle one); the length is unchanged."""
        return self.add("flip", offset=offset, **match)

    def flip_request(self, offset: Optional[int] = None, **match) -> Rule:
        """Invert one request body byte before it reaches the server."""
        return self.add("flip_request", offset=offset, **match)

    def strip_headers(self, *names: str, **match) -> Rule:
        """Forward matching requests without the headers ``names`` (case-insensitive)."""
        return self.add("strip_headers", names=tuple(n.lower() for n in names), **match)

    def delay(self, seconds: float, **match) -> Rule:
        """Wait ``seconds`` before forwarding (the answer is still sent if the client waits)."""
        return self.add("delay", seconds=seconds, **match)

    def clear(self) -> None:
        """Forget every planned fault (the request log is kept)."""
        with self._lock:
            self._rules.clear()

    def reset(self) -> None:
        """Forget the plan and the request log."""
        with self._lock:
            self._rules.clear()
            self._seen.clear()

    # -- what happened ----------------------------------------------------
    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(self, method: Union[None, str, Iterable[str]] = None, path: Optional[str] = None,
              fault: Union[None, str, bool] = None) -> int:
        """Requests seen matching ``method`` / ``path`` regex (and ``fault``: a kind, or True for any)."""
        methods = _compile_methods(method)
        rx = re.compile(path) if path else None
        n = 0
        for s in self.seen:
            if methods is not None and s.method not in methods:
                continue
            if rx is not None and not rx.search(s.target):
                continue
            if fault is True and s.fault is None:
                continue
            if isinstance(fault, str) and s.fault != fault:
                continue
            n += 1
        return n

    def faults(self) -> int:
        """How many requests had a fault applied."""
        return sum(1 for s in self.seen if s.fault)

    # -- relaying ---------------------------------------------------------
    def _choose(self, method: str, target: str) -> Optional[Rule]:
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(method, target):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.p < 1.0 and self._rng.random() >= rule.p:
                    continue
                rule.fired += 1
                return rule
        return None

    def _log(self, entry: Seen) -> None:
        with self._lock:
            self._seen.append(entry)

    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.add(sock)
            self.connections += 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rfile = sock.makefile("rb")
        upstream: Optional[http.client.HTTPConnection] = None
        try:
            while True:
                req = _read_request(rfile, sock)
                if req is None:
                    return
                method, target, version, headers, body = req
                rule = self._choose(method, target)
                entry = Seen(method, target, rule.kind if rule else None, body_len=len(body),
                             range=next((v for k, v in headers if k.lower() == "range"), None))
                self._log(entry)
                if rule is not None and rule.kind == "drop":
                    return
                if rule is not None and rule.kind == "delay":
                    time.sleep(rule.seconds)
                if rule is not None and rule.kind == "status":
                    entry.status = rule.code
                    payload, ctype = error_body(rule.code, rule.style or self.style, target, rule.error_code)
                    hdrs = [("Content-Type", ctype)]
                    if rule.retry_after is not None and rule.code in (429, 503):
                        hdrs.append(("Retry-After", rule.retry_after))
                    _send(sock, version, rule.code, _REASONS.get(rule.code, "Error"), hdrs,
                          b"" if method == "HEAD" else payload, len(payload))
                    continue
                if rule is not None and rule.kind == "flip_request":
                    body = _flip_at(body, rule.offset)
                if rule is not None and rule.kind == "strip_headers":
                    headers = [(k, v) for k, v in headers if k.lower() not in rule.names]
                if upstream is None:
                    upstream = _NoDelayConnection(*self.upstream, timeout=self.upstream_timeout)
                status, reason, rheaders, rbody, uclose = self._forward(upstream, method, target, headers, body)
                entry.status = status
                if uclose:
                    upstream.close()
                clen = len(rbody)
                for k, v in rheaders:
                    if k.lower() == "content-length" and method == "HEAD":
                        clen = int(v)
                send_body = rbody
                if rule is not None and rule.kind == "flip":
                    send_body = _flip_at(rbody, rule.offset)
                if rule is not None and rule.kind in ("truncate", "drop_mid"):
                    keep = len(rbody) // 2 if rule.keep is None or rule.kind == "drop_mid" else rule.keep
                    _send(sock, version, status, reason, rheaders, rbody[:min(keep, max(len(rbody) - 1, 0))],
                          clen, head_only_cut=(not rbody))
                    return
                _send(sock, version, status, reason, rheaders, send_body, clen)
                if _wants_close(version, headers):
                    return
        except (_Drop, OSError, http.client.HTTPException, ValueError):
            return
        finally:
            if upstream is not None:
                upstream.close()
            with self._lock:
                self._conns.discard(sock)
            try:
                rfile.close()
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _forward(self, conn: http.client.HTTPConnection, method: str, target: str,
                 headers: list[tuple[str, str]], body: bytes):
        """One upstream round trip; a stale keep-alive connection is reopened once."""
        for attempt in (0, 1):
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    if k.lower() in _HOP or k.lower() == "content-length":
                        continue
                    conn.putheader(k, v)
                if body or method in ("PUT", "POST", "PATCH"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                rbody = resp.read()
                rheaders = [(k, v) for k, v in resp.getheaders()
                            if k.lower() not in _HOP and k.lower() != "content-length"]
                if method == "HEAD":
                    rheaders += [(k, v) for k, v in resp.getheaders() if k.lower() == "content-length"]
                return resp.status, resp.reason, rheaders, rbody, resp.will_close
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


class _NoDelayConnection(http.client.HTTPConnection):
    """An upstream connection with Nagle off, so small writes are not held back."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _read_line(rfile) -> bytes:
    line = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ValueError("header line too long")
    return line


def _read_request(rfile, sock: socket.socket):
    """(method, target, version, headers, body) of the next request, or None at EOF."""
    line = _read_line(rfile)
    while line in (b"\r\n", b"\n"):
        line = _read_line(rfile)
    if not line:
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {line!r}")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    while True:
        h = _read_line(rfile)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    lower = {k.lower(): v for k, v in headers}
    if lower.get("expect", "").lower() == "100-continue":
        sock.sendall(f"{version} 100 Continue\r\n\r\n".encode())
    if "chunked" in lower.get("transfer-encoding", "").lower():
        body = _read_chunked(rfile)
    else:
        n = int(lower.get("content-length", "0") or 0)
        body = rfile.read(n) if n else b""
        if len(body) != n:
            raise _Drop()
    return method, target, version, headers, body


def _read_chunked(rfile) -> bytes:
    out = bytearray()
    while True:
        size_line = _read_line(rfile)
        if not size_line:
            raise _Drop()
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while _read_line(rfile) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(out)
        out += rfile.read(size)
        rfile.read(2)


def _wants_close(version: str, headers: list[tuple[str, str]]) -> bool:
    conn = next((v.lower() for k, v in headers if k.lower() == "connection"), "")
    return "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)


def _send(sock: socket.socket, version: str, status: int, reason: str, headers: list[tuple[str, str]],
          body: bytes, content_length: int, head_only_cut: bool = False) -> None:
    head = f"HTTP/1.1 {status} {reason}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers if k.lower() != "content-length")
    head += f"Content-Length: {content_length}\r\n\r\n"
    raw = head.encode("latin-1")
    if head_only_cut:  # nothing to cut in the body: stop inside the status line
        raw = raw[:10]
    sock.sendall(raw + body)
