"""The bounds of one HTTP exchange: idle timeout, total deadline, largest in-memory body.

Every network backend reads its responses through :mod:`cloudfiles.http1`,
which enforces these. The values come from the ``CloudFiles`` constructor, else the
environment, else the defaults here:

=============  ==========================  ========================  ==============
bound          constructor argument        environment variable      default
=============  ==========================  ========================  ==============
idle timeout   ``timeout=`` (seconds)      --                        60
deadline       ``deadline=`` (seconds)     ``CLOUDFILES_DEADLINE``   600
max body       ``max_body=`` (bytes)       ``CLOUDFILES_MAX_BODY``   4 GiB
=============  ==========================  ========================  ==============

* ``timeout`` bounds each wait for the network (connect, each receive).
* ``deadline`` bounds one attempt as a whole: connect, send, headers and the whole
  body. ``inf`` turns it off.
* ``max_body`` bounds a response held in memory (``get`` of a whole object, listings,
  error documents). Larger objects are read with ``open``/``stream``/``download_file``,
  which fetch bounded ranges. A declared length above it fails before any body byte
  is read; nothing is ever pre-allocated from a declared length beyond
  :data:`PREALLOCATE` bytes.

A body the caller streams to disk as it arrives (the large-download path's ranged
slices) is not held in memory, so ``max_body`` does not apply to it, and its deadline
is extended by one second per :data:`STREAM_MIN_RATE` bytes of the range asked for.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

from .exceptions import DeadlineExceededError, InvalidInputError

GiB = 1024 ** 3
DEFAULT_TIMEOUT = 60.0
DEFAULT_DEADLINE = 600.0
DEFAULT_MAX_BODY = 4 * GiB
#: the most bytes allocated ahead of their arrival (buffers grow as bytes come)
PREALLOCATE = 1024 * 1024
#: the largest header block (status line and headers) of a response
MAX_HEADER_BYTES = 1024 * 1024
#: the longest chunk-size line of a chunked body (size plus extensions)
MAX_CHUNK_LINE = 4096
#: a body streamed to disk (not held in memory) gets this many bytes per second on
#: top of the deadline, so a large ranged slice of a big download is not cut short
STREAM_MIN_RATE = 1024 * 1024


def _number(name: str, value: Any, integer: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, (int, float) if not integer else int)
    if not ok or not value > 0 or (isinstance(value, float) and math.isnan(value)):
        kind = "a positive int (bytes)" if integer else "a positive number of seconds"
        raise InvalidInputError(f"{name} must be {kind}, got {value!r}")
    return value


def _env(name: str, integer: bool) -> Optional[float]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value: Any = int(raw) if integer else float(raw)
    except ValueError:
        value = raw
    return _number(f"${name}", value, integer)


@dataclass(frozen=True)
class WireLimits:
    """Idle ``timeout`` and total ``deadline`` (seconds) and ``max_body`` (bytes)."""

    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    max_body: int = DEFAULT_MAX_BODY

    def start(self, what: str) -> "Deadline":
        """The clock of one attempt, started now."""
        return Deadline(self, what)


def for_options(options: Any) -> WireLimits:
    """The limits a backend's options ask for (constructor, then environment, then defaults)."""
    extra = getattr(options, "extra", None) or {}  # a plain object with an ``extra`` dict also works
    timeout = _number("timeout", getattr(options, "timeout", DEFAULT_TIMEOUT))
    deadline = getattr(options, "deadline", None)
    deadline = extra.get("deadline") if deadline is None else deadline
    deadline = _number("deadline", deadline) if deadline is not None else _env("CLOUDFILES_DEADLINE", False)
    max_body = getattr(options, "max_body", None)
    max_body = extra.get("max_body") if max_body is None else max_body
    max_body = _number("max_body", max_body, True) if max_body is not None else _env("CLOUDFILES_MAX_BODY", True)
    return WireLimits(
        timeout=float(timeout),
        deadline=float(DEFAULT_DEADLINE if deadline is None else deadline),
        max_body=int(DEFAULT_MAX_BODY if max_body is None else max_body),
    )


class Deadline:
    """When one attempt must be over; hands out socket timeouts that respect it."""

    __slots__ = ("limits", "what", "end")

    def __init__(self, limits: WireLimits, what: str):
        self.limits = limits
        self.what = what
        self.end = time.monotonic() + limits.deadline

    def extend(self, seconds: float) -> None:
        """Allow ``seconds`` more (a large streamed body)."""
        self.end += seconds

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    def socket_timeout(self) -> float:
        """The timeout for the next network wait: the idle timeout or what is left."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise self.error()
        return min(self.limits.timeout, left)

    def error(self, detail: str = "") -> DeadlineExceededError:
        return DeadlineExceededError(
            f"{self.what}: exceeded the request deadline of {self.limits.deadline:g} s"
            + (f" ({detail})" if detail else "")
            + " (set deadline= or $CLOUDFILES_DEADLINE to change it)"
        )
