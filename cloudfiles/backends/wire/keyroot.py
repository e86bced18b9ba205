"""A backend's key root: the part of its cloudpath that every key is relative to.

``KeyRoot("data/v1")`` joins ``"a/b"`` to ``"data/v1/a/b"`` and gives back
``"a/b"`` for a full key listed under it; ``scope(prefix)`` is the full prefix
a listing under the root asks for. An empty root is the bucket (or
server) itself. Leading slashes of keys are dropped when joining, as every
backend did; the root always ends in exactly one '/' when not empty.
"""
from __future__ import annotations

from typing import Optional


class KeyRoot:
    """Joins relative keys to full service keys and back; immutable and hashable."""

    __slots__ = ("prefix",)

    def __init__(self, path: Optional[str] = ""):
        path = path or ""
        object.__setattr__(self, "prefix", path.rstrip("/") + "/" if path.strip("/") else "")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("KeyRoot is immutable")

    def join(self, key: str) -> str:
        """The full key of ``key`` (relative to this root)."""
        return self.prefix + key.lstrip("/") if self.prefix else key

    def scope(self, prefix: str = "") -> str:
        """The full listing prefix for ``prefix`` (kept as given: it is matched, not joined)."""
        return self.prefix + prefix

    def contains(self, full: str) -> bool:
        """``full`` lies under this root (always, for the empty root)."""
        return full.startswith(self.prefix)

    def relative(self, full: str) -> str:
        """``full`` (a key under this root, e.g. from a listing) relative to the root."""
        return full[len(self.prefix):] if self.prefix and full.startswith(self.prefix) else full

    def __len__(self) -> int:
        return len(self.prefix)

    def __bool__(self) -> bool:
        return bool(self.prefix)

    def __str__(self) -> str:
        return self.prefix

    def __repr__(self) -> str:
        return f"KeyRoot({self.prefix!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyRoot) and other.prefix == self.prefix

    def __hash__(self) -> int:
        return hash(self.prefix)

    def __reduce__(self):
        return KeyRoot, (self.prefix,)
