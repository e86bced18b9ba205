"""Conditional writes ("compare and swap") for small control objects such as tags.

The optional backend hook, for services that can do this natively (S3
``If-Match``/``If-None-Match``, GCS ``ifGenerationMatch``)::

    backend.read_versioned(key) -> (content or None, token or None)
    backend.put_if(key, content, expected_token) -> new token
        # expected_token None: create only if absent; otherwise replace only if
        # the object still has that token; raise PreconditionFailedError if not.

Backends without the hook are handled here for file:// (an ``flock`` on a
hidden lock file beside the object, so processes on one machine or one NFS
mount with working locks exclude each other; the write itself is the
backend's atomic rename) and mem:// (a per-bucket lock). Anything else
refuses with :class:`PreconditionFailedError`, because a tag moved by a plain
overwrite could silently undo someone else's move. Only writers that go
through this module are coordinated; a plain ``put`` bypasses the lock.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from typing import TYPE_CHECKING, Iterator, Optional

from ..exceptions import PreconditionFailedError

if TYPE_CHECKING:
    from ..objects import ObjectCore

_MEM_LOCKS: dict[str, threading.Lock] = {}
_MEM_LOCKS_GUARD = threading.Lock()


def _token(content: Optional[bytes]) -> Optional[str]:
    return None if content is None else hashlib.sha256(content).hexdigest()


def supported(cf: "ObjectCore") -> bool:
    """True when ``cf``'s backend can do conditional writes (natively or here)."""
    cf = getattr(cf, "core", cf)  # a CloudFiles stands for its core
    b = cf.backend
    if hasattr(b, "put_if") and hasattr(b, "read_versioned"):
        return True
    return cf.protocol in ("file", "mem")


@contextlib.contextmanager
def _locked(cf: "ObjectCore", key: str) -> Iterator[None]:
    if cf.protocol == "mem":
        bucket = cf.backend.cloudpath.bucket
        with _MEM_LOCKS_GUARD:
            lock = _MEM_LOCKS.setdefault(bucket, threading.Lock())
        with lock:
            yield
        return
    import fcntl

    path = cf.backend._path(key)
    directory, base = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    fd = os.open(os.path.join(directory, f".{base}.cflock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_versioned(cf: "ObjectCore", key: str) -> tuple[Optional[bytes], Optional[str]]:
    """Stored bytes of ``key`` and the token a later :func:`put_if` must present."""
    cf = getattr(cf, "core", cf)  # a CloudFiles stands for its core
    b = cf.backend
    if hasattr(b, "read_versioned"):
        return cf.call(b.read_versioned, key)
    content = cf.call(b.get, key).content
    return content, _token(content)


def put_if(cf: "ObjectCore", key: str, content: bytes, expected: Optional[str]) -> str:
    """Write ``content`` at ``key`` only if it still has token ``expected``
    (``None``: only if absent); return the new token.

    Raises :class:`PreconditionFailedError` when someone else changed ``key``
    meanwhile, or when the backend cannot make the write conditional.
    """
    cf = getattr(cf, "core", cf)
    b = cf.backend
    if hasattr(b, "put_if") and hasattr(b, "read_versioned"):
        return b.put_if(key, content, expected)
    if cf.protocol not in ("file", "mem"):
        raise PreconditionFailedError(
            f"{cf.protocol}:// offers no conditional writes here, so {cf.abspath(key)} cannot be changed "
            "without risking someone else's concurrent change being lost; refusing"
        )
    with _locked(cf, key):
        current = cf.call(b.get, key).content
        if _token(current) != expected:
            raise PreconditionFailedError(
                f"{cf.abspath(key)} changed since it was read (someone else moved it meanwhile)"
            )
        cf.call(b.put, key, content, content_type="application/json")
    return _token(content)  # type: ignore[return-value]
