"""Small helpers that cloud-files 6.4.3 exposes as ``cloudfiles.lib``.

Client libraries (volume, mesh and skeleton stores, transfer tools) import
these directly, so each keeps the reference's name, signature and meaning:
``toabs``/``mkdir``/``touch`` for local paths, ``sip``/``scatter``/``toiter``/
``first``/``duplicates``/``nvl``/``totalfn`` for iterables, ``jsonify`` for
numpy-aware JSON bytes, and the ``md5``/``crc32c`` checksum helpers.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
import time
import types
from typing import Any, Iterable, Iterator, Optional, TypeVar, Union


from .integrity import crc32c_value

T = TypeVar("T")

COLORS = {
    "RESET": "\033[m",
    "YELLOW": "\033[1;93m",
    "RED": "\033[1;91m",
    "GREEN": "\033[1;92m",
}


def colorize(color: str, text: str) -> str:
    """``text`` wrapped in the ANSI escape for ``color`` (green, yellow, red)."""
    return COLORS[color.upper()] + text + COLORS["RESET"]


def green(text: str) -> str:
    return colorize("green", text)


def yellow(text: str) -> str:
    return colorize("yellow", text)


def red(text: str) -> str:
    return colorize("red", text)


def toabs(path: str) -> str:
    """``path`` with ``~`` expanded, made absolute and normalised."""
    return os.path.abspath(os.path.expanduser(path))


def mkdir(path: str) -> str:
    """Create directory ``path`` (and parents) if missing; return its absolute form.

    A concurrent creator winning the race is not an error.
    """
    path = toabs(path)
    if path:
        try:
            os.makedirs(path, exist_ok=True)
        except FileExistsError:
            # a file (not a directory) of that name, or a racing creator on an
            # old filesystem: look again once before giving up.
            time.sleep(0.1)
            if not os.path.isdir(path):
                raise
    return path


def touch(path: str) -> None:
    """Update ``path``'s modification time, creating it (and its directory) if needed."""
    if os.path.exists(path):
        os.utime(path)
        return
    parent = os.path.dirname(path)
    if parent:
        mkdir(parent)
    open(path, "a").close()


def nvl(*args: Any) -> Any:
    """The leftmost argument that is not None (the last one if all are None)."""
    if len(args) < 2:
        raise IndexError("nvl takes at least two arguments.")
    for arg in args:
        if arg is not None:
            return arg
    return args[-1]


def totalfn(files: Any, total: Optional[int]) -> Optional[int]:
    """``total`` if given, else ``len(files)`` when it has one, else None."""
    if total is not None:
        return total
    try:
        return len(files)
    except TypeError:
        return None


def sip(iterable: Iterable[T], block_size: int) -> Iterator[list[T]]:
    """Yield lists of ``block_size`` consecutive items (the last may be shorter)."""
    block: list[T] = []
    for item in iterable:
        block.append(item)
        if len(block) == block_size:
            yield block
            block = []
    if block:
        yield block


def jsonify(obj: Any, **kwargs: Any) -> bytes:
    """Compact JSON as UTF-8 bytes; numpy scalars and arrays and non-string keys allowed.

    Keyword arguments go to :func:`orjson.dumps` (``default=``, ``option=`` bits
    are added to the numpy and non-string-key options).
    """
    import orjson

    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | kwargs.pop("option", 0)
    return orjson.dumps(obj, option=option, **kwargs)


def first(lst: Any) -> Any:
    """The first item of a sequence, iterable or generator; None if it is empty."""
    if isinstance(lst, types.GeneratorType):
        return next(lst, None)
    try:
        return lst[0]
    except IndexError:
        return None
    except TypeError:
        return next(iter(lst), None)


def toiter(obj: Any, is_iter: bool = False):
    """``obj`` as an iterable: strings, dicts and scalars are wrapped in a list.

    With ``is_iter=True`` returns ``(iterable, obj_was_already_iterable)``.
    """
    if isinstance(obj, (str, dict)):
        wrapped, was_iter = [obj], False
    else:
        try:
            iter(obj)
            wrapped, was_iter = obj, True
        except TypeError:
            wrapped, was_iter = [obj], False
    return (wrapped, was_iter) if is_iter else wrapped


def duplicates(lst: Iterable[T]) -> set[T]:
    """The set of items that occur more than once."""
    seen: set = set()
    dupes: set = set()
    for item in lst:
        if item in seen:
            dupes.add(item)
        seen.add(item)
    return dupes


def scatter(sequence: Iterable[T], n: int) -> Iterator[list[T]]:
    """Deal ``sequence`` round-robin into ``n`` lists (item i goes to list i % n)."""
    if n < 1:
        raise ValueError(f"n cannot be less than one. Got: {n}")
    items = list(sequence)
    for i in range(n):
        yield items[i::n]


def crc32c(binary: Union[bytes, str]) -> int:
    """crc32c of ``binary`` (str is encoded as UTF-8) as an unsigned int."""
    if isinstance(binary, str):
        binary = binary.encode("utf8")
    return crc32c_value(binary)


def decode_crc32c_b64(b64digest: str) -> int:
    """A base64 crc32c digest (as GCS sends it, padding optional) as an int."""
    b64digest += "=" * (-len(b64digest) % 4)
    return struct.unpack("!I", base64.b64decode(b64digest))[0]


def encode_crc32c_b64(binary: Union[bytes, str]) -> bytes:
    """The crc32c of ``binary`` as base64 of its 4 big-endian bytes."""
    return base64.b64encode(crc32c(binary).to_bytes(4, "big"))


def md5(binary: Union[bytes, str], base: int = 64) -> str:
    """md5 of ``binary`` as base64 (``base=64``) or hex (``base=16``)."""
    if isinstance(binary, str):
        binary = binary.encode("utf8")
    digest = hashlib.md5(binary)
    if base == 64:
        return base64.b64encode(digest.digest()).decode("utf8")
    if base == 16:
        return digest.hexdigest()
    raise ValueError(f"base {base} must be 16 or 64.")


def md5_equal(hash_a: str, hash_b: str) -> bool:
    """True if two md5 digests (hex or base64, optionally quoted like ETags) are equal."""

    def to_b64(h: str) -> str:
        h = h.strip('"')
        if len(h) == 32:
            try:
                return base64.b64encode(binascii.unhexlify(h)).decode("utf8")
            except binascii.Error:
                return h
        return h

    return to_b64(hash_a) == to_b64(hash_b)


def calc_s3_multipart_etag(content: bytes, partsize: int) -> str:
    """The ETag S3 gives ``content`` uploaded in parts of ``partsize`` bytes."""
    from .backends.wire.etag import multipart_etag

    return multipart_etag(content, partsize)


def validate_s3_multipart_etag(content: bytes, etag: str, part_size: Optional[int]) -> bool:
    """True if ``etag`` (``md5-N``) matches ``content`` for a plausible part size.

    Tries ``part_size`` if given, then the part sizes common clients use and
    the size/N rounded up (see :func:`cloudfiles.backends.wire.etag.candidate_part_sizes`).
    """
    from .backends.wire.etag import multipart_match

    return bool(multipart_match(content, etag, part_size))
