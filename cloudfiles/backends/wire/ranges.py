"""Byte-range reads over HTTP, written once for every backend that speaks it.

A read of ``[start, end)`` (``end`` None: to the end; ``start`` negative alone:
the last ``-start`` bytes) becomes one ``Range`` header, and the answer is one
of:

* **206** with ``Content-Range: bytes FIRST-LAST/TOTAL``: the header must agree
  with what was asked (FIRST no later than the first byte wanted, LAST not
  before the last byte wanted when the object has it, LAST < TOTAL) and with the
  body's length; a disagreement is :class:`BadResponseError` (retried: proxies
  and half-broken servers cause it). A server that sent from earlier than asked
  is trimmed here.
* **200** (the server ignored ``Range``, which RFC 9110 allows): the whole
  object came, the range is cut out here.
* **416**: the range starts at or past the end. The object exists (its bytes
  are ``b""``); its encoding comes from the answer or from the object's
  metadata, since ranges address decoded bytes and the facade must know.

An empty range (``end <= start``) sends no GET at all: only whether the object
exists and its encoding are needed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from ...exceptions import BadResponseError
from ..base import GetResult, check_range

if TYPE_CHECKING:
    from ...meta import ObjectMeta


@dataclass(frozen=True)
class ByteRange:
    """A validated ``[start, end)`` range; ``start < 0`` (with no end) is a suffix."""

    start: Optional[int]
    end: Optional[int]

    @classmethod
    def of(cls, start: Optional[int], end: Optional[int]) -> Optional["ByteRange"]:
        """The range for ``start``/``end``, or None for the whole object (bad ones raise)."""
        if start is None and end is None:
            return None
        check_range(start, end)
        return cls(start, end)

    @property
    def suffix(self) -> bool:
        return self.start is not None and self.start < 0

    @property
    def first(self) -> int:
        """The first byte asked for (0 for a suffix, whose start depends on the size)."""
        return 0 if self.start is None or self.start < 0 else self.start

    @property
    def empty(self) -> bool:
        """No bytes can come back (``end <= start``): nothing to GET."""
        return not self.suffix and self.end is not None and self.end <= self.first

    def header(self) -> str:
        """The ``Range`` header value (``bytes=a-b``, ``bytes=a-`` or ``bytes=-n``)."""
        if self.suffix:
            return f"bytes={self.start}"
        return f"bytes={self.first}-" if self.end is None else f"bytes={self.first}-{self.end - 1}"

    def cut(self, data: bytes) -> bytes:
        """The range out of the whole object's ``data`` (a 200 answer)."""
        if self.suffix:
            return data[self.start:]
        return data[self.first:self.end]


def parse_content_range(value: Optional[str]) -> Optional[tuple[int, int, Optional[int]]]:
    """``(first, last, total or None)`` of ``bytes FIRST-LAST/TOTAL|*``; None if malformed."""
    if not value:
        return None
    unit, _, rest = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    span, _, total = rest.strip().partition("/")
    first, dash, last = span.partition("-")
    if not dash or not _digits(first) or not _digits(last) or not (total == "*" or _digits(total)):
        return None
    a, b = int(first), int(last)
    t = None if total == "*" else int(total)
    if b < a or (t is not None and b >= t):
        return None
    return a, b, t


def _digits(s: str) -> bool:
    return 0 < len(s) <= 20 and s.isascii() and s.isdigit()


def partial(rng: ByteRange, headers: Any, length: int, what: str) -> tuple[int, int]:
    """Check a 206 answer to ``rng`` carrying ``length`` body bytes.

    Returns ``(skip, keep)``: bytes to drop from the body's front (a server that
    started earlier than asked) and how many to keep after them.
    """
    raw = headers.get("content-range")
    cr = parse_content_range(raw)
    if cr is None:
        raise BadResponseError(f"{what}: a 206 answer without a usable Content-Range ({raw!r}; "
                               "multipart ranges are never asked for)")
    first, last, total = cr
    if length != last - first + 1:
        raise BadResponseError(f"{what}: Content-Range {raw!r} promised {last - first + 1} bytes, "
                               f"the body had {length}")
    if rng.suffix:
        want = max(0, total + rng.start) if total is not None else first  # type: ignore[operator]
    else:
        want = rng.first
    if first > want:
        raise BadResponseError(f"{what}: asked for {rng.header()}, the server sent from byte {first} ({raw})")
    stop = rng.end if rng.end is not None and not rng.suffix else None
    if total is not None:
        stop = total if stop is None else min(stop, total)
    if stop is not None and last + 1 < stop:
        raise BadResponseError(f"{what}: asked for {rng.header()}, the server sent only up to byte {last} "
                               f"of {total if total is not None else '?'} ({raw})")
    skip = want - first
    keep = (last + 1 - want) if stop is None else max(0, stop - want)
    return skip, keep


def body(rng: ByteRange, status: int, headers: Any, data: bytes, what: str) -> bytes:
    """The bytes ``rng`` asked for from a 200 or 206 answer (see the module docstring)."""
    if status == 200:
        return rng.cut(data)
    skip, keep = partial(rng, headers, len(data), what)
    if skip == 0 and keep >= len(data):
        return data
    return data[skip:skip + keep]


def streamed(start: int, end: int, status: int, headers: Any, what: str) -> Optional[int]:
    """Bytes a streamed 206 answer to ``[start, end)`` will carry, checked against its
    Content-Range (which must start at ``start``); None when the answer is not a 206."""
    if status != 206:
        return None
    raw = headers.get("content-range")
    cr = parse_content_range(raw)
    if cr is None or cr[0] != start:
        raise BadResponseError(f"{what}: answered with Content-Range {raw!r}")
    first, last, total = cr
    stop = end if total is None else min(end, total)
    if last + 1 > end or last + 1 < stop:
        raise BadResponseError(f"{what}: answered with Content-Range {raw!r} for bytes {start}-{end - 1}")
    return last - first + 1


def total_size(headers: Any) -> Optional[int]:
    """The object's size from a 206's or 416's ``Content-Range`` (``bytes */SIZE`` too)."""
    raw = (headers.get("content-range") or "").strip()
    cr = parse_content_range(raw)
    if cr is not None:
        return cr[2]
    unit, _, rest = raw.partition(" ")
    if unit.lower() == "bytes" and rest.startswith("*/") and _digits(rest[2:]):
        return int(rest[2:])
    return None


def nothing_to_read(meta: Callable[[], "Optional[ObjectMeta]"], encoding: Optional[str] = None) -> GetResult:
    """The result of an empty range, or of a 416 (the range starts past the end):
    no bytes, but ``None`` if the object is missing and its stored encoding if not
    (from the answer's ``encoding`` when it carried one, else from ``meta()``)."""
    if encoding:
        return GetResult(b"", encoding)
    found = meta()
    return GetResult(None) if found is None else GetResult(b"", found.encoding)
