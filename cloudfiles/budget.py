"""One budget for the bytes in flight across every transfer of this process.

Each copy holds some bytes while it runs: a small file is read whole (its
size), a large one streams with ``(part_threads + 2)`` parts alive. Without a
shared bound, 20 threads copying 100 MB files would hold 20 streams' worth
of parts at once (1.6 GB at the defaults). So every file of ``transfer_to``,
``transfer_from``, ``moves``, ``cloudfiles cp``/``mv``, and every
``download_file``/``upload_file``, first takes its bytes from one
process-wide :class:`ByteBudget` (a semaphore counted in bytes) and gives them
back when its bytes are written:

- a whole-object copy takes the object's size (twice that when re-encoding);
- a streamed copy asks for ``(part_threads + 2) * part_size`` but settles for
  three parts, and runs with as many parts in flight as it was granted;
- a request larger than the whole budget waits until the budget is free and
  takes all of it: a single object larger than the budget streams in parts
  (and a whole small file larger than a tiny budget still moves), never
  deadlocks.

Waiters are served in arrival order, so a large request is not starved by a
stream of small ones. The limit is ``CLOUDFILES_MEMORY_BUDGET`` (bytes, or a
number with ``K``/``M``/``G``; default 128 MiB) or :func:`set_limit`. Each
process has its own budget. With ``parallel=N`` (``run_chunks`` in
cloudfiles/processes.py, ``transfer``'s processes, the CLI's ``-p N``) the
parent's limit is split: each of the N children gets :func:`child_share`,
``limit // N`` but at least three parts (the least one streamed copy runs
with; 24 MiB at the default 8 MiB parts) and never more than the limit, so
N children hold about the limit in all, or ``N x 3`` parts when N is larger
than the limit has room for.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator, Optional

from .exceptions import InvalidInputError

MiB = 1024 * 1024
DEFAULT_LIMIT = 128 * MiB
ENV = "CLOUDFILES_MEMORY_BUDGET"
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": MiB, "MB": MiB, "MIB": MiB,
          "G": 1024 * MiB, "GB": 1024 * MiB, "GIB": 1024 * MiB}


def parse_size(value: str) -> int:
    """``"256M"``, ``"1G"``, ``"1048576"`` -> bytes (a positive int)."""
    text = str(value).strip().upper()
    num = text.rstrip("KMGIB")
    unit = text[len(num):]
    try:
        n = int(float(num) * _UNITS[unit])
    except (KeyError, ValueError):
        raise InvalidInputError(f"a memory budget is bytes or a number with K/M/G, got {value!r}") from None
    if n < 1:
        raise InvalidInputError(f"a memory budget must be positive, got {value!r}")
    return n


class ByteBudget:
    """A counting semaphore of bytes with first-come-first-served waiting."""

    def __init__(self, limit: int):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"a memory budget must be a positive int of bytes, got {limit!r}")
        self.limit = limit
        self._free = limit
        self._cond = threading.Condition()
        self._queue: deque = deque()
        self.peak = 0  # most bytes ever granted at once (for tests and benchmarks)

    @property
    def in_use(self) -> int:
        return self.limit - self._free

    def acquire(self, want: int, least: Optional[int] = None) -> int:
        """Take up to ``want`` bytes, waiting until at least ``least`` (default:
        ``want``) are free; both are capped at the limit. Returns the bytes granted."""
        want = min(max(int(want), 0), self.limit)
        least = want if least is None else min(max(int(least), 0), want)
        if want == 0:
            return 0
        me = object()
        with self._cond:
            self._queue.append(me)
            try:
                while self._queue[0] is not me or self._free < least:
                    self._cond.wait()
            finally:
                self._queue.remove(me)
                self._cond.notify_all()
            grant = min(want, self._free)
            self._free -= grant
            self.peak = max(self.peak, self.limit - self._free)
            return grant

    def release(self, n: int) -> None:
        if n <= 0:
            return
        with self._cond:
            self._free = min(self.limit, self._free + n)
            self._cond.notify_all()

    @contextmanager
    def hold(self, want: int, least: Optional[int] = None) -> Iterator[int]:
        """``acquire`` for the block; yields the grant and releases it after."""
        grant = self.acquire(want, least)
        try:
            yield grant
        finally:
            self.release(grant)


_budget: Optional[ByteBudget] = None
_lock = threading.Lock()


def get() -> ByteBudget:
    """This process's budget (made on first use from ``CLOUDFILES_MEMORY_BUDGET``)."""
    global _budget
    b = _budget
    if b is None:
        with _lock:
            if _budget is None:
                env = os.environ.get(ENV)
                _budget = ByteBudget(parse_size(env) if env else DEFAULT_LIMIT)
            b = _budget
    return b


def set_limit(limit: "int | str") -> None:
    """Replace this process's budget (transfers already holding bytes give them back
    to the old one)."""
    global _budget
    with _lock:
        _budget = ByteBudget(parse_size(limit) if isinstance(limit, str) else limit)


CHILD_FLOOR_PARTS = 3  # as ``for_stream``'s least: one part in flight, one being read, one written


def child_share(n: int, part_size: int = 8 * MiB) -> int:
    """The budget of each of ``n`` child processes: this process's limit split ``n``
    ways, floored at ``CHILD_FLOOR_PARTS * part_size`` (capped at the limit) so each
    child can still stream a file."""
    limit = get().limit
    return max(limit // max(1, int(n)), min(limit, CHILD_FLOOR_PARTS * max(1, int(part_size))))


def init_child(limit: int) -> None:
    """A child process's start: its own budget of ``limit`` bytes (see :func:`child_share`)."""
    set_limit(limit)


if hasattr(os, "register_at_fork"):
    # A child must not inherit a budget whose holders live only in the parent.
    os.register_at_fork(after_in_child=lambda: globals().__setitem__("_budget", None))


@contextmanager
def for_whole(size: Optional[int], factor: int = 1) -> Iterator[int]:
    """Hold ``size * factor`` bytes for a file read (and written) whole."""
    with get().hold((size or 0) * factor) as grant:
        yield grant


@contextmanager
def for_stream(part_size: int, parallel: int) -> Iterator[int]:
    """Hold the bytes of one streamed transfer; yields the parts it may keep in flight
    (``parallel`` if the budget allows, else fewer, at least one)."""
    want = (parallel + 2) * part_size
    with get().hold(want, least=3 * part_size) as grant:
        yield max(1, min(parallel, grant // part_size - 2))
