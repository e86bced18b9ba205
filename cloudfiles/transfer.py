"""Moving files between any two CloudFiles, keeping compressed bytes compressed.

Per file, the cheapest route that is correct:

1. a server-side copy when both ends are the same service (same backend type,
   endpoint and credentials) and no re-encoding or content type is asked for;
2. a parallel-part streamed copy (``streaming.copy_large``, or
   ``streaming.reencode_large`` when re-encoding) when the stored size exceeds
   the source's large-object threshold (``large_threshold``, 16 MiB by
   default): the size comes from the listing, or from one metadata request
   per file when paths were given, so no large object is ever read whole and
   memory stays bounded whatever the sizes;
3. otherwise one raw read and one raw write: the stored bytes move with their
   encoding and are decoded/encoded only when ``reencode`` names another one.

``reencode``: ``None`` (or ``"same"``) keeps each file's stored encoding;
``False``, ``"none"`` or ``"identity"`` stores files decompressed; ``True``
or an encoding name (``gzip``, ``br``, ``zstd``, ``xz``, ``bzip2``) stores
them in that encoding.

Resuming (``skip_existing``): the destination is listed once (sizes and the
checksums its listing carries: S3 ETags, GCS md5/crc32c), and so is the source
when the whole of it is copied; a file whose copy is already there is skipped,
with a metadata request only where a listing cannot answer (no checksum listed,
or an S3 listing, which has no Content-Encoding, facing an encoded file). ``"exists"`` skips any existing
destination file, ``"size"`` one whose stored size matches, and ``True``
(``"checksum"``) additionally compares checksums wherever both sides expose
comparable ones (md5 / plain ETag / crc32c / multipart ETag; local files are
hashed on the spot, and the bytes read are reused for the upload). When no
comparable checksum exists the size decides. Because every backend writes
atomically, an interrupted transfer never leaves a truncated object behind.

Every file is attempted; failures are collected per path and raised at the
end as :class:`TransferError` carrying ``.errors`` and ``.result``.

Keys are untrusted (they usually come from the source's listing). A key that
is re-rooted -- written under another directory or prefix than it was read
from -- must be a clean relative name (:func:`cloudfiles.keys.check_relative`:
not absolute, no empty, '.' or '..' component, no NUL), whatever the
destination: joined to a prefix, ``../x`` or ``/x`` would name another place
(object stores strip a leading '/', paths and URLs resolve '..'). Such a file
is a per-file :class:`UnsafeKeyError`. A key copied to the very same name at
the same prefix of another bucket (a mirror) is not re-rooted and is copied
as it is; file:// destinations apply their own validator to every key.
"""
from __future__ import annotations

import pickle
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Union

from . import budget, compression, integrity, inputs, keys
from .backends.wire.etag import etag_kind, multipart_match
from .compression import normalize_content_encoding, normalize_encoding
from .backends.base import iter_batches
from .objects import core_of
from .exceptions import (
    CloudFilesError,
    InvalidInputError,
    MissingSourceError,
    NotFoundError,
    TransferError,
    UnsupportedOperationError,
)

if TYPE_CHECKING:
    from .meta import ObjectMeta
    from .objects import ObjectCore
    from .runner import Runner

class _Keep:
    """Marker: keep each file's stored encoding (a singleton that survives pickling)."""

    def __reduce__(self):
        return "_KEEP"


_KEEP = _Keep()
_MISSING = object()
SKIP_MODES = ("exists", "size", "checksum")
# Below this many explicit paths a HEAD per file beats listing the destination.
_LIST_DEST_MIN = 16


@dataclass
class TransferResult:
    """What a transfer did: counts, bytes moved, skipped/missing paths and each failed path's error."""

    transferred: int = 0
    skipped: int = 0
    missing: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    bytes: int = 0
    skipped_paths: list = field(default_factory=list)
    server_side: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: "TransferResult") -> None:
        """Add ``other``'s counts and lists into this result (used across processes)."""
        self.transferred += other.transferred
        self.skipped += other.skipped
        self.missing.extend(other.missing)
        self.failed.update(other.failed)
        self.bytes += other.bytes
        self.skipped_paths.extend(other.skipped_paths)
        self.server_side += other.server_side

    def as_dict(self) -> dict:
        return {"transferred": self.transferred, "skipped": self.skipped, "missing": list(self.missing),
                "failed": {k: str(v) for k, v in self.failed.items()}, "bytes": self.bytes,
                "server_side": self.server_side}


# ------------------------------------------------------------------ inputs
def _pairs(paths: Iterable) -> Iterator[tuple[str, str]]:
    for item in paths:
        if isinstance(item, str):
            yield item, item
        elif isinstance(item, dict):
            if "path" not in item:
                raise InvalidInputError(f"a transfer dict needs a 'path' key: {item!r}")
            yield item["path"], item.get("dest_path") or item["path"]
        elif isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
            yield item[0], item[1]
        else:
            raise InvalidInputError(
                f"transfer paths must be names, (src, dest) tuples or {{'path', 'dest_path'}} dicts, "
                f"got {type(item).__name__}: {item!r}")


def _sized_pairs(paths: Iterable) -> Iterator[tuple[str, str, Optional[int]]]:
    """``(src, dest, stored size or None)``: a dict item may carry ``size`` from a listing,
    which routes the file (streamed or not) without a metadata request."""
    for item in paths:
        size = item.get("size") if isinstance(item, dict) else None
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise InvalidInputError(f"a transfer dict's 'size' must be an int >= 0, got {size!r}")
        for k, d in _pairs((item,)):
            yield k, d, size


def target_encoding(reencode: Union[str, bool, None]) -> object:
    """``_KEEP`` for None/'same'; otherwise the canonical encoding name (None = identity)."""
    if reencode is None or (isinstance(reencode, str) and reencode.strip().lower() == "same"):
        return _KEEP
    return normalize_encoding(reencode)


def _skip_mode(skip_existing: Union[bool, str, None]) -> Optional[str]:
    if skip_existing is None or skip_existing is False:
        return None
    if skip_existing is True:
        return "checksum"
    if isinstance(skip_existing, str) and skip_existing in SKIP_MODES:
        return skip_existing
    raise InvalidInputError(
        f"skip_existing must be True, False or one of {', '.join(SKIP_MODES)}; got {skip_existing!r}")


# ----------------------------------------------------------- fingerprints
@dataclass
class Fingerprint:
    """What is known about one stored object: size, encoding, checksums, maybe its bytes."""

    size: Optional[int]
    encoding: Optional[str]
    sums: integrity.Checksums
    data: Optional[bytes] = None  # stored bytes, when read (local backends)

    @property
    def md5(self) -> Optional[str]:
        """Hex md5 of the stored bytes, if known (a plain 32-hex ETag counts)."""
        if self.data is not None:
            return integrity.md5_hex(self.data)
        if self.sums.md5:
            return self.sums.md5.lower()
        etag = (self.sums.etag or "").strip('"')
        return etag.lower() if etag_kind(etag).is_md5 else None


def fingerprint(cf: "ObjectCore", key: str, read_local: bool = True) -> Optional[Fingerprint]:
    """Size/encoding/checksums of ``key`` in ``cf`` (``None`` if missing).

    Local backends (file://, mem://) are read and hashed on the spot, which is
    cheaper than any metadata they could keep; network backends answer with
    one metadata request.
    """
    if read_local and cf.backend.features.local:
        threshold = cf.stream_settings.threshold
        size = cf.call(cf.backend.size, key) if threshold is not None else None
        if size is not None and size > threshold:
            return _streamed_fingerprint(cf, key)
        res = cf.fetch(key, None, None)
        if res.content is None:
            return None
        return Fingerprint(len(res.content), normalize_content_encoding(res.encoding),
                           integrity.Checksums(size=len(res.content)), res.content)
    st = cf.call(cf.backend.stat, key)
    if st is None:
        return None
    return Fingerprint(st.size, normalize_content_encoding(st.encoding), st.checksums or integrity.Checksums())


def _streamed_fingerprint(cf: "ObjectCore", key: str) -> Optional[Fingerprint]:
    """A large local file's fingerprint: its md5 hashed part by part, never held whole."""
    from . import streaming

    st = cf.call(cf.backend.stat, key)
    if st is None:
        return None
    import hashlib

    md5 = hashlib.md5()
    one = streaming.StreamSettings(cf.stream_settings.part_size, 1, cf.stream_settings.threshold)
    for part in streaming.iter_parts(cf, key, st, one, verify=False):
        md5.update(part)
    return Fingerprint(st.size, normalize_content_encoding(st.encoding),
                       integrity.Checksums(md5=md5.hexdigest(), size=st.size))


def _data_vs_sums(data: bytes, other: Fingerprint) -> Optional[bool]:
    if other.md5:
        return integrity.md5_hex(data) == other.md5
    if other.sums.crc32c:
        return integrity.crc32c_base64(data) == other.sums.crc32c
    return multipart_match(data, other.sums.etag or "", other.sums.multipart_part_size)


def same_stored(a: Fingerprint, b: Fingerprint) -> Optional[bool]:
    """Whether two objects hold the same stored bytes: True/False, or None when
    no comparable checksum exists (sizes alone then decide for the caller)."""
    if a.size is not None and b.size is not None and a.size != b.size:
        return False
    if a.encoding != b.encoding:
        return False
    if a.data is not None and b.data is not None:
        return a.data == b.data
    if a.data is not None:
        return _data_vs_sums(a.data, b)
    if b.data is not None:
        return _data_vs_sums(b.data, a)
    if a.md5 and b.md5:
        return a.md5 == b.md5
    if a.sums.crc32c and b.sums.crc32c:
        return a.sums.crc32c == b.sums.crc32c
    ea, eb = (a.sums.etag or "").strip('"'), (b.sums.etag or "").strip('"')
    if ea and ea == eb and "-" in ea:
        return True
    return None


# ---------------------------------------------------------------- copying
def check_dest_key(src: "ObjectCore", dest: "ObjectCore", key: str, dkey: str) -> None:
    """Refuse (``UnsafeKeyError``) an unclean ``dkey`` that would be re-rooted (see the module docstring)."""
    same_place = (src.path.path or "").rstrip("/") == (dest.path.path or "").rstrip("/")
    if dest.protocol == "file" or not (same_place and key == dkey):
        keys.check_relative(dkey)


def copy_one(src: "ObjectCore", dest: "ObjectCore", key: str, dkey: str, target=_KEEP,
             content_type: Optional[str] = None, size: Optional[int] = None,
             data: Optional[tuple] = None) -> Optional[tuple[int, bool]]:
    """Copy one file; return ``(stored bytes written, server_side)``, or ``None``
    when the source does not exist.

    ``size`` (stored size, if known from a listing) routes large objects to the
    streamed copy; ``data`` is ``(stored bytes, encoding)`` already read.
    """
    skey, dkey = src.key(key), dest.key(dkey)
    keep = target is _KEEP
    if keep and content_type is None and data is None and src.backend.features.server_side_copy \
            and dest.backend.features.server_side_copy and src.backend.same_service(dest.backend):
        try:
            if src.call(src.backend.copy_within, skey, dest.backend, dkey):
                return (size or 0), True
        except NotFoundError:
            return None
    if data is None:
        threshold = src.stream_settings.threshold
        stat = None
        if size is None and threshold is not None:
            # The size decides the route: a large object must never be read whole.
            if src.backend.features.local:
                size = src.call(src.backend.size, skey)
            else:
                stat = src.call(src.backend.stat, skey)
                size = None if stat is None else stat.size
            if size is None:
                return None
        if threshold is not None and size is not None and size > threshold:
            from . import streaming

            stat = stat or streaming.stat_or_raise(src, skey)
            settings = streaming.settings_for(dest, None, None)
            with budget.for_stream(settings.part_size, settings.parallel) as parallel:  # docs: cloudfiles/budget.py
                if keep:
                    return streaming.copy_large(src, skey, dest, dkey, stat, content_type=content_type,
                                                parallel=parallel), False
                return streaming.reencode_large(src, skey, dest, dkey, stat, target, content_type,
                                                parallel=parallel), False
    # A whole read: its bytes (twice when re-encoding) come out of the process's budget.
    with budget.for_whole(size if data is None else len(data[0]), 1 if keep else 2):
        if data is None:
            res = src.fetch(skey, None, None)
            if res.content is None:
                return None
            content, enc = res.content, normalize_content_encoding(res.encoding)
        else:
            content, enc = data
        if not keep and target != enc:
            content = compression.compress(compression.decompress(content, enc, skey), target)
            enc = target
        dest.write({"path": dkey, "content": content, "compress": enc, "raw": True,
                    "content_type": content_type})
        return len(content), False


def _decoded_md5(fp: Fingerprint, cf: "ObjectCore", key: str) -> str:
    data = fp.data
    if data is None:
        data, _enc = cf.read(key, raw=True)
        if data is None:
            raise NotFoundError(f"{cf.abspath(key)} does not exist")
    return integrity.md5_hex(compression.decompress(data, fp.encoding, key))


class _Job:
    """One transfer's settings, shared by every file (and picklable for processes)."""

    def __init__(self, src, dest, target, content_type, skip, dest_index, src_index=None):
        self.src, self.dest, self.target = src, dest, target
        self.content_type, self.skip, self.dest_index = content_type, skip, dest_index
        self.src_index = src_index  # {key: ObjectMeta} from the source's listing (resume)

    def run(self, item: tuple) -> tuple[str, Any, int, bool]:
        key, dkey, size = item
        src, dest = self.src, self.dest
        try:
            check_dest_key(src, dest, key, dkey)
            data = None
            if self.skip:
                verdict, data = self._already_there(key, dkey, size)
                if verdict:
                    return key, "skipped", 0, False
                if verdict is None:
                    return key, "missing", 0, False
            res = copy_one(src, dest, key, dkey, self.target, self.content_type, size, data)
            if res is None:
                return key, "missing", 0, False
            return key, "ok", res[0], res[1]
        except Exception as err:  # reported per file
            return key, err, 0, False

    def _already_there(self, key: str, dkey: str, size: Optional[int]) -> tuple[Optional[bool], Optional[tuple]]:
        """(True, _) skip; (False, data) copy, reusing ``data`` if read; (None, _) source missing."""
        src, dest = self.src, self.dest
        skey, dk = src.key(key), dest.key(dkey)
        dmeta = None
        if self.dest_index is not None:
            dmeta = self.dest_index.get(dk)
            if dmeta is None:
                return False, None
            dsize = dmeta.size
        else:
            dsize = dest.call(dest.backend.size, dk)
            if dsize is None:
                return False, None
        if self.skip == "exists":
            return True, None
        smeta = self.src_index.get(skey) if self.src_index is not None else None
        s_listed = listed_fingerprint(src, smeta)
        sfp = s_listed or fingerprint(src, skey)
        if sfp is None:
            return None, None
        data = (sfp.data, sfp.encoding) if sfp.data is not None else None
        keep = self.target is _KEEP
        if keep or self.target == sfp.encoding:
            if dsize != sfp.size:
                return False, data
            if self.skip == "size":
                return True, None
            d_listed = listed_fingerprint(dest, dmeta)
            dfp = d_listed or fingerprint(dest, dk)
            if dfp is None:
                return False, data
            if sfp.encoding != dfp.encoding and (s_listed or d_listed):
                # S3 listings carry no Content-Encoding (it reads as None): ask the listed side(s)
                if d_listed is not None:
                    dfp = fingerprint(dest, dk)
                    if dfp is None:
                        return False, data
                if s_listed is not None and sfp.encoding != dfp.encoding:
                    sfp = fingerprint(src, skey)
                    if sfp is None:
                        return None, None
            same = same_stored(sfp, dfp)
            return (dsize == sfp.size if same is None else same), data
        # Re-encoding: stored sizes differ by design; compare decoded content.
        dfp = fingerprint(dest, dk)
        if dfp is None or dfp.encoding != self.target:
            return False, data
        if self.skip == "size":
            return True, None
        return _decoded_md5(sfp, src, skey) == _decoded_md5(dfp, dest, dk), data


def _common_dir(keys: list[str]) -> str:
    prefix = posixpath.commonprefix(keys)
    return prefix[: prefix.rfind("/") + 1] if "/" in prefix else ""


def _dest_index(dest: "ObjectCore", dkeys: Optional[list[str]]) -> Optional[dict]:
    """``{key: ObjectMeta}`` of the destination from one listing (sizes and the checksums the
    listing carries), or None when heads are cheaper."""
    if dkeys is not None and len(dkeys) < _LIST_DEST_MIN:
        return None
    if not dest.backend.features.listable:
        return None
    prefix = "" if dkeys is None else _common_dir(dkeys)
    try:
        return {m.key: m for m in dest.entries("meta", prefix)}
    except CloudFilesError:
        return None


def check_arguments(dest: "ObjectCore", block_size: int, parallel: int, reencode, skip_existing,
                    content_type: Optional[str]) -> tuple[object, Optional[str]]:
    """Validate a transfer's settings; return ``(target encoding, skip mode)``."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise InvalidInputError(f"block_size must be a positive int, got {block_size!r}")
    if not dest.backend.features.writable:
        raise UnsupportedOperationError(f"{dest.protocol}:// is read-only: cannot transfer into {dest.cloudpath}")
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise InvalidInputError(f"parallel must be a positive int, got {parallel!r}")
    target = target_encoding(reencode)
    skip = _skip_mode(skip_existing)
    if content_type is not None and not isinstance(content_type, str):
        raise InvalidInputError(f"content_type must be a str, got {content_type!r}")
    return target, skip


def listed_fingerprint(cf: "ObjectCore", meta: Optional["ObjectMeta"]) -> Optional[Fingerprint]:
    """A fingerprint from a listing entry, when it carries a checksum to compare (md5, an
    md5 ETag, crc32c or a multipart ETag); None: ask the object (:func:`fingerprint`).
    Local backends are read instead (cheaper than metadata, and the bytes are reused)."""
    if meta is None or meta.size is None or cf.backend.features.local:
        return None
    sums = meta.checksums
    if not (meta.content_md5() or sums.crc32c or (sums.etag and "-" in sums.etag)):
        return None
    if not sums.md5 and meta.content_md5():
        sums = integrity.Checksums(md5=meta.content_md5(), crc32c=sums.crc32c, etag=sums.etag, size=sums.size,
                                   multipart_part_size=sums.multipart_part_size)
    return Fingerprint(meta.size, normalize_content_encoding(meta.encoding), sums)


def transfer(
    src: "ObjectCore",
    dest: "ObjectCore",
    paths: Optional[Iterable] = None,
    block_size: int = 64,
    reencode: Union[str, bool, None] = None,
    content_type: Optional[str] = None,
    allow_missing: bool = False,
    progress=False,
    skip_existing: Union[bool, str] = False,
    parallel: int = 1,
    runner: Optional["Runner"] = None,
) -> TransferResult:
    """Copy ``paths`` (default: everything listed in ``src``) from ``src`` to ``dest``.

    ``paths`` items are names, ``(src, dest)`` tuples or ``{'path', 'dest_path'}``
    dicts (which may add ``'size'``, the stored size from a listing, to save a
    metadata request per file). ``block_size`` bounds the files in flight. ``parallel`` > 1 splits
    the work over processes; ``runner`` (default: 20 threads) runs the copies in
    this process. (Shipping batches to a process pool or a Dask client is the
    facade's choice: ``CloudFiles.transfer_to(executor=...)``, :mod:`cloudfiles.dispatch`.)
    See the module docstring for ``reencode`` and ``skip_existing``. Raises :class:`TransferError` (with ``.errors`` and
    ``.result``) after every file was attempted if any failed.
    """
    src, dest = core_of(src), core_of(dest)
    target, skip = check_arguments(dest, block_size, parallel, reencode, skip_existing, content_type)

    items: Iterable
    total: Optional[int] = None
    src_index = None
    if paths is None and skip and not src.backend.features.local:
        # Resuming: the source's listing also carries what it knows of each file
        # (checksums), so unchanged files need no request on either side.
        src_index = {m.key: m for m in src.entries("meta") if not m.key.endswith("/")}
        items = [(k, k, m.size) for k, m in src_index.items()]
        total = len(items)
    elif paths is None:
        # One listing gives the keys and their sizes (large files stream).
        items = ((k, k, s) for k, s in src.files())
        if skip or parallel > 1 or progress:
            items = list(items)
            total = len(items)
    else:
        if isinstance(paths, (str, dict)):
            paths = [paths]
        raw = inputs.to_iter(paths)
        if isinstance(raw, list):
            items = list(_sized_pairs(raw))
            total = len(items)
        else:
            items = _sized_pairs(raw)
            if parallel > 1:
                items = list(items)
                total = len(items)

    dest_index = None
    if skip:
        dkeys = None if paths is None else ([dest.key(d) for _, d, _ in items] if total is not None else [])
        if paths is not None and total is None:
            dest_index = None  # a generator of unknown length: ask per file
        else:
            dest_index = _dest_index(dest, dkeys)

    job = _Job(src, dest, target, content_type, skip, dest_index, src_index)
    # a child process cannot see storage that lives in this one (mem://)
    nproc = 1 if src.backend.features.process_local or dest.backend.features.process_local else parallel
    if nproc > 1 and total and total > 1:
        result = _run_processes(job, items, nproc, block_size, progress, total,  # type: ignore[arg-type]
                                runner.concurrency if runner else 20)
    else:
        result = _run_threads(job, items, block_size, progress, total, runner)

    return finish(result, src, allow_missing)


def finish(result: TransferResult, src: "ObjectCore", allow_missing: bool) -> TransferResult:
    """Turn missing sources into failures unless ``allow_missing``; raise
    :class:`TransferError` (``.errors``, ``.result``) if any file failed."""
    missing_sources = set()
    for key in list(result.missing):
        if not allow_missing:
            result.missing.remove(key)
            result.failed[key] = NotFoundError(f"{src.abspath(key)} does not exist")
            missing_sources.add(key)
    if result.failed:
        first_key, first_err = next(iter(result.failed.items()))
        attempted = len(result.failed) + result.transferred + result.skipped + len(result.missing)
        # Only missing sources: also a FileNotFoundError, as cloud-files raises.
        cls = MissingSourceError if set(result.failed) <= missing_sources else TransferError
        err = cls(
            f"{len(result.failed)} of {attempted} files failed to transfer; "
            f"first: {src.abspath(first_key)}: {first_err}", result.failed,
        )
        err.result = result  # type: ignore[attr-defined]
        raise err from (first_err if isinstance(first_err, BaseException) else None)
    return result


def _run_threads(job: _Job, items: Iterable, block_size: int, progress, total: Optional[int],
                 runner: Optional["Runner"] = None) -> TransferResult:
    from .runner import DEFAULT_RUNNER

    runner = (runner or DEFAULT_RUNNER).local()  # copies are closures: they stay in this process
    threads = min(runner.concurrency, block_size)
    sf, df = job.src.backend.features, job.dest.backend.features
    if sf.local and df.local and threads > 1:  # no network to wait on (cloudfiles/localcap.py)
        from .localcap import local_threads

        threads = local_threads(threads, True, job.dest.backend.fsync)
    if total is not None:
        threads = min(threads, max(total, 1))
    result = TransferResult()
    for key, status, n, server_side in runner.map(job.run, items, concurrency=threads,
                                                  progress=progress, total=total, desc="Transferring"):
        _tally(result, key, status, n, server_side)
    return result


def _tally(result: TransferResult, key: str, status: Any, n: int, server_side: bool) -> None:
    if status == "ok":
        result.transferred += 1
        result.bytes += n
        result.server_side += int(server_side)
    elif status == "skipped":
        result.skipped += 1
        result.skipped_paths.append(key)
    elif status == "missing":
        result.missing.append(key)
    else:
        result.failed[key] = status


# ------------------------------------------------------------- processes
def _child(job: "_Job", chunk: list, block_size: int, threads: int) -> TransferResult:
    from .runner import Runner

    result = _run_threads(job, chunk, block_size, False, len(chunk), Runner(threads))
    for k, err in list(result.failed.items()):
        try:
            pickle.dumps(err)
        except Exception:
            result.failed[k] = CloudFilesError(f"{type(err).__name__}: {err}")
    return result


def _run_processes(job: _Job, items: list, nproc: int, block_size: int, progress, total: int,
                   threads: int = 20) -> TransferResult:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    chunk_size = max(1, min(max(block_size, 1) * 8, -(-total // (nproc * 4))))
    chunks = [items[i:i + chunk_size] for i in range(0, total, chunk_size)]
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="Transferring")
    result = TransferResult()
    workers = min(nproc, len(chunks))
    from . import streaming

    part = max(streaming.settings_for(c, None, None).part_size for c in (job.src, job.dest))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_child_init,
                               initargs=(budget.child_share(workers, part),))
    try:
        futures = {pool.submit(_child, job, c, block_size, threads): len(c) for c in chunks}
        for fut in as_completed(futures):
            result.merge(fut.result())
            if bar is not None:
                bar.update(futures[fut])
    except BaseException:
        # Ctrl-C (or any failure here): stop the children now rather than letting
        # them finish their chunks; every write is atomic, so none is left half-done.
        _stop_pool(pool)
        raise
    else:
        pool.shutdown()
    finally:
        if bar is not None:
            bar.close()
    return result


def _child_init(limit: int) -> None:
    """Children leave SIGINT to the parent, which stops them (see :func:`_stop_pool`),
    and hold their share of the parent's byte budget (cloudfiles/budget.py)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    budget.init_child(limit)


def _stop_pool(pool) -> None:
    """Terminate a process pool's workers at once and drop its queued work."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=1)
        if proc.is_alive():
            proc.kill()


# ------------------------------------------------------------------ moving
def move_files(src: "ObjectCore", dest: "ObjectCore", paths: Iterable, block_size: int = 64,
               progress=False, reencode: Union[str, bool, None] = None, parallel: int = 1,
               runner: Optional["Runner"] = None) -> TransferResult:
    """Transfer, then delete only the sources whose copy succeeded.

    A file moved onto itself (same place, same name) is left alone.
    """
    src, dest = core_of(src), core_of(dest)
    if isinstance(paths, (str, dict)):
        paths = [paths]
    pairs = list(_pairs(inputs.to_iter(paths)))
    same_place = src.cloudpath == dest.cloudpath
    pairs = [(s, d) for s, d in pairs if not (same_place and src.key(s) == dest.key(d))]
    failed: dict = {}
    result = TransferResult()
    try:
        result = transfer(src, dest, pairs, block_size=block_size, progress=progress,
                          reencode=reencode, parallel=parallel, runner=runner)
    except TransferError as err:
        result = getattr(err, "result", result)
        failed = err.errors
        raise_after: Optional[TransferError] = err
    else:
        raise_after = None
    to_delete = [s for s, _ in pairs if s not in failed]
    if to_delete:
        delete_keys(src, [src.key(k) for k in to_delete], runner)
    if raise_after is not None:
        raise raise_after
    return result



def delete_keys(core: "ObjectCore", keys: list[str], runner: Optional["Runner"] = None) -> None:
    """Delete ``keys`` (already relative) in batches where the service has batch delete."""
    from .runner import DEFAULT_RUNNER

    runner = runner or DEFAULT_RUNNER
    batch = core.features.batch_delete
    if batch > 1:
        work = list(iter_batches(keys, batch))
        for _ in runner.map(core.delete_batch, work):
            pass
    else:
        for _ in runner.map(core.delete, keys, total=len(keys)):
            pass
