"""Normalising what users pass in: scalars vs. collections, request forms, content.

Kept apart from the facade so the rules live in one place and are tested once.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Optional

from .exceptions import InvalidInputError

SCALAR_GET_TYPES = (str, dict)


def is_scalar_get(paths: Any) -> bool:
    return isinstance(paths, SCALAR_GET_TYPES)


def is_scalar_put(files: Any) -> bool:
    return isinstance(files, (dict, tuple))


def to_iter(paths: Any) -> Iterable:
    """Lists, tuples and sets are kept (they have a length); other iterables pass through."""
    if isinstance(paths, (list, tuple, set, frozenset)):
        return list(paths)
    if isinstance(paths, (bytes, bytearray)):
        raise InvalidInputError(f"expected a path or a collection of paths, got {type(paths).__name__}")
    try:
        return iter(paths)
    except TypeError:
        raise InvalidInputError(
            f"expected a path (str), a request dict, or an iterable of them; got {type(paths).__name__}"
        ) from None


def check_key(path: Any) -> str:
    if not isinstance(path, str):
        raise InvalidInputError(f"a file path must be a str, got {type(path).__name__}: {path!r}")
    if path == "":
        raise InvalidInputError("empty file path")
    if "\0" in path:
        from .exceptions import UnsafeKeyError

        raise UnsafeKeyError(f"key {path!r} contains a NUL byte (refused on every backend)", key=path)
    return path


def is_text_stream(content: Any) -> bool:
    """A file object opened in text mode (it would yield str, not bytes)."""
    import io

    return isinstance(content, io.TextIOBase) or (
        hasattr(content, "read") and "b" not in str(getattr(content, "mode", "b")))


def check_binary_stream(content: Any, path: str) -> None:
    """Refuse a text-mode file object as upload content, naming the file and the fix."""
    if is_text_stream(content):
        raise InvalidInputError(
            f"content for {path!r} is a text-mode file object ({type(content).__name__}); "
            "open the file in binary mode ('rb') or pass bytes")


def get_request(item: Any) -> tuple[str, Optional[int], Optional[int]]:
    """``'name'`` or ``{'path', 'start', 'end'}`` -> ``(path, start, end)``."""
    if isinstance(item, str):
        return check_key(item), None, None
    if isinstance(item, dict):
        if "path" not in item:
            raise InvalidInputError(f"a get request dict needs a 'path' key: {item!r}")
        return check_key(item["path"]), item.get("start"), item.get("end")
    raise InvalidInputError(f"a get request must be a str or a dict with 'path', got {type(item).__name__}: {item!r}")


def get_tags(item: Any) -> Any:
    """The ``tags`` a get request dict carries (passed through to its result), else ``None``."""
    return item.get("tags") if isinstance(item, dict) else None


def to_bytes(content: Any, path: str) -> bytes:
    """Accept bytes, bytearray, memoryview and str (utf-8); name the file otherwise."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, (bytearray, memoryview)):
        return bytes(content)
    check_binary_stream(content, path)
    raise InvalidInputError(
        f"content for {path!r} must be bytes or str, got {type(content).__name__}"
        + (" (use put_json for JSON-serialisable data)" if isinstance(content, (dict, list, int, float)) else "")
    )


PUT_KEYS = {"path", "content", "content_type", "compress", "compression_level",
            "cache_control", "storage_class", "raw"}


def put_request(item: Any, defaults: dict) -> dict:
    """A tuple ``(path, content)`` or a dict -> a full request dict (dict fields win)."""
    if isinstance(item, tuple):
        if len(item) != 2:
            raise InvalidInputError(f"a put tuple must be (path, content), got {len(item)} elements")
        req = dict(defaults)
        req["path"], req["content"] = item
    elif isinstance(item, dict):
        if "path" not in item or "content" not in item:
            raise InvalidInputError(f"a put dict needs 'path' and 'content' keys, got keys {sorted(item)}")
        unknown = set(item) - PUT_KEYS
        if unknown:
            raise InvalidInputError(f"unknown put option(s) {sorted(unknown)} for {item.get('path')!r}")
        req = dict(defaults)
        req.update(item)
    else:
        raise InvalidInputError(f"each file to put must be a (path, content) tuple or a dict, got {type(item).__name__}")
    check_key(req["path"])
    return req


def _json_default(obj: Any) -> Any:
    """numpy arrays and scalars (anything with ``tolist``/``item``) as plain JSON values."""
    for name in ("tolist", "item"):
        fn = getattr(obj, name, None)
        if callable(fn) and type(obj).__module__.split(".")[0] == "numpy":
            return fn()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def json_bytes(content: Any, path: str) -> bytes:
    """``content`` as UTF-8 JSON; numpy arrays and numbers serialise as lists and numbers."""
    import json  # imported when first needed: keeps ``import cloudfiles`` light

    try:
        return json.dumps(content, default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"content for {path!r} is not JSON-serialisable: {err}") from err


def iter_put_requests(files: Iterable, defaults: dict) -> Iterator[dict]:
    """Validate lazily, rejecting a path seen twice in the same call."""
    seen: set[str] = set()
    for item in files:
        req = put_request(item, defaults)
        p = req["path"]
        if p in seen:
            raise InvalidInputError(f"duplicate path {p!r} in one puts() call")
        seen.add(p)
        yield req
