"""Moving files between any two CloudFiles, keeping compressed bytes compressed.

Per file: a server-side copy when both ends are the same service and no
re-encoding is asked for; otherwise the stored bytes are read raw and written
raw with their encoding, decoded/encoded only when ``reencode`` asks for a
different encoding. Every file is attempted; failures are collected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator, Optional, Union

from . import compression, inputs
from .compression import normalize_content_encoding, normalize_encoding
from .exceptions import InvalidInputError, NotFoundError, TransferError

if TYPE_CHECKING:
    from .cloudfiles import CloudFiles

_KEEP = object()


@dataclass
class TransferResult:
    """What a transfer did: counts, bytes moved, and each failed path's error."""

    transferred: int = 0
    skipped: int = 0
    missing: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {"transferred": self.transferred, "skipped": self.skipped, "missing": list(self.missing),
                "failed": {k: str(v) for k, v in self.failed.items()}, "bytes": self.bytes}


def _pairs(paths: Iterable) -> Iterator[tuple[str, str]]:
    for item in paths:
        if isinstance(item, str):
            yield item, item
        elif isinstance(item, dict):
            if "path" not in item:
                raise InvalidInputError(f"a transfer dict needs a 'path' key: {item!r}")
            yield item["path"], item.get("dest_path") or item["path"]
        else:
            raise InvalidInputError(f"transfer paths must be names or dicts, got {type(item).__name__}")


def _target_encoding(reencode) -> object:
    if reencode is None:
        return _KEEP
    return normalize_encoding(reencode)


def copy_one(src: "CloudFiles", dest: "CloudFiles", key: str, dkey: str, target=_KEEP,
             content_type: Optional[str] = None) -> Optional[int]:
    """Copy one file; return the stored bytes written (0 for a server-side copy),
    or ``None`` when the source does not exist."""
    skey, dkey = src._key(key), dest._key(dkey)
    if target is _KEEP and src.backend.same_service(dest.backend) and content_type is None:
        try:
            if src._call(src.backend.copy_within, skey, dest.backend, dkey):
                return 0
        except NotFoundError:
            return None
    res = src._fetch(skey, None, None)
    if res.content is None:
        return None
    content = res.content
    enc = normalize_content_encoding(res.encoding)
    if target is not _KEEP and target != enc:
        content = compression.compress(compression.decompress(content, enc, skey), target)
        enc = target
    req = {"path": dkey, "content": content, "compress": enc, "raw": True,
           "content_type": content_type}
    dest._put_one(req)
    return len(content)


def transfer(
    src: "CloudFiles",
    dest: "CloudFiles",
    paths: Optional[Iterable] = None,
    block_size: int = 64,
    reencode: Union[str, bool, None] = None,
    content_type: Optional[str] = None,
    allow_missing: bool = False,
    progress=False,
    skip_existing: bool = False,
) -> TransferResult:
    """Copy ``paths`` (default: everything listed in ``src``) from ``src`` to ``dest``."""
    if not isinstance(block_size, int) or block_size < 1:
        raise InvalidInputError(f"block_size must be a positive int, got {block_size!r}")
    target = _target_encoding(reencode)
    items = src.list() if paths is None else inputs.to_iter(paths)
    if isinstance(items, str):
        items = [items]
    result = TransferResult()

    def one(pair):
        key, dkey = pair
        try:
            if skip_existing:
                ssize = src.size(key)
                if ssize is not None and dest.size(dkey) == ssize:
                    return key, "skipped", 0
            n = copy_one(src, dest, key, dkey, target, content_type)
            if n is None:
                return key, "missing", 0
            return key, "ok", n
        except Exception as err:
            return key, err, 0

    total = len(items) if hasattr(items, "__len__") else None
    from .scheduler import schedule

    threads = min(src._threads(total), block_size)
    for key, status, n in schedule(one, _pairs(items), concurrency=threads, green=src.green,
                                   progress=progress, total=total, desc="Transferring"):
        if status == "ok":
            result.transferred += 1
            result.bytes += n
        elif status == "skipped":
            result.skipped += 1
        elif status == "missing":
            if allow_missing:
                result.missing.append(key)
            else:
                result.failed[key] = NotFoundError(f"{src.abspath(key)} does not exist")
        else:
            result.failed[key] = status
    if result.failed:
        first_key, first_err = next(iter(result.failed.items()))
        err = TransferError(
            f"{len(result.failed)} of {len(result.failed) + result.transferred} files failed to transfer; "
            f"first: {first_key!r}: {first_err}", result.failed,
        )
        err.result = result  # type: ignore[attr-defined]
        raise err from first_err
    return result


def move_files(src: "CloudFiles", dest: "CloudFiles", paths: Iterable, block_size: int = 64,
               progress=False) -> TransferResult:
    """Transfer, then delete only the sources whose copy succeeded."""
    pairs = list(_pairs(inputs.to_iter(paths) if not isinstance(paths, str) else [paths]))
    result = transfer(src, dest, [{"path": s, "dest_path": d} for s, d in pairs],
                      block_size=block_size, progress=progress)
    same = src.cloudpath == dest.cloudpath
    to_delete = [s for s, d in pairs if not (same and s == d)]
    if to_delete:
        src.delete(to_delete)
    return result
