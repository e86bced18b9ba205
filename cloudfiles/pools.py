"""Shipping batch specs to a ``concurrent.futures`` process pool that may break.

A ``ProcessPoolExecutor`` whose child dies (SIGKILL, the OOM killer) is broken
for good: every batch it held fails with ``BrokenProcessPool`` and it accepts no
more work. Dask re-runs such batches; a process pool does not, so
:func:`ship_futures` does: the batches whose results had not come back are
submitted again, in their order, to a replacement ``ProcessPoolExecutor`` of the
same size (start method and initializer) that this module creates, owns and
shuts down. The caller's pool is never shut down or replaced in the caller's
hands. A batch whose result arrived is never run again, so results count every
item once; a re-run batch may redo writes the dead child made (every shipped op
is idempotent). After ``max_replacements`` replacement pools broke too, one
:class:`~cloudfiles.exceptions.WorkersLostError` names the batches not completed.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Optional

from .exceptions import WorkersLostError

MAX_REPLACEMENTS = 3
#: After a break, how long to wait for the broken pool to fail its other batches.
SETTLE_SECONDS = 10.0

_LOST = ("lost", None)
_END = object()


class _Entry:
    """One shipped batch: its spec, its current future, and its outcome once known."""

    __slots__ = ("spec", "future", "outcome")

    def __init__(self, spec: Any):
        self.spec = spec
        self.future: Any = None
        self.outcome: Optional[tuple] = None  # ("ok", result) | ("err", exc) | _LOST


class _Pools:
    """The caller's executor, then the replacement pools made here (at most ``cap``)."""

    def __init__(self, executor: Any, size: int, cap: int):
        self.original, self.current = executor, executor
        self.size, self.cap = size, cap
        self.replacements = 0
        self.owned: Any = None

    def replace(self, lost: int) -> None:
        if self.replacements >= self.cap:
            raise WorkersLostError(
                f"{lost} shipped batches were not completed: worker processes died in the "
                f"process pool and in {self.replacements} replacement pools", lost, self.replacements)
        old, self.owned = self.owned, _like(self.original, self.size)
        self.current = self.owned
        self.replacements += 1
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self.owned is not None:
            self.owned.shutdown(wait=True, cancel_futures=True)
            self.owned = None


def _like(pool: Any, size: int) -> Any:
    """A new ``ProcessPoolExecutor`` set up as ``pool`` is (size, start method, initializer)."""
    from concurrent.futures import ProcessPoolExecutor

    kw: dict = {"max_workers": size}
    for attr, name in (("_mp_context", "mp_context"), ("_initializer", "initializer"),
                       ("_max_tasks_per_child", "max_tasks_per_child")):
        value = getattr(pool, attr, None)
        if value is not None:
            kw[name] = value
    if "initializer" in kw:
        kw["initargs"] = getattr(pool, "_initargs", ())
    return ProcessPoolExecutor(**kw)


def ship_futures(executor: Any, specs: Iterable, limit: int, run: Callable, *, size: int,
                 ordered: bool = False, max_replacements: int = MAX_REPLACEMENTS) -> Iterator[tuple]:
    """Submit ``run(spec)`` for each of ``specs`` (at most ``limit`` unreturned at once) and
    yield ``(spec, result)`` as batches complete (``ordered``: in the order of ``specs``).

    A batch that fails as a whole raises its error; a broken process pool is replaced
    (see the module docstring). Stopping early cancels the batches not yet started.
    """
    pools = _Pools(executor, size, max_replacements)
    entries: deque[_Entry] = deque()
    source = iter(specs)
    more = True
    try:
        while True:
            while more and len(entries) < limit:
                spec = next(source, _END)
                if spec is _END:
                    more = False
                    break
                entry = _Entry(spec)
                _submit(pools.current, run, entry)
                entries.append(entry)
            if not entries:
                return
            _wait(entries, ordered)
            _harvest(entries)
            if any(e.outcome is _LOST for e in entries):
                _settle(entries)
                lost = [e for e in entries if e.outcome is _LOST]
                pools.replace(len(lost))
                for e in lost:
                    _submit(pools.current, run, e)
            while entries and (ordered and entries[0].outcome not in (None, _LOST)):
                yield _take(entries.popleft())
            if not ordered:
                ready = [e for e in entries if e.outcome not in (None, _LOST)]
                for e in ready:
                    entries.remove(e)
                for e in ready:
                    yield _take(e)
    finally:
        for e in entries:
            if e.future is not None:
                e.future.cancel()
        pools.close()


def _submit(pool: Any, run: Callable, entry: _Entry) -> None:
    entry.outcome = None
    try:
        entry.future = pool.submit(run, entry.spec)
    except BrokenProcessPool:  # broken before this call, or between two submits
        entry.future, entry.outcome = None, _LOST


def _wait(entries: deque, ordered: bool) -> None:
    if any(e.outcome is _LOST for e in entries):
        return
    if ordered:
        head = entries[0]
        if head.outcome is None:
            wait([head.future])
        return
    running = [e.future for e in entries if e.outcome is None]
    if running and not any(e.outcome is not None for e in entries):
        wait(running, return_when=FIRST_COMPLETED)


def _harvest(entries: Iterable[_Entry]) -> None:
    for e in entries:
        if e.outcome is not None or not e.future.done():
            continue
        err = e.future.exception()
        if isinstance(err, BrokenProcessPool):
            e.outcome = _LOST
        elif err is not None:
            e.outcome = ("err", err)
        else:
            e.outcome = ("ok", e.future.result())


def _settle(entries: deque) -> None:
    """Let the broken pool fail (or finish) its other batches; what is left is lost too."""
    running = [e.future for e in entries if e.outcome is None]
    if running:
        wait(running, timeout=SETTLE_SECONDS)
    _harvest(entries)
    for e in entries:
        if e.outcome is None:
            e.future.cancel()
            e.outcome = _LOST


def _take(entry: _Entry) -> tuple:
    kind, value = entry.outcome  # type: ignore[misc]
    if kind == "err":
        raise value
    return entry.spec, value
