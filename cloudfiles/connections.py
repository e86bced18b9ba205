"""HTTP connection pools shared by the network backends, one request on them
(through the bounded reader of :mod:`cloudfiles.http1`), and the mapping from
HTTP outcomes to cloudfiles exceptions (``Retry-After`` included).

Pools (:class:`cloudfiles.connpool.Pools`, stdlib sockets) are keyed by (service,
endpoint, credentials identity) so a client is never reused across endpoints,
sized to the caller's thread count, safe to share across threads and green
threads, and discarded in a forked child (sockets must not be shared across a fork).
"""
from __future__ import annotations

import datetime as _dt
import email.utils
import os
import threading
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

from . import http1
from .connpool import Pools
from .exceptions import (
    AuthorizationError,
    BadRangeError,
    CloudFilesError,
    CloudPathError,
    NotFoundError,
    PreconditionFailedError,
    ServerError,
    ThrottledError,
    TransientError,
)
from .limits import WireLimits

_lock = threading.Lock()
_pools: dict[Any, Pools] = {}


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _pools.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def reset_connection_pools() -> None:
    """Forget every shared connection pool: clients built afterwards open fresh connections
    (useful after credentials or network settings change). Clients already built keep theirs."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pm in pools:
        pm.clear()  # idle connections only; one in use is closed or reused by its request


def pool_manager(key: Any, maxsize: int = 20) -> Pools:
    """The shared pools for ``key``, grown if a caller needs more connections."""
    pm = _pools.get(key)
    if pm is None:
        with _lock:
            pm = _pools.get(key)
            if pm is None:
                pm = _pools[key] = Pools(maxsize)
    if pm.maxsize < maxsize:
        pm.grow(maxsize)
    return pm


def request(pm: Pools, method: str, url: str, what: str = "", headers: Optional[dict] = None,
            body: Any = None, limits: Optional[WireLimits] = None,
            sink: Optional[Callable[[bytes], None]] = None) -> http1._Response:
    """One request for ``url`` on ``pm``'s pool, read by :func:`cloudfiles.http1._exchange`.

    Redirects are not followed (the caller decides). The response's body is in
    memory (bounded by ``limits.max_body``) unless ``sink`` takes a 206 body.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as err:
        raise CloudPathError(f"{what or method}: bad port in {url!r}") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CloudPathError(f"{what or method}: not an http(s) URL: {url!r}")
    pool = pm.for_host(parts.scheme, parts.hostname, port)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    hdrs = {"Host": parts.netloc.rpartition("@")[2]}
    if headers:
        hdrs.update(headers)
    names = {k.lower() for k in hdrs}
    if "accept-encoding" not in names:
        hdrs["Accept-Encoding"] = "identity"  # stored bytes, never a transcoding
    if "user-agent" not in names:
        hdrs["User-Agent"] = "cloudfiles"
    if isinstance(body, str):
        body = body.encode("utf-8")
    return http1._exchange(pool, method, target, hdrs, body, limits or WireLimits(),
                           what or f"{method} {url}", sink)


def retry_after(headers: Optional[Mapping[str, str]]) -> Optional[float]:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP-date), else None."""
    value = (headers.get("Retry-After") or headers.get("retry-after") or "").strip() if headers else ""
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds())


def with_retry_after(err: CloudFilesError, headers: Optional[Mapping[str, str]]) -> CloudFilesError:
    """``err`` carrying the wait the response's ``Retry-After`` asks for, if transient."""
    if isinstance(err, TransientError):
        wait = retry_after(headers)
        if wait is not None:
            err.retry_after = wait
    return err


def error_for_status(status: int, what: str, detail: str = "", bucket: Optional[str] = None,
                     headers: Optional[Mapping[str, str]] = None) -> CloudFilesError:
    """The exception a non-success HTTP status means (with ``Retry-After`` from ``headers``)."""
    return with_retry_after(_status_error(status, what, detail, bucket), headers)


def _status_error(status: int, what: str, detail: str, bucket: Optional[str]) -> CloudFilesError:
    msg = f"{what}: HTTP {status}" + (f" {detail}" if detail else "")
    if status in (401, 403):
        return AuthorizationError(msg + (f" (check the credentials for bucket {bucket!r})" if bucket else ""))
    if status == 404:
        return NotFoundError(msg)
    if status == 412:
        return PreconditionFailedError(msg)
    if status == 416:
        return BadRangeError(msg)
    if status == 429:
        return ThrottledError(msg)
    if status >= 500:
        return ServerError(msg)
    return CloudFilesError(msg)
