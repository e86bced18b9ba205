"""Conditional writes ("compare and swap") for small control objects such as tags.

Backends that declare ``features.conditional_writes`` offer::

    backend.read_versioned(key) -> (content or None, token or None)
    backend.put_if(key, content, expected_token) -> new token
        # expected_token None: create only if absent; otherwise replace only if
        # the object still has that token; raise PreconditionFailedError if not.

S3 uses ``If-Match``/``If-None-Match``, GCS ``ifGenerationMatch``, file:// an
``flock`` on a hidden lock file beside the object, mem:// the bucket's lock.
Anything else refuses with :class:`PreconditionFailedError`, because a tag
moved by a plain overwrite could silently undo someone else's move. Only
writers that go through ``put_if`` are coordinated; a plain ``put`` bypasses it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..exceptions import PreconditionFailedError
from ..objects import core_of

if TYPE_CHECKING:
    from ..objects import ObjectCore


def supported(cf: "ObjectCore") -> bool:
    """True when ``cf``'s backend can do conditional writes."""
    cf = core_of(cf)  # a CloudFiles stands for its core
    return cf.backend.features.conditional_writes


def read_versioned(cf: "ObjectCore", key: str) -> tuple[Optional[bytes], Optional[str]]:
    """Stored bytes of ``key`` and the token a later :func:`put_if` must present."""
    cf = core_of(cf)  # a CloudFiles stands for its core
    b = cf.backend
    if b.features.conditional_writes:
        return cf.call(b.read_versioned, key)
    content = cf.call(b.get, key).content
    return content, None


def put_if(cf: "ObjectCore", key: str, content: bytes, expected: Optional[str]) -> str:
    """Write ``content`` at ``key`` only if it still has token ``expected``
    (``None``: only if absent); return the new token.

    Raises :class:`PreconditionFailedError` when someone else changed ``key``
    meanwhile, or when the backend cannot make the write conditional.
    """
    cf = core_of(cf)
    b = cf.backend
    if not b.features.conditional_writes:
        raise PreconditionFailedError(
            f"{cf.protocol}:// offers no conditional writes here, so {cf.abspath(key)} cannot be changed "
            "without risking someone else's concurrent change being lost; refusing"
        )
    return b.put_if(key, content, expected)
