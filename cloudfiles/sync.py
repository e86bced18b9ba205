"""``sync``: make a destination hold what a source holds, copying only what changed.

Three separable steps:

1. **Listing** (:func:`list_objects`): each side is listed once, lazily, as
   :class:`~cloudfiles.meta.ObjectMeta` entries in ascending key order; no
   request per file.
2. **Planning** (:func:`plan`): a merge join over the two sorted listings yields
   :class:`Action` items (``copy``, ``check``, ``skip``, ``delete``). Memory is
   bounded: the two current entries, and deletions, which wait (spilled to a
   temporary file beyond :data:`SPOOL_IN_MEMORY`) until **both listings ended
   without error** -- a failed or cut-short listing never leads to a deletion.
3. **Execution** (:func:`execute`): actions are taken in batches; copies go
   through :func:`cloudfiles.transfer.transfer` with explicit keys and their
   listed sizes (server-side copy where the service allows, stored encoding
   kept), deletions through :meth:`CloudFiles.delete` (batched where the
   service allows). ``dry_run`` resolves every action and changes nothing. With an
   ``executor`` (Dask, a process pool) each batch runs on a worker (listing and
   planning stay here).

The comparison, for a key present on both sides (sizes are stored sizes):

* sizes differ -> copy;
* both sides name a Content-Encoding and they differ -> copy;
* both sides list a comparable checksum -> it decides: md5 against md5 (a
  plain md5-shaped ETag counts as an md5), crc32c against crc32c, a multipart
  ETag ``<hex>-N`` only against a multipart ETag with the same part count N
  (never guessed from part sizes);
* otherwise the same size means unchanged, unless ``checksum=True``: then the
  contents are compared (``check``): a side without a usable listed checksum
  is read and hashed, stored bytes as they are.

Include/exclude patterns (:mod:`cloudfiles.filters`) apply to keys relative to
each root, on both sides: a destination file that is filtered out is neither
compared nor deleted.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, Union

from .exceptions import CloudFilesError, InvalidInputError, ListingError, NotFoundError, TransferError
from .meta import ObjectMeta

if TYPE_CHECKING:
    from .cloudfiles import CloudFiles
    from .filters import KeyFilter

COPY, CHECK, SKIP, DELETE = "copy", "check", "skip", "delete"
KINDS = (COPY, CHECK, SKIP, DELETE)
SPOOL_IN_MEMORY = 10_000  # pending deletions held in memory before they spill to a temporary file
BATCH = 1000  # actions per execution batch


@dataclass(frozen=True)
class Action:
    """One decision of the planner (picklable: it may be shipped to another process).

    ``size`` is the source's stored size for copy/check/skip, the destination's for delete.
    ``reason``: copy ``new``/``size``/``encoding``/``checksum``/``content``; skip
    ``same size``/``same checksum``/``same content``; check ``content``; delete ``absent``.
    """

    kind: str
    key: str
    size: Optional[int] = None
    reason: str = ""
    src_sum: Optional[tuple] = None  # check: (algorithm, value) listed on the source, if any
    dest_sum: Optional[tuple] = None

    def line(self) -> str:
        """How the CLI shows this action: ``copy KEY (new, 12 bytes)``."""
        key = self.key if self.key.isprintable() else repr(self.key)
        size = "" if self.size is None else f", {self.size} bytes"
        return f"{self.kind} {key} ({self.reason}{size})"


@dataclass
class SyncResult:
    """What a sync did (or, with ``dry_run``, would do)."""

    copied: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: dict = field(default_factory=dict)  # key -> exception
    bytes: int = 0  # stored bytes copied
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: "SyncResult") -> None:
        """Add ``other``'s counts into this result (results of batches, or of workers)."""
        self.copied += other.copied
        self.skipped += other.skipped
        self.deleted += other.deleted
        self.failed.update(other.failed)
        self.bytes += other.bytes

    def summary(self) -> str:
        """One line: ``copied 3, skipped 10, deleted 1, failed 0, bytes 1234``."""
        head = "dry run: " if self.dry_run else ""
        return (f"{head}copied {self.copied}, skipped {self.skipped}, deleted {self.deleted}, "
                f"failed {len(self.failed)}, bytes {self.bytes}")

    def as_dict(self) -> dict:
        return {"copied": self.copied, "skipped": self.skipped, "deleted": self.deleted,
                "failed": {k: str(v) for k, v in self.failed.items()}, "bytes": self.bytes,
                "dry_run": self.dry_run}


# ---------------------------------------------------------------- listing
def list_objects(cf: "CloudFiles", prefix: str = "") -> Iterator[ObjectMeta]:
    """Every file below ``prefix`` of ``cf`` as :class:`ObjectMeta`, in ascending key order.

    One listing, streamed, from the backends' ``list_meta`` (sizes, ETags and
    checksums where the listing tells them), resumed after the last key yielded
    when a page of a network service fails. Directory entries are dropped.
    """
    from . import retry

    backend = cf.backend

    def make(after: Optional[str] = None) -> Iterable[ObjectMeta]:
        return backend.list_meta(prefix, False, after)  # resumed after the last key yielded

    entries: Iterable[ObjectMeta]
    if backend.features.local:
        entries = make()
    else:
        entries = retry.resumable(make, lambda m: m.key, cf.retry_policy)
    return _ascending(entries, cf.cloudpath)


def _ascending(entries: Iterable[ObjectMeta], where: str) -> Iterator[ObjectMeta]:
    """Drop directory entries; refuse a listing that does not ascend (a merge needs order)."""
    last: Optional[str] = None
    for meta in entries:
        key = meta.key
        if not isinstance(key, str) or not key or key.endswith("/"):
            continue
        if last is not None and key <= last:
            raise ListingError(f"listing {where}: {key[:200]!r} came after {last[:200]!r}; "
                               "the listing is not in ascending key order")
        last = key
        yield meta


# ------------------------------------------------------------- comparison
def listed_verdict(a: ObjectMeta, b: ObjectMeta) -> Optional[bool]:
    """Whether two listed objects hold the same stored bytes, judged by comparable
    listed checksums only: True/False, or None when no pair is comparable."""
    am, bm = a.content_md5(), b.content_md5()
    if am and bm:
        return am == bm
    if a.crc32c and b.crc32c:
        return a.crc32c == b.crc32c
    ka, kb = a.etag_says(), b.etag_says()  # the ETag rule: cloudfiles/backends/wire/etag.py
    if ka.is_multipart and kb.is_multipart and ka.parts == kb.parts:
        return a.etag.lower() == b.etag.lower()  # type: ignore[union-attr]
    return None


def _norm_encoding(enc: Optional[str]) -> Optional[str]:
    from .compression import normalize_content_encoding

    try:
        return normalize_content_encoding(enc)
    except CloudFilesError:
        return enc


def compare(src: ObjectMeta, dest: ObjectMeta, checksum: bool = False) -> Action:
    """The action for a key listed on both sides (see the module docstring)."""
    key, size = src.key, src.size
    if src.size is None or dest.size is None or src.size != dest.size:
        return Action(COPY, key, size, "size")
    if src.encoding is not None and dest.encoding is not None and \
            _norm_encoding(src.encoding) != _norm_encoding(dest.encoding):
        return Action(COPY, key, size, "encoding")
    verdict = listed_verdict(src, dest)
    if verdict is True:
        return Action(SKIP, key, size, "same checksum")
    if verdict is False:
        return Action(COPY, key, size, "checksum")
    if not checksum:
        return Action(SKIP, key, size, "same size")
    return Action(CHECK, key, size, "content", _usable_sum(src), _usable_sum(dest))


def _usable_sum(meta: ObjectMeta) -> Optional[tuple]:
    md5 = meta.content_md5()
    if md5:
        return ("md5", md5)
    if meta.crc32c:
        return ("crc32c", meta.crc32c)
    return None


# ----------------------------------------------------------------- plan
class _Spool:
    """Pending deletions in key order: in memory up to ``limit``, then in a temporary file."""

    def __init__(self, limit: int = SPOOL_IN_MEMORY):
        self.limit = limit
        self.count = 0
        self._mem: list[tuple[str, Optional[int]]] = []
        self._file = None

    def add(self, key: str, size: Optional[int]) -> None:
        self.count += 1
        if self._file is None:
            self._mem.append((key, size))
            if len(self._mem) <= self.limit:
                return
            self._file = tempfile.TemporaryFile(mode="w+", encoding="utf-8", prefix="cloudfiles-sync-")
            items, self._mem = self._mem, []
            for item in items:
                self._write(item)
            return
        self._write((key, size))

    def _write(self, item: tuple) -> None:
        import json

        self._file.write(json.dumps(item) + "\n")  # json escapes newlines and odd characters

    def __iter__(self) -> Iterator[tuple[str, Optional[int]]]:
        if self._file is None:
            yield from self._mem
            return
        import json

        self._file.seek(0)
        for line in self._file:
            key, size = json.loads(line)
            yield key, size

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._mem = []


def plan(src: "CloudFiles", dest: "CloudFiles", *, delete: bool = False, checksum: bool = False,
         select: Optional["KeyFilter"] = None, spool_limit: int = SPOOL_IN_MEMORY) -> Iterator[Action]:
    """The actions that make ``dest`` match ``src``, lazily, in key order; deletions last.

    Deletions are yielded only after both listings ended without error. With
    ``delete``, a source that lists no file at all is refused (``NotFoundError``)
    when deleting would remove destination files: a mistyped source must not
    empty the destination.
    """
    src_entries = list_objects(src)
    dest_entries = list_objects(dest)
    counted = {"src": 0}

    def counting(entries: Iterator[ObjectMeta]) -> Iterator[ObjectMeta]:
        for m in entries:
            counted["src"] += 1
            yield m

    src_it = _selected(counting(src_entries), select)
    dest_it = _selected(dest_entries, select)
    spool = _Spool(spool_limit)
    try:
        s = next(src_it, None)
        d = next(dest_it, None)
        while s is not None or d is not None:
            if d is None or (s is not None and s.key < d.key):
                yield Action(COPY, s.key, s.size, "new")  # type: ignore[union-attr]
                s = next(src_it, None)
            elif s is None or d.key < s.key:
                if delete:
                    spool.add(d.key, d.size)
                d = next(dest_it, None)
            else:
                yield compare(s, d, checksum)
                s, d = next(src_it, None), next(dest_it, None)
        # Both listings are complete: only now may anything be deleted.
        if spool.count and counted["src"] == 0:
            raise NotFoundError(f"{src.cloudpath} lists no files: refusing to delete all {spool.count} "
                                f"selected files at {dest.cloudpath} (delete them explicitly if that is meant)")
        for key, size in spool:
            yield Action(DELETE, key, size, "absent")
    finally:
        spool.close()


def _selected(entries: Iterator[ObjectMeta], select: Optional["KeyFilter"]) -> Iterator[ObjectMeta]:
    if select is None:
        return entries
    return (m for m in entries if select(m.key))


# -------------------------------------------------------------- execution
def _digest(cf: "CloudFiles", key: str, size: Optional[int], algo: str) -> str:
    """md5 (hex) or crc32c (base64) of the stored bytes of ``key``, read in bounded memory."""
    from . import integrity

    threshold = cf.stream_settings.threshold
    if size is not None and size <= threshold:
        data = cf.get(key, raw=True)
        if data is None:
            raise NotFoundError(f"{cf.abspath(key)} does not exist")
        chunks: Iterable[bytes] = (data,)
    else:
        chunks = cf.stream(key, raw=True)
    if algo == "crc32c":
        import base64

        value = 0
        for chunk in chunks:
            value = integrity.crc32c_value(chunk, value)
        return base64.b64encode(value.to_bytes(4, "big")).decode()
    import hashlib

    h = hashlib.md5()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def resolve_check(src: "CloudFiles", dest: "CloudFiles", action: Action) -> Action:
    """Turn a ``check`` into a ``copy`` or a ``skip`` by comparing contents (reads only)."""
    listed = [s for s in (action.src_sum, action.dest_sum) if s]
    algo = listed[0][0] if listed else "md5"
    a = action.src_sum[1] if action.src_sum and action.src_sum[0] == algo else \
        _digest(src, action.key, action.size, algo)
    b = action.dest_sum[1] if action.dest_sum and action.dest_sum[0] == algo else \
        _digest(dest, action.key, action.size, algo)
    if a == b:
        return Action(SKIP, action.key, action.size, "same content")
    return Action(COPY, action.key, action.size, "content")


def run_batch(src: "CloudFiles", dest: "CloudFiles", batch: list[Action], dry_run: bool,
              block_size: int, executor=None) -> tuple[SyncResult, list[Action]]:
    """Carry out one batch of actions (checks resolved first, then copies, then deletes);
    return its result and the copies/deletes it did (or, ``dry_run``, would do).

    Everything it needs is in its arguments, so a worker runs it with the two places
    rebuilt there (the ``sync`` op of :mod:`cloudfiles.jobs`); :func:`execute` runs it in
    the calling thread when nothing is shipped (``executor``: a thread pool for the copies)."""
    from .scheduler import schedule

    result = SyncResult(dry_run=dry_run)
    checks = [a for a in batch if a.kind == CHECK]
    resolved: dict[str, Action] = {}
    if checks:
        def check(a: Action):
            try:
                return a, resolve_check(src, dest, a), None
            except Exception as err:  # reported per file
                return a, None, err

        threads = max(src.num_threads, dest.num_threads, 1)
        for a, r, err in schedule(check, checks, concurrency=min(threads, block_size), green=src.green):
            if err is not None:
                result.failed[a.key] = err
            else:
                resolved[a.key] = r
    done: list[Action] = []
    copies: list[Action] = []
    deletes: list[Action] = []
    for a in batch:
        if a.kind == CHECK:
            a = resolved.get(a.key)  # type: ignore[assignment]
            if a is None:
                continue
        if a.kind == SKIP:
            result.skipped += 1
        elif a.kind == COPY:
            copies.append(a)
        elif a.kind == DELETE:
            deletes.append(a)
    if copies:
        done.extend(copies)
        if dry_run:
            result.copied += len(copies)
            result.bytes += sum(a.size or 0 for a in copies)
        else:
            _copy(src, dest, copies, block_size, result, executor)
    if deletes:
        done.extend(deletes)
        if dry_run:
            result.deleted += len(deletes)
        else:
            _delete(dest, deletes, result)
    return result, done


def _copy(src: "CloudFiles", dest: "CloudFiles", copies: list[Action], block_size: int,
          result: SyncResult, executor=None) -> None:
    from .transfer import TransferResult

    items = [{"path": a.key, "dest_path": a.key, "size": a.size} for a in copies]
    try:
        res = src.transfer_to(dest, items, block_size=block_size, executor=executor)
    except TransferError as err:
        res = getattr(err, "result", None) or TransferResult()
        result.failed.update(err.errors)
    result.copied += res.transferred
    result.bytes += res.bytes


def _delete(dest: "CloudFiles", deletes: list[Action], result: SyncResult) -> None:
    keys = [a.key for a in deletes]
    try:
        dest.delete(keys)
        result.deleted += len(keys)
        return
    except TransferError as err:
        failed = dict(err.errors)
    except CloudFilesError:
        failed = {}
        for k in keys:  # one error for the batch: find which key it was
            try:
                dest.delete(k)
            except Exception as one:
                failed[k] = one
    result.failed.update(failed)
    result.deleted += sum(1 for k in keys if k not in failed)


def execute(src: "CloudFiles", dest: "CloudFiles", actions: Iterable[Action], *, dry_run: bool = False,
            batch_size: int = BATCH, block_size: int = 64,
            on_action: Optional[Callable[[Action], None]] = None, progress=False, executor=None) -> SyncResult:
    """Take ``actions`` (from :func:`plan`) in batches of ``batch_size``; return the totals.

    ``actions`` is consumed in a helper thread (so listing goes on while a batch
    runs) that hands over at most two batches ahead; batches run in order (so
    Ctrl-C stops as a transfer does). ``on_action`` is called here with every copy
    and delete as its batch finishes (a ``check`` resolved to one of them), batch
    after batch in plan order. An error of ``actions`` (a listing failure) is raised
    once the batches before it ran, with ``.result`` carrying what was done.

    ``executor`` (a Dask client or a process pool, and neither side process-local):
    each batch -- its checks, copies and deletes -- runs on a worker as one
    ``sync`` batch spec (:func:`_shipped`), a few batches in flight; a dry run
    ships only the checks of a batch (reads), and a batch without checks is
    counted here. The totals are summed from the batches' returned results only.
    """
    import queue
    import threading

    result = SyncResult(dry_run=dry_run)
    bar = _bar(progress)
    handoff: "queue.Queue[tuple]" = queue.Queue(maxsize=2)
    stop = threading.Event()

    def hand(item: tuple) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            batch: list[Action] = []
            skipped = 0
            for action in actions:
                if stop.is_set():
                    return
                if not isinstance(action, Action) or action.kind not in KINDS:
                    raise InvalidInputError(f"not a sync action: {action!r}")
                if action.kind == SKIP:
                    skipped += 1
                else:
                    batch.append(action)
                if len(batch) >= batch_size or skipped >= batch_size:
                    if not hand(("batch", (batch, skipped))):
                        return
                    batch, skipped = [], 0
            if (batch or skipped) and not hand(("batch", (batch, skipped))):
                return
            hand(("end", None))
        except BaseException as err:  # handed to the consumer, raised there
            hand(("error", err))

    def finish(batch: list[Action], skipped: int, part: Optional[SyncResult], done: list[Action]) -> None:
        result.skipped += skipped
        if part is not None:
            result.merge(part)
        if on_action is not None:
            for a in done:
                on_action(a)
        if bar is not None:
            bar.update(skipped + len(batch))
            bar.set_postfix_str(result.summary(), refresh=False)

    from .dispatch import use

    shipping = executor is not None and use(executor, src, dest)
    producer = threading.Thread(target=produce, name="cloudfiles-sync-plan", daemon=True)
    producer.start()
    try:
        if shipping:
            _shipped(src, dest, handoff.get, finish, dry_run, block_size, executor)
        else:
            while True:
                kind, payload = handoff.get()
                if kind == "end":
                    break
                if kind == "error":
                    raise payload
                batch, skipped = payload
                part, done = run_batch(src, dest, batch, dry_run, block_size, executor) if batch else (None, [])
                finish(batch, skipped, part, done)
    except BaseException as err:
        try:
            err.result = result  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass
        raise
    finally:
        stop.set()
        if bar is not None:
            bar.close()
    return result


def _shipped(src: "CloudFiles", dest: "CloudFiles", take: Callable[[], tuple], finish: Callable, dry_run: bool,
             block_size: int, executor) -> None:
    """The batches handed over by ``take`` run on ``executor``'s workers, results in order.

    Each batch ships as a ``sync`` :class:`~cloudfiles.jobs.BatchSpec` (both places as
    cloudpath + options, the actions as plain data); the worker runs :func:`run_batch`
    on its own threads and returns ``(SyncResult, done)``. A dry run ships only a
    batch's checks and counts its copies and deletes here; a dry-run batch without
    checks waits for the batches before it and is counted here.
    """
    from collections import deque

    from .jobs import BatchSpec, ship, shippable_options
    from .objects import core_of

    src_opts, dest_opts = shippable_options(core_of(src).options), shippable_options(core_of(dest).options)
    kw = {"dry_run": dry_run, "block_size": block_size}
    order: deque = deque()  # (batch, skipped) of the batches shipped, in order
    state: dict = {"held": None, "error": None}

    def specs() -> Iterator[BatchSpec]:
        while True:
            kind, payload = take()
            if kind == "end":
                return
            if kind == "error":  # raised once the batches shipped before it came back
                state["error"] = payload
                return
            batch, skipped = payload
            work = [a for a in batch if a.kind == CHECK] if dry_run else batch
            if not work:
                if not batch:
                    finish(batch, skipped, None, [])
                    continue
                state["held"] = (batch, skipped)  # counted here, after the batches before it
                return
            order.append((batch, skipped))
            yield BatchSpec("sync", src.cloudpath, src_opts, work, kw, dest.cloudpath, dest_opts)

    while True:
        for _, (part, done) in ship(executor, specs(), ordered=True):
            batch, skipped = order.popleft()
            if dry_run:  # the checks came back resolved; the rest of the batch is counted here
                rest, more = run_batch(src, dest, [a for a in batch if a.kind != CHECK], True, block_size)
                part.merge(rest)
                done = _in_batch_order(batch, done + more)
            finish(batch, skipped, part, done)
        held, state["held"] = state["held"], None
        if held is None:
            break
        batch, skipped = held
        part, done = run_batch(src, dest, batch, True, block_size)
        finish(batch, skipped, part, done)
    if state["error"] is not None:
        raise state["error"]


def _in_batch_order(batch: list[Action], done: list[Action]) -> list[Action]:
    """Copies in the batch's order, then deletes in the batch's order (as :func:`run_batch`)."""
    where: dict[str, int] = {}
    for i, a in enumerate(batch):
        where.setdefault(a.key, i)
    return sorted(done, key=lambda a: (a.kind == DELETE, where.get(a.key, 0)))


def _bar(progress):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(desc="Syncing", unit=" files", disable=False if progress is True else None)


# ----------------------------------------------------------------- facade
def _client(where: Union[str, "CloudFiles"], options: dict) -> "CloudFiles":
    from .cloudfiles import CloudFiles

    if isinstance(where, CloudFiles):
        return where
    if not isinstance(where, str):
        raise InvalidInputError(f"sync source and destination must be cloudpaths or CloudFiles, "
                                f"got {type(where).__name__}")
    return CloudFiles(where, **options)


def sync(src: Union[str, "CloudFiles"], dest: Union[str, "CloudFiles"], *, delete: bool = False,
         dry_run: bool = False, include=None, exclude=None, checksum: bool = False, progress=False,
         num_threads: Optional[int] = None, block_size: int = 64, batch_size: int = BATCH,
         on_action: Optional[Callable[[Action], None]] = None, executor=None, **options) -> SyncResult:
    """Copy to ``dest`` every file of ``src`` that is new or changed; see the module docstring.

    ``src``/``dest`` are cloudpaths (directories) or :class:`CloudFiles`; ``options``
    are :class:`CloudFiles` keywords for those given as strings (``secrets=``,
    ``endpoint=`` ...). ``delete`` removes destination files absent from the source
    (only after both listings completed). ``dry_run`` changes nothing and reports
    every action through ``on_action``. ``include``/``exclude``: glob patterns
    (:mod:`cloudfiles.filters`). ``checksum`` compares contents when the sizes match
    and no comparable checksum is listed. Per-file failures are collected in
    ``SyncResult.failed``; a listing failure raises (with ``.result``).
    ``executor``: a Dask ``distributed.Client`` (or a process pool) runs each batch of
    checks, copies and deletes on its workers; listing and planning stay here.
    """
    from .filters import key_filter

    for name, flag in (("delete", delete), ("dry_run", dry_run), ("checksum", checksum)):
        if not isinstance(flag, bool):
            raise InvalidInputError(f"{name} must be True or False, got {flag!r}")
    for name, n in (("block_size", block_size), ("batch_size", batch_size)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidInputError(f"{name} must be a positive int, got {n!r}")
    select = key_filter(include, exclude)
    if num_threads is not None:
        options["num_threads"] = num_threads
    s, d = _client(src, options), _client(dest, options)
    a, b = s.cloudpath.rstrip("/") + "/", d.cloudpath.rstrip("/") + "/"
    if a == b:
        raise InvalidInputError(f"sync source and destination are the same place: {s.cloudpath}")
    if a.startswith(b) or b.startswith(a):  # copying into itself, or deleting the source as 'extra'
        inner, outer = (s, d) if a.startswith(b) else (d, s)
        raise InvalidInputError(f"sync source and destination overlap: {inner.cloudpath} is inside "
                                f"{outer.cloudpath}")
    _check_source_root(s)
    if not d.backend.features.writable and not dry_run:
        raise InvalidInputError(f"{d.cloudpath}: the destination cannot be written")
    actions = plan(s, d, delete=delete, checksum=checksum, select=select)
    return execute(s, d, actions, dry_run=dry_run, batch_size=batch_size, block_size=block_size,
                   on_action=on_action, progress=progress, executor=executor)


def _check_source_root(cf: "CloudFiles") -> None:
    """A local source directory must exist (an empty listing of a typo must not sync 'nothing')."""
    if cf.protocol == "file" and not os.path.isdir(cf.path.path):
        raise NotFoundError(f"{cf.cloudpath}: no such directory")


class _CallableModule(type(os)):
    """Lets ``cloudfiles.sync(src, dest, ...)`` call :func:`sync` on this module itself
    (an imported submodule always replaces a same-named attribute of its package)."""

    def __call__(self, *args, **kwargs) -> SyncResult:
        return sync(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
