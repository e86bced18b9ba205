"""Fan work out over threads, green threads or a caller's Executor.

``schedule(fn, items, ...)`` consumes ``items`` lazily (lists, iterators and
generators alike), runs ``fn`` on each with bounded concurrency and yields
``fn``'s results in completion order. One item, or ``concurrency <= 1``, runs
inline in the caller's thread: no pool is built for small jobs. Processes are
layered on top by the facade (``parallel=N``), each running this scheduler.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, TypeVar

if TYPE_CHECKING:  # concurrent.futures imports logging: loaded only when an executor is used
    from concurrent.futures import Executor

T = TypeVar("T")
R = TypeVar("R")

_DONE = object()


class _Failure:
    __slots__ = ("err",)

    def __init__(self, err: BaseException):
        self.err = err


def _progress_bar(progress, total: Optional[int], desc: Optional[str]):
    if not progress:
        return None
    from tqdm import tqdm

    from .redact import redact

    label = desc or (progress if isinstance(progress, str) else None)
    return tqdm(total=total, desc=redact(label), leave=True)


def schedule(
    fn: Callable[[T], R],
    items: Iterable[T],
    concurrency: int = 20,
    green: bool = False,
    progress=False,
    total: Optional[int] = None,
    desc: Optional[str] = None,
    executor: Optional[Executor] = None,
) -> Iterator[R]:
    """Run ``fn`` over ``items`` concurrently, yielding results as they finish.

    ``total`` sizes the progress bar and caps the thread count when ``items``
    has no ``len``. An exception raised by ``fn`` stops the run and is re-raised
    here; callers that want per-item errors catch them inside ``fn``.

    Whenever the run ends early (``fn`` or ``items`` raised, or the caller stopped
    iterating) no new item is started and the calls already running finish
    before this generator returns or raises, so no work lands afterwards.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    workers = max(1, int(concurrency))
    if total is not None:
        workers = min(workers, max(total, 1))

    bar = _progress_bar(progress, total, desc)
    try:
        if executor is not None:
            gen = _executor_run(fn, items, executor, workers)
        elif workers <= 1:
            gen = map(fn, items)
        elif green:
            gen = _green_run(fn, items, workers)
        else:
            gen = _thread_run(fn, items, workers)
        for result in gen:
            if bar is not None:
                bar.update(1)
            yield result
    finally:
        if bar is not None:
            bar.close()


def _thread_run(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    it = iter(items)
    lock = threading.Lock()
    import queue

    out: "queue.SimpleQueue" = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                with lock:
                    if stop.is_set():
                        return
                    try:
                        item = next(it)
                    except StopIteration:
                        return
                out.put(fn(item))
        except BaseException as err:  # surfaced in the consumer thread
            stop.set()
            out.put(_Failure(err))
        finally:
            out.put(_DONE)

    threads = [threading.Thread(target=worker, daemon=True, name=f"cloudfiles-{i}") for i in range(workers)]
    for t in threads:
        t.start()
    running = workers
    try:
        while running:
            res = out.get()
            if res is _DONE:
                running -= 1
            elif isinstance(res, _Failure):
                raise res.err
            else:
                yield res
    finally:
        stop.set()
        for t in threads:  # calls in flight finish before the caller sees the end
            if t is not threading.current_thread():
                t.join()


def _green_run(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    import gevent.pool

    pool = gevent.pool.Pool(workers)
    feeder = pool.imap_unordered(fn, items)
    try:
        yield from feeder
    finally:
        feeder.kill()  # take no new items
        pool.join()  # calls in flight finish


def _executor_run(fn: Callable[[T], R], items: Iterable[T], executor: Executor, workers: int) -> Iterator[R]:
    from concurrent.futures import FIRST_COMPLETED, wait

    pending: set = set()
    it = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < workers * 2:
                try:
                    pending.add(executor.submit(fn, next(it)))
                except StopIteration:
                    exhausted = True
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
    finally:
        for fut in pending:
            fut.cancel()  # not started yet: never will be
        wait(pending)  # started: finish
