"""Keep-alive connections for HTTP/1.1, pooled per (scheme, host, port), on the stdlib alone.

:mod:`cloudfiles.http1` writes every request and reads every response itself, so
all it needs from a connection is a connected, verified socket. This module opens
them with :func:`socket.create_connection` (``TCP_NODELAY`` set) and, for https,
one shared :func:`ssl.create_default_context` (the system trust store, honouring
``SSL_CERT_FILE`` / ``SSL_CERT_DIR``; hostname checked; TLS 1.2 or newer; ALPN
``http/1.1``), and keeps idle ones for reuse. Nothing here depends on a third-party
library's internals: the socket and ssl modules are the whole surface.

* At most ``maxsize`` idle connections are kept per host. More may be open at once
  (one per concurrent request, never blocking); the surplus is closed when it comes
  back.
* An idle connection is polled (no wait) before reuse: readable means the server
  closed it or sent bytes nobody asked for, so it is closed instead of reused.
* Safe across threads and green threads: idle sockets live in a ``deque`` whose
  ``append``/``pop`` are atomic and never yield.
* Safe across ``fork``: a fork bumps a generation number, and a pool built in an
  older generation forgets its idle sockets (the parent's) before handing one out,
  so parent and child never share a connection.
"""
from __future__ import annotations

import os
import select
import socket
import ssl
import threading
from collections import deque
from typing import Optional

#: the longest a new connection (TCP and TLS handshake) may take, whatever ``timeout=`` says
CONNECT_TIMEOUT_MAX = 20.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_poll = getattr(select, "poll", None)  # the real one, captured before any monkey-patching
_generation = [0]  # bumped in a forked child
_context: Optional[ssl.SSLContext] = None
_context_lock = threading.Lock()


def _forked() -> None:
    _generation[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def tls_context() -> ssl.SSLContext:
    """The process's client TLS context (built once: loading the trust store is slow)."""
    global _context
    if _context is None:
        with _context_lock:
            if _context is None:
                ctx = ssl.create_default_context()
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
                ctx.set_alpn_protocols(["http/1.1"])
                _context = ctx
    return _context


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle connection can no longer carry a request (closed, or unread bytes)."""
    try:
        pending = getattr(sock, "pending", None)  # TLS: bytes decrypted but not read
        if pending is not None and pending():
            return True
        if _poll is not None:
            p = _poll()
            p.register(sock, select.POLLIN)
            return bool(p.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed under us (fileno -1)
        return True


class HostPool:
    """Idle keep-alive connections to one ``scheme://host:port``."""

    __slots__ = ("scheme", "host", "port", "maxsize", "idle", "_generation")

    def __init__(self, scheme: str, host: str, port: Optional[int], maxsize: int):
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"not an http(s) scheme: {scheme!r}")
        self.scheme = scheme
        self.host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        self.port = port or _DEFAULT_PORTS[scheme]
        self.maxsize = max(1, maxsize)
        self.idle: deque = deque()
        self._generation = _generation[0]

    def take(self) -> Optional[socket.socket]:
        """An idle connection still fit for a request, or None (then :meth:`connect`)."""
        if self._generation != _generation[0]:
            self.idle.clear()  # the parent's sockets: never used by this process
            self._generation = _generation[0]
        idle = self.idle
        while idle:
            try:
                sock = idle.pop()
            except IndexError:  # another thread took the last one
                return None
            if not _dropped(sock):
                return sock
            sock.close()
        return None

    def connect(self, timeout: float) -> socket.socket:
        """A new connection (TLS verified for https), connecting within ``timeout`` seconds."""
        sock = socket.create_connection((self.host, self.port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                sock = tls_context().wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        return sock

    def put(self, sock: socket.socket) -> None:
        """Return a connection whose last response was read in full and may be reused."""
        if self._generation == _generation[0] and len(self.idle) < self.maxsize:
            self.idle.append(sock)
        else:
            sock.close()

    def clear(self) -> None:
        """Close every idle connection."""
        while self.idle:
            try:
                self.idle.pop().close()
            except (IndexError, OSError):
                pass


class Pools:
    """The :class:`HostPool` of each host one client talks to (all sized alike)."""

    def __init__(self, maxsize: int):
        self.maxsize = max(1, maxsize)
        self._hosts: dict[tuple, HostPool] = {}
        self._lock = threading.Lock()

    def for_host(self, scheme: str, host: str, port: Optional[int] = None) -> HostPool:
        """The pool for ``scheme://host:port`` (created on first use)."""
        key = (scheme, host, port)
        pool = self._hosts.get(key)
        if pool is None:
            with self._lock:
                pool = self._hosts.get(key)
                if pool is None:
                    pool = self._hosts[key] = HostPool(scheme, host, port, self.maxsize)
        return pool

    def grow(self, maxsize: int) -> None:
        """Keep up to ``maxsize`` idle connections per host from now on (never shrinks)."""
        with self._lock:
            if maxsize > self.maxsize:
                self.maxsize = maxsize
                for pool in self._hosts.values():
                    pool.maxsize = maxsize

    def clear(self) -> None:
        """Close every idle connection of every host."""
        with self._lock:
            pools = list(self._hosts.values())
        for pool in pools:
            pool.clear()
