"""The one concurrency seam: every fan-out runs through a :class:`Runner`.

A runner says where work runs -- threads, gevent green threads, or a caller's
``concurrent.futures.Executor`` -- and how much of it at once. It offers
``map`` (results as they complete, items consumed lazily, bounded in flight,
no new item started once the run stops early) and ``executor`` (a
submit-style pool for work that arrives piece by piece, such as the parts of
an upload being written). One item, or a concurrency of 1, runs inline in the
caller's thread: no pool is built for small jobs.

Work shipped to another process (a ``ProcessPoolExecutor`` or a Dask client)
must be picklable: plain specs naming the cloudpath and options, which the
worker rebuilds (see :mod:`cloudfiles.objects`); part-level work of one
large object stays in this process (:meth:`Runner.local`).
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


class Runner:
    """Where and how widely work fans out; cheap to build, safe to share."""

    __slots__ = ("concurrency", "green", "given")

    def __init__(self, concurrency: int = 20, green: bool = False, executor: Optional[Executor] = None):
        self.concurrency = max(1, int(concurrency))
        self.green = bool(green)
        self.given = executor

    def __repr__(self) -> str:
        kind = "green" if self.green else ("executor" if self.given is not None else "threads")
        return f"Runner({kind}, concurrency={self.concurrency})"

    def with_concurrency(self, n: int) -> "Runner":
        """The same kind of runner with another concurrency limit."""
        return Runner(n, self.green, self.given)

    @property
    def in_process(self) -> bool:
        """True when work runs in this process (threads, green threads, a thread pool)."""
        if self.given is None:
            return True
        from concurrent.futures import ThreadPoolExecutor

        return isinstance(self.given, ThreadPoolExecutor)

    def local(self, concurrency: Optional[int] = None) -> "Runner":
        """A runner for work that must stay in this process (closures, file descriptors, buffers)."""
        n = self.concurrency if concurrency is None else concurrency
        return Runner(n, self.green, self.given if self.in_process else None)

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, concurrency: Optional[int] = None,
            total: Optional[int] = None, progress=False, desc: Optional[str] = None) -> Iterator[R]:
        """``fn`` over ``items``, results in completion order (see :func:`schedule`)."""
        return schedule(fn, items, concurrency=self.concurrency if concurrency is None else concurrency,
                        green=self.green, progress=progress, total=total, desc=desc, executor=self.given)

    def executor(self, concurrency: Optional[int] = None) -> "Executor":
        """A submit-style pool of at most ``concurrency`` workers; use it as a context manager.

        A caller's executor is shared, not owned: leaving the context waits for
        the work submitted through it but does not shut the caller's pool down.
        """
        n = max(1, self.concurrency if concurrency is None else int(concurrency))
        if self.given is not None:
            return _Borrowed(self.given, n)
        if self.green:
            return _GreenExecutor(n)
        from concurrent.futures import ThreadPoolExecutor

        return ThreadPoolExecutor(n, thread_name_prefix="cloudfiles")


class _Pool:
    """What our pools share: ``Executor.map`` on top of ``submit``, and use as a context."""

    def map(self, fn, *iterables):
        """Results of ``fn`` over ``iterables`` in input order (as ``Executor.map``)."""
        futures = [self.submit(fn, *args) for args in zip(*iterables)]

        def results():
            try:
                for f in futures:
                    yield f.result()
            finally:
                for f in futures:
                    f.cancel()

        return results()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown(wait=True, cancel_futures=exc[0] is not None)


class _GreenExecutor(_Pool):
    """A ``concurrent.futures``-style pool of gevent greenlets."""

    def __init__(self, n: int):
        import gevent.pool

        self._pool = gevent.pool.Pool(n)

    def submit(self, fn, *args, **kwargs):
        fut = _green_future()

        def run() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as err:  # delivered through the future
                fut.set_exception(err)

        fut.greenlet = self._pool.spawn(run)  # waits for a free slot: the pool bounds work in flight
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        if wait:
            self._pool.join()
        else:
            self._pool.kill(block=False)


_GREEN_FUTURE = None


def _green_future():
    """A Future whose waits yield to the gevent hub (a plain one would block every greenlet)."""
    global _GREEN_FUTURE
    if _GREEN_FUTURE is None:
        _GREEN_FUTURE = _green_future_class()
    return _GREEN_FUTURE()


def _green_future_class():
    from concurrent.futures import Future

    class GreenFuture(Future):
        greenlet = None

        def result(self, timeout=None):
            if not self.done() and self.greenlet is not None:
                self.greenlet.join(timeout)
            return super().result(timeout)

        def exception(self, timeout=None):
            if not self.done() and self.greenlet is not None:
                self.greenlet.join(timeout)
            return super().exception(timeout)

    return GreenFuture


class _Borrowed(_Pool):
    """A caller's executor seen through a concurrency limit; never shut down here."""

    def __init__(self, executor: Executor, n: int):
        self._executor = executor
        self._slots = threading.BoundedSemaphore(n)
        self._futures: list = []

    def submit(self, fn, *args, **kwargs):
        self._slots.acquire()
        try:
            fut = self._executor.submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        fut.add_done_callback(lambda _f: self._slots.release())
        self._futures.append(fut)
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        from concurrent.futures import wait as wait_all

        if cancel_futures:
            for f in self._futures:
                f.cancel()
        if wait:
            wait_all(self._futures)

DEFAULT_RUNNER = Runner()
