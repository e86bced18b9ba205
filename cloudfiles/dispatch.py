"""The driver's side of shipped work: bulk ops and transfers as batches of
:class:`cloudfiles.jobs.BatchSpec` on a process pool or a Dask cluster.

Each function consumes its input lazily, ships batches of keys (contents only
for ``puts``), keeps a bounded number in flight and shapes the batch results
into what the facade returns for the same call on threads. See docs/scale.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Union

from . import inputs
from .objects import core_of
from .distributed import ClusterError
from .exceptions import InvalidInputError, TransferError, WorkersLostError
from .jobs import DEFAULT_BATCH_BYTES, BatchSpec, batches, check_batch_size, ship, shippable_options, ships_specs

if TYPE_CHECKING:
    from .cloudfiles import CloudFiles
    from .transfer import TransferResult


#: Shipped work given up on (workers kept dying; the scheduler lost): the error carries
#: ``.result``, what the batches that did come back gave, shaped as the call returns it.
LOST = (WorkersLostError, ClusterError)


def use(executor: Any, *cfs: "CloudFiles") -> bool:
    """Whether to ship work to ``executor``: it runs other processes, and no
    side is process-local (mem:// lives in this process only)."""
    return ships_specs(executor) and all(not cf.backend.features.python_objects
                                         and not cf.backend.features.process_local for cf in cfs)


class _Bar:
    """A driver-side progress bar counting files (and bytes) as batches finish."""

    def __init__(self, progress: Any, total: Optional[int], desc: str):
        self.bar = None
        self.bytes = 0
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="file")

    def update(self, files: int, nbytes: int = 0) -> None:
        if self.bar is not None:
            self.bytes += nbytes
            self.bar.update(files)
            if self.bytes:
                self.bar.set_postfix_str(_human(self.bytes), refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


def _specs(cf: "CloudFiles", op: str, groups: Iterable[list], kwargs: Optional[dict] = None) -> Iterator[BatchSpec]:
    opts = shippable_options(core_of(cf).options)
    for items in groups:
        yield BatchSpec(op, cf.cloudpath, opts, items, dict(kwargs or {}))


def get(cf: "CloudFiles", items: Iterable, executor: Any, *, raw: bool, part_size: Optional[int],
        max_decompressed_size: Optional[int], raise_errors: bool, progress: Any,
        total: Optional[int], batch_size: Optional[int]) -> list:
    """``cf.get(list)`` on ``executor``: the result dicts of every request."""
    size = check_batch_size(batch_size)
    kw = {"raw": raw, "part_size": part_size, "max_decompressed_size": max_decompressed_size}
    bar = _Bar(progress, total if total is not None else _len(items), "Downloading")
    out: list = []
    try:
        for _, part in ship(executor, _specs(cf, "get", batches(items, size), kw)):
            if raise_errors:
                for r in part:
                    if r["error"] is not None:
                        raise r["error"]
            out.extend(part)
            bar.update(len(part), sum(len(r["content"]) for r in part if isinstance(r["content"], bytes)))
    except LOST as err:
        err.result = out  # what the finished batches gave
        raise
    finally:
        bar.close()
    return out


def _content_size(req: dict) -> int:
    c = req.get("content")
    return len(c) if isinstance(c, (bytes, bytearray, memoryview, str)) else 0


def puts(cf: "CloudFiles", reqs: Iterable[dict], executor: Any, *, progress: Any, total: Optional[int],
         batch_size: Optional[int]) -> int:
    """``cf.puts`` on ``executor``: the number written; failures raised afterwards."""
    size = check_batch_size(batch_size)

    def plain(it: Iterable[dict]) -> Iterator[dict]:
        for r in it:
            c = r.get("content")
            if not isinstance(c, (bytes, bytearray, str)):
                raise InvalidInputError(
                    f"content for {r.get('path')!r} is a {type(c).__name__}: only bytes or str can be "
                    "shipped to workers (stream large files with upload_file on the worker's side)")
            yield r

    bar = _Bar(progress, total if total is not None else _len(reqs), "Uploading")
    count, errors = 0, {}
    try:
        groups = batches(plain(reqs), size, DEFAULT_BATCH_BYTES, _content_size)
        for spec, part in ship(executor, _specs(cf, "puts", groups)):
            count += len(part["written"])
            errors.update(part["errors"])
            bar.update(len(spec.items), sum(_content_size(r) for r in spec.items))
    except LOST as err:
        err.result = count  # what the finished batches gave
        raise
    finally:
        bar.close()
    _raise(errors, "upload")
    return count


def delete(cf: "CloudFiles", keys: Iterable, executor: Any, *, progress: Any, total: Optional[int],
           batch_size: Optional[int]) -> None:
    """``cf.delete(list)`` on ``executor``; failures raised afterwards."""
    size = check_batch_size(batch_size)
    bar = _Bar(progress, total if total is not None else _len(keys), "Deleting")
    errors: dict = {}
    deleted = 0
    try:
        for spec, part in ship(executor, _specs(cf, "delete", batches(_checked(keys), size))):
            errors.update(part["errors"])
            deleted += part["count"]
            bar.update(len(spec.items))
    except LOST as err:
        err.result = deleted  # what the finished batches gave
        raise
    finally:
        bar.close()
    _raise(errors, "delete")


def exists(cf: "CloudFiles", keys: Iterable, executor: Any, *, progress: Any, total: Optional[int],
           batch_size: Optional[int]) -> dict:
    """``cf.exists(list)`` on ``executor``: ``{key: bool}``."""
    size = check_batch_size(batch_size)
    bar = _Bar(progress, total if total is not None else _len(keys), "Checking")
    out: dict = {}
    try:
        for spec, part in ship(executor, _specs(cf, "exists", batches(_checked(keys), size))):
            if part["errors"]:
                raise next(iter(part["errors"].values()))
            out.update(part["found"])
            bar.update(len(spec.items))
    except LOST as err:
        err.result = out  # what the finished batches gave
        raise
    finally:
        bar.close()
    return out


def transfer(src: "CloudFiles", dest: "CloudFiles", paths: Optional[Iterable], executor: Any, *,
             block_size: int = 64, reencode: Union[str, bool, None] = None, content_type: Optional[str] = None,
             allow_missing: bool = False, progress: Any = False, skip: Optional[str] = None,
             batch_size: Optional[int] = None) -> "TransferResult":
    """:func:`cloudfiles.transfer.transfer` on ``executor``; every file counted once."""
    from . import transfer as tr

    size = check_batch_size(batch_size)
    total: Optional[int] = None
    if paths is None:
        items: Iterable = ((k, k, s) for k, s in core_of(src).listing("", False, True) if not k.endswith("/"))  # streamed
    else:
        if isinstance(paths, (str, dict)):
            paths = [paths]
        raw = inputs.to_iter(paths)
        items = list(tr._sized_pairs(raw)) if isinstance(raw, list) or skip else tr._sized_pairs(raw)
        if isinstance(items, list):
            total = len(items)
    index = None
    if skip:
        index = tr._dest_index(dest, None if paths is None else [core_of(dest).key(d) for _, d, _ in items])  # type: ignore
    kw = {"reencode": reencode, "content_type": content_type, "skip": skip, "block_size": block_size}
    src_opts, dest_opts = shippable_options(core_of(src).options), shippable_options(core_of(dest).options)

    def specs() -> Iterator[BatchSpec]:
        for group in batches(items, size):
            k = dict(kw)
            if skip:
                k["dest_index"] = None if index is None else \
                    {core_of(dest).key(d): index[core_of(dest).key(d)] for _, d, _ in group if core_of(dest).key(d) in index}
            yield BatchSpec("transfer", src.cloudpath, src_opts, group, k, dest.cloudpath, dest_opts)

    result = tr.TransferResult()
    bar = _Bar(progress, total, "Transferring")
    try:
        for spec, part in ship(executor, specs()):
            result.merge(part)
            bar.update(len(spec.items), part.bytes)
    except LOST as err:
        err.result = result  # what the finished batches gave
        raise
    finally:
        bar.close()
    return tr.finish(result, src, allow_missing)


def _checked(keys: Iterable) -> Iterator[str]:
    for k in keys:
        yield inputs.check_key(k)


def _len(items: Any) -> Optional[int]:
    return len(items) if hasattr(items, "__len__") else None


def _raise(errors: dict, what: str) -> None:
    if not errors:
        return
    if len(errors) == 1:
        raise next(iter(errors.values()))
    first = next(iter(errors.items()))
    raise TransferError(f"{len(errors)} files failed to {what}; first: {first[0]!r}: {first[1]}", errors) \
        from first[1]


#: With work queued on a cluster a lease must outlive its batch's wait: at least this long.
CLUSTER_MIN_LEASE_MSEC = 60_000


def ledger(rt: Any, executor: Any, *, progress: Any = False, block_size: int = 200) -> "TransferResult":
    """Execute a :class:`cloudfiles.resumable_tools.ResumableTransfer` on ``executor``.

    Leased batches of ``block_size`` files become transfer batches; a file is marked
    finished when its batch comes back with it copied (or already there). When only
    other clients' leases are left, wait for them: a dead client's batches are then
    leased and copied here. Failures stop new leases; they stay unfinished and are raised.
    """
    import time

    from . import transfer as tr
    from .objects import ObjectCore
    from .resumable_tools import ResumableFileSet, now_msec

    meta = rt.rfs.metadata()
    rfs = ResumableFileSet(rt.db_path, max(rt.rfs.lease_msec, CLUSTER_MIN_LEASE_MSEC))
    src, dest = ObjectCore(meta["source"]), ObjectCore(meta["dest"])
    src_opts, dest_opts = shippable_options(core_of(src).options), shippable_options(core_of(dest).options)
    kw = {"reencode": meta["reencode"], "content_type": None, "skip": None, "block_size": 64}
    result = tr.TransferResult()
    total = rfs.total()
    bar = _Bar(progress, total, "Transfer")
    if bar.bar is not None:
        bar.update(total - rfs.remaining())
    failed = False

    def specs() -> Iterator[BatchSpec]:
        while not failed:
            names = rfs.lease(block_size)
            if not names:
                return
            yield BatchSpec("transfer", src.cloudpath, src_opts, [(n, n, None) for n in names], kw,
                            dest.cloudpath, dest_opts)

    try:
        while True:
            for spec, part in ship(executor, specs()):
                result.merge(part)
                done = [k for k, _, _ in spec.items if k not in part.failed and k not in part.missing]
                rfs.mark_finished(done)
                bar.update(len(done), part.bytes)
                if part.failed or part.missing:
                    failed = True
            if failed:
                break
            expiry = rfs.next_expiry_msec()  # other clients' leases: wait, then take over the dead ones
            if expiry is None:
                break
            time.sleep(min(max(expiry - now_msec(), 10), 1000) / 1000)
    finally:
        bar.close()
    return tr.finish(result, src, allow_missing=False)
