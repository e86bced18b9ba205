"""The one rule for keys that become local paths.

A key is a '/'-separated relative name. Before it touches the local disk it
must be relative (no leading '/'), free of NUL, and every component must be a
real name: not empty ('a//b'), not '.' and not '..'. Backslashes are ordinary
characters on POSIX. Depth and length are bounded so that no operation fails
deep inside with RecursionError or ENAMETOOLONG. Finally the resolved parent
directory (following symlinks) must stay inside the resolved root.
"""
from __future__ import annotations

import os
from typing import Any

from .exceptions import UnsafeKeyError

MAX_DEPTH = 255
MAX_KEY_BYTES = 4096
MAX_NAME_BYTES = 255


def check_relative(key: Any, what: str = "key") -> str:
    """Return ``key`` if it is a safe relative '/'-separated name, else raise :class:`UnsafeKeyError`."""
    if not isinstance(key, str):
        raise UnsafeKeyError(f"{what} must be a str, got {type(key).__name__}", key=key)
    if not key:
        raise UnsafeKeyError(f"empty {what}", key=key)
    if "\0" in key:
        raise UnsafeKeyError(f"{what} {key!r} contains a NUL byte", key=key)
    if key.startswith("/"):
        raise UnsafeKeyError(f"{what} {key!r} is absolute", key=key)
    parts = key.split("/")
    if len(parts) > MAX_DEPTH:
        raise UnsafeKeyError(f"{what} {key[:80]!r}... is {len(parts)} levels deep (limit {MAX_DEPTH})", key=key)
    if len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES:
        raise UnsafeKeyError(f"{what} {key[:80]!r}... is longer than {MAX_KEY_BYTES} bytes", key=key)
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafeKeyError(f"{what} {key!r} has {'an empty' if not part else f'a {part!r}'} component", key=key)
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise UnsafeKeyError(f"{what} {key[:80]!r} has a name longer than {MAX_NAME_BYTES} bytes", key=key)
    return key


def inside(real_root: str, real_path: str) -> bool:
    """Whether the resolved ``real_path`` is ``real_root`` or below it."""
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def local_path(root: str, key: Any, real_root: str | None = None) -> str:
    """``root/key`` after :func:`check_relative`, refusing keys whose existing
    parent directories resolve (through symlinks) outside ``root``."""
    key = check_relative(key)
    path = os.path.join(root, *key.split("/"))
    real_root = real_root or os.path.realpath(root)
    if not inside(real_root, os.path.realpath(os.path.dirname(path))):
        raise UnsafeKeyError(f"key {key!r} leads outside {root} through a symlink", key=key)
    return path


def check_target(real_root: str, path: str, key: str) -> None:
    """Refuse reading ``path`` when it is a symlink resolving outside the root."""
    if os.path.islink(path) and not inside(real_root, os.path.realpath(path)):
        raise UnsafeKeyError(f"key {key!r} is a symlink leading outside the root", key=key)
