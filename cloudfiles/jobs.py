"""Work shipped to other processes as plain, picklable batch specs.

A :class:`BatchSpec` says what to do (``op``), where (a cloudpath and the
constructor options to rebuild its :class:`CloudFiles`), and on which items (a
batch of keys; ``(key, content)`` requests only for ``puts``). :func:`run_batch`
is a module-level function, so any executor that pickles its arguments can run
it: a ``concurrent.futures.ProcessPoolExecutor`` or a Dask ``distributed.Client``.
A worker builds its clients once per process (cached by cloudpath and options),
runs the batch with its own local threads and returns plain results, with
per-file errors as data.

The driver side (:func:`ship`) consumes its input lazily, keeps a bounded number
of batches in flight and hands back results as batches complete
(:mod:`cloudfiles.dispatch` shapes them into what the facade returns).

Secrets: options carry ``secrets=`` only when the caller gave it; otherwise
workers find credentials in their own environment. A spec's ``repr`` names the
op, the (redacted) cloudpath and the item count, never the options, and Dask
task keys are ``cloudfiles-<op>-<random token>``, so secrets reach no task
name, dashboard or log line.
"""
from __future__ import annotations

import hashlib
import pickle
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

from .exceptions import CloudFilesError, InvalidInputError, TransferError, WorkersLostError

OPS = ("get", "puts", "delete", "exists", "transfer", "sync")
DEFAULT_BATCH = 500            # keys per batch
DEFAULT_BATCH_BYTES = 64 << 20  # content bytes per puts batch
_CACHE_MAX = 32

# Constructor options never shipped: the executor itself, and per-process settings.
_LOCAL_ONLY = ("executor",)


@dataclass(repr=False)
class BatchSpec:
    """One batch of work for :func:`run_batch` (plain data: picklable)."""

    op: str
    cloudpath: str
    options: dict
    items: list
    kwargs: dict = field(default_factory=dict)
    dest: Optional[str] = None
    dest_options: Optional[dict] = None

    def __repr__(self) -> str:  # never the options: they may hold secrets
        from .redact import redact

        to = f" -> {redact(self.dest)}" if self.dest else ""
        return f"BatchSpec({self.op} {redact(self.cloudpath)}{to}, {len(self.items)} items)"

    __str__ = __repr__


def shippable_options(init_kwargs: dict) -> dict:
    """``CloudFiles`` keywords a worker needs, checked to pickle (one clear error if not)."""
    opts = {k: v for k, v in init_kwargs.items() if k not in _LOCAL_ONLY}
    opts["progress"] = False
    opts["parallel"] = 1
    for k, v in opts.items():
        try:
            pickle.dumps(v)
        except Exception as err:
            what = "credentials" if k == "secrets" else f"option {k}="
            raise InvalidInputError(
                f"{what} cannot be shipped to workers ({type(v).__name__} does not pickle: {err}); "
                "pass plain values, or let workers use their own environment") from None
    return opts


def ships_specs(executor: Any) -> bool:
    """True for executors that run work in other processes (specs, not closures):
    a ``ProcessPoolExecutor`` or anything shaped like a Dask ``distributed.Client``."""
    if executor is None:
        return False
    if hasattr(executor, "submit") and (hasattr(executor, "gather") and hasattr(executor, "scheduler_info")):
        return True
    from concurrent.futures import ProcessPoolExecutor

    return isinstance(executor, ProcessPoolExecutor)


# ------------------------------------------------------------------ worker
_clients: dict = {}
_clients_lock = threading.Lock()


def _client(cloudpath: str, options: dict):
    """This process's CloudFiles for ``cloudpath`` + ``options`` (built once, then reused)."""
    from .cloudfiles import CloudFiles

    token = hashlib.sha256(pickle.dumps((cloudpath, sorted(options.items(), key=lambda kv: kv[0])))).hexdigest()
    with _clients_lock:
        cf = _clients.get(token)
        if cf is None:
            if len(_clients) >= _CACHE_MAX:
                _clients.pop(next(iter(_clients)))
            cf = _clients[token] = CloudFiles(cloudpath, **options)
        return cf


def _plain_error(err: BaseException) -> BaseException:
    """``err`` if it pickles, else a CloudFilesError naming it (results cross processes)."""
    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return CloudFilesError(f"{type(err).__name__}: {err}")


def run_batch(spec: BatchSpec) -> Any:
    """Run one batch in this process; see the module docstring for the result shapes.

    get: list of result dicts; puts: ``{"written": [paths], "errors": {path: err}}``;
    delete: ``{"count": n, "errors": {key: err}}``; exists: ``{"found": {key: bool},
    "errors": {key: err}}``; transfer: a :class:`TransferResult`; sync: ``(SyncResult,
    [Action])``.
    """
    if not isinstance(spec, BatchSpec) or spec.op not in OPS:
        raise InvalidInputError(f"not a batch spec: {spec!r}")
    cf = _client(spec.cloudpath, spec.options)
    return _RUNNERS[spec.op](cf, spec)


def _run_get(cf, spec: BatchSpec) -> list:
    results = cf.get(spec.items, progress=False, **spec.kwargs)
    for r in results:
        if r["error"] is not None:
            r["error"] = _plain_error(r["error"])
    return results


def _run_puts(cf, spec: BatchSpec) -> dict:
    from .scheduler import schedule

    def one(req: dict):
        try:
            cf.put(req["path"], req["content"], content_type=req.get("content_type"),
                   compress=req.get("compress"), compression_level=req.get("compression_level"),
                   cache_control=req.get("cache_control"), storage_class=req.get("storage_class"),
                   raw=bool(req.get("raw")))
            return req["path"], None
        except Exception as err:  # reported per file
            return req["path"], _plain_error(err)

    written, errors = [], {}
    for path, err in schedule(one, spec.items, concurrency=cf.num_threads, green=cf.green):
        if err is None:
            written.append(path)
        else:
            errors[path] = err
    return {"written": written, "errors": errors}


def _run_delete(cf, spec: BatchSpec) -> dict:
    try:
        cf.delete(spec.items, progress=False)
        return {"count": len(spec.items), "errors": {}}
    except TransferError as err:
        errors = {k: _plain_error(e) for k, e in err.errors.items()}
    except Exception:
        # one failure raised as itself: find which keys (deleting is idempotent)
        errors = {}
        for k in spec.items:
            try:
                cf.delete(k)
            except Exception as e:
                errors[k] = _plain_error(e)
    return {"count": len(spec.items) - len(errors), "errors": errors}


def _run_exists(cf, spec: BatchSpec) -> dict:
    try:
        return {"found": cf.exists(spec.items, progress=False), "errors": {}}
    except Exception as err:
        return {"found": {}, "errors": {k: _plain_error(err) for k in spec.items}}


def _run_transfer(cf, spec: BatchSpec):
    from .transfer import _Job, _run_threads, target_encoding

    kw = spec.kwargs
    dest = _client(spec.dest, spec.dest_options or {})
    index = kw.get("dest_index")
    job = _Job(cf.core, dest.core, target_encoding(kw.get("reencode")), kw.get("content_type"), kw.get("skip"),
               index)
    items = [tuple(i) for i in spec.items]
    from .runner import Runner

    runner = Runner(max(cf.num_threads, dest.num_threads, 1), cf.green)
    result = _run_threads(job, items, kw.get("block_size", 64), False, len(items), runner)
    for k, err in list(result.failed.items()):
        result.failed[k] = _plain_error(err)
    return result


def _run_sync(cf, spec: BatchSpec):
    """One batch of planned sync actions (:func:`cloudfiles.sync.run_batch`) on this
    worker's threads: ``(SyncResult, actions done)``. A dry-run batch holds only checks."""
    from .sync import CHECK, KINDS, Action, run_batch

    kw = spec.kwargs
    dry_run = kw.get("dry_run") is True
    actions = list(spec.items)
    for a in actions:
        if not isinstance(a, Action) or a.kind not in KINDS or (dry_run and a.kind != CHECK):
            raise InvalidInputError(f"not a {'dry-run ' if dry_run else ''}sync action: {a!r}")
    dest = _client(spec.dest, spec.dest_options or {})
    result, done = run_batch(cf, dest, actions, dry_run, int(kw.get("block_size", 64)))
    result.failed = {k: _plain_error(e) for k, e in result.failed.items()}
    return result, done


_RUNNERS: dict[str, Callable] = {
    "get": _run_get, "puts": _run_puts, "delete": _run_delete, "exists": _run_exists, "transfer": _run_transfer,
    "sync": _run_sync,
}


# ------------------------------------------------------------------ driver
def batches(items: Iterable, size: int, max_bytes: Optional[int] = None,
            weight: Optional[Callable[[Any], int]] = None) -> Iterator[list]:
    """Lists of at most ``size`` items (and about ``max_bytes`` by ``weight``), consumed lazily."""
    batch: list = []
    nbytes = 0
    for item in items:
        batch.append(item)
        if weight is not None:
            nbytes += weight(item)
        if len(batch) >= size or (max_bytes is not None and nbytes >= max_bytes):
            yield batch
            batch, nbytes = [], 0
    if batch:
        yield batch


def check_batch_size(batch_size: Optional[int]) -> int:
    if batch_size is None:
        return DEFAULT_BATCH
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def worker_slots(executor: Any) -> int:
    """How many batches ``executor`` runs at once (Dask: threads over all workers)."""
    if hasattr(executor, "scheduler_info"):
        try:
            info = executor.scheduler_info()
            n = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
            return max(n, 1)
        except Exception:
            return 1
    return max(int(getattr(executor, "_max_workers", 1) or 1), 1)


def ship(executor: Any, specs: Iterable[BatchSpec], in_flight: Optional[int] = None,
         ordered: bool = False) -> Iterator[tuple]:
    """Submit ``specs`` to ``executor`` (at most ``in_flight`` unreturned at once, default
    2 per worker slot) and yield ``(spec, result)`` as batches complete, or with
    ``ordered`` in the order of ``specs`` (the window then bounds what waits to be yielded).

    Dask clients get neutral task keys; the scheduler re-runs a batch whose worker died.
    A process pool whose child died is replaced by one made here (:mod:`cloudfiles.pools`)
    and the batches not returned run again. Every op is idempotent and a batch is counted
    from the one result that comes back. Stopping early cancels the batches not yet started.
    """
    limit = in_flight or 2 * worker_slots(executor)
    if hasattr(executor, "scheduler_info"):
        yield from _ship_dask(executor, iter(specs), limit, ordered)
    else:
        from .pools import ship_futures

        yield from ship_futures(executor, specs, limit, run_batch, size=worker_slots(executor), ordered=ordered)


def _dask_result(fut: Any, spec: BatchSpec, outstanding: int) -> Any:
    """``fut.result()``, with Dask's own way of saying the work is lost as one of ours."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker
    from distributed.comm import CommClosedError

    try:
        return fut.result()
    except KilledWorker:
        raise WorkersLostError(
            f"{outstanding} shipped batches were not completed: the Dask workers running {spec!r} died "
            "more often than the scheduler allows (distributed.scheduler.allowed-failures)", outstanding) from None
    except (CancelledError, CommClosedError) as err:
        from .distributed import ClusterError

        how = "cancelled" if isinstance(err, CancelledError) else "lost the connection fetching"
        raise ClusterError(f"{outstanding} shipped batches were not completed: the Dask cluster {how} "
                           f"{spec!r} (scheduler lost or restarted, or the client closed)") from None


def _ship_dask(client: Any, specs: Iterator[BatchSpec], limit: int, ordered: bool = False) -> Iterator[tuple]:
    from distributed import as_completed

    def submit(spec: BatchSpec):
        return client.submit(run_batch, spec, key=f"cloudfiles-{spec.op}-{uuid.uuid4().hex}", pure=False)

    if ordered:
        from collections import deque

        queue: deque = deque()
        try:
            for spec in specs:
                queue.append((spec, submit(spec)))
                if len(queue) >= limit:
                    spec0, fut = queue.popleft()
                    yield spec0, _dask_result(fut, spec0, len(queue) + 1)
            while queue:
                spec0, fut = queue.popleft()
                yield spec0, _dask_result(fut, spec0, len(queue) + 1)
        finally:
            if queue:
                client.cancel([f for _, f in queue])
        return
    pending: dict = {}
    ac = as_completed()
    try:
        for spec in specs:
            fut = submit(spec)
            pending[fut.key] = (spec, fut)
            ac.add(fut)
            if len(pending) >= limit:
                done = next(ac)
                spec = pending.pop(done.key)[0]
                yield spec, _dask_result(done, spec, len(pending) + 1)
        for done in ac:
            spec = pending.pop(done.key)[0]
            yield spec, _dask_result(done, spec, len(pending) + 1)
    finally:
        if pending:
            client.cancel([f for _, f in pending.values()])
            ac.clear()
