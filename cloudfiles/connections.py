"""HTTP connection pools shared by the network backends, and the mapping
from HTTP outcomes to cloudfiles exceptions.

Pools are keyed by (service, endpoint, credentials identity) so a client is
never reused across endpoints, sized to the caller's thread count, safe to
share across threads and green threads, and discarded in a forked child
(sockets must not be shared across a fork).
"""
from __future__ import annotations

import os
import threading
from typing import Any, Optional

import urllib3
from urllib3.exceptions import HTTPError as _Urllib3Error

from .exceptions import (
    AuthorizationError,
    BadRangeError,
    CloudFilesError,
    NetworkError,
    NotFoundError,
    PreconditionFailedError,
    ServerError,
    ThrottledError,
)

_lock = threading.Lock()
_pools: dict[Any, urllib3.PoolManager] = {}
_sizes: dict[Any, int] = {}


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _pools.clear()
    _sizes.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def reset_connection_pools() -> None:
    """Forget every shared connection pool: clients built afterwards open fresh connections
    (useful after credentials or network settings change). Clients already built keep theirs."""
    with _lock:
        for pm in _pools.values():
            try:
                pm.clear()
            except Exception:  # a pool in use elsewhere; dropping our reference is enough
                pass
        _pools.clear()
        _sizes.clear()


def pool_manager(key: Any, maxsize: int = 20, timeout: float = 60.0, **kwargs: Any) -> urllib3.PoolManager:
    """The shared PoolManager for ``key``, grown if a caller needs more connections."""
    pm = _pools.get(key)
    if pm is not None and _sizes[key] >= maxsize:
        return pm
    with _lock:
        pm = _pools.get(key)
        if pm is None or _sizes[key] < maxsize:
            pm = urllib3.PoolManager(
                num_pools=64,
                maxsize=max(maxsize, 1),
                block=False,
                retries=False,
                timeout=urllib3.Timeout(connect=min(timeout, 20.0), read=timeout),
                **kwargs,
            )
            _pools[key] = pm
            _sizes[key] = maxsize
        return pm


def request(pm: urllib3.PoolManager, method: str, url: str, what: str = "", **kwargs: Any):
    """``pm.request`` with urllib3's transport errors turned into :class:`NetworkError`.

    Bodies are preloaded and their length is enforced by urllib3, so a
    truncated response raises here instead of returning short bytes.
    """
    try:
        return pm.request(method, url, retries=False, **kwargs)
    except _Urllib3Error as err:
        raise NetworkError(f"{method} {what or url}: {type(err).__name__}: {err}") from err
    except (ConnectionError, TimeoutError, OSError) as err:
        raise NetworkError(f"{method} {what or url}: {type(err).__name__}: {err}") from err


def error_for_status(status: int, what: str, detail: str = "", bucket: Optional[str] = None) -> CloudFilesError:
    """The exception a non-success HTTP status means."""
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
