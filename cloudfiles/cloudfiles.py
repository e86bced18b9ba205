"""The CloudFiles facade: one object over every backend.

It normalises inputs (scalars, dicts, tuples, lists, generators), fans work
out through the scheduler, applies compression and integrity checks around
the backend call, retries transient failures, and shapes results. It holds
no backend-specific code.
"""
from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Union

import posixpath

from . import compression, inputs, paths, retry
from .backends.base import iter_batches
from .locking import FileLocks
from .objects import CORE_OPTIONS, DEFAULT_COMPOSITE_UPLOAD_THRESHOLD, LISTERS, ObjectCore  # noqa: F401 (re-exported)
from .objects import is_python_object as _is_python_object
from .compression import normalize_encoding
from .exceptions import (
    CloudFilesError,
    DecompressionError,
    InvalidInputError,
    NotFoundError,
    TransferError,
    UnsupportedOperationError,
)
from .runner import Runner

if TYPE_CHECKING:
    from .meta import ObjectMeta

GetPathType = Union[str, dict, Iterable[Union[str, dict]]]


def _note_written(err: BaseException, written: list) -> None:
    """Tell the caller of an interrupted ``puts`` which paths were written: the
    exception keeps its type and gains ``.written`` and a note listing them."""
    try:
        err.written = list(written)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass
    shown = ", ".join(repr(p) for p in written[:10]) + (", ..." if len(written) > 10 else "")
    err.add_note(f"cloudfiles: puts stopped after writing {len(written)} files (see .written)"
                 + (f": {shown}" if written else "") + "; nothing is written after this error")


def _raise_collected(errors: dict, what: str) -> None:
    if not errors:
        return
    if len(errors) == 1:
        raise next(iter(errors.values()))
    first = next(iter(errors.items()))
    raise TransferError(
        f"{len(errors)} files failed to {what}; first: {first[0]!r}: {first[1]}", errors
    ) from first[1]


class CloudFiles:
    """Read and write many files under one cloudpath, concurrently.

    ``cloudpath`` is any form :func:`cloudfiles.paths.parse` accepts.
    ``num_threads`` bounds concurrent requests (default: 20 for network
    services, 1 for file:// and mem://, which are CPU-bound), ``green`` uses gevent instead
    of threads, ``parallel`` adds processes, ``progress`` shows a tqdm bar.
    ``use_https`` reads gs:// and s3:// through their public HTTPS endpoints,
    ``endpoint`` points s3:// at another S3-compatible service, and
    ``request_payer`` bills requests to the caller (requester pays).
    ``fsync=True`` (default: the ``CLOUDFILES_FSYNC`` environment variable, off)
    makes every file:// write fsync the file and its directory before returning.
    ``max_decompressed_size`` (bytes, or ``"4G"``) raises or lowers the bound on
    what one stored object (or one streamed part) may decode to; the default
    is ``max(256 MiB, 100 x stored size)`` (docs/security.md).
    ``deadline`` (seconds; ``CLOUDFILES_DEADLINE``, default 600) bounds one HTTP
    request as a whole, separately from the idle ``timeout``; ``max_body``
    (bytes; ``CLOUDFILES_MAX_BODY``, default 4 GiB) bounds a response held in memory.
    ``features`` switches backend abilities off for this client, e.g.
    ``{"server_side_copy": False, "batch_delete": 1}``, so the fallback path runs
    (see ``cf.features`` and docs/backends.md, "Features").
    ``options`` passes options that only one backend takes, e.g.
    ``{"copy_part_size": 64 * 2**20}`` for s3://; each backend's options type
    (``S3Options``, ``GCSOptions``, ``HTTPOptions``, ``FileOptions``, ``MemOptions``)
    refuses names it does not know, as it does ``listing=``, ``list_page_size=`` and
    ``fsync=`` given to a backend without them (docs/backends.md, "Options").
    """

    def __init__(
        self,
        cloudpath: str,
        *,
        progress: Union[bool, str] = False,
        green: Optional[bool] = None,
        secrets: Any = None,
        num_threads: Optional[int] = None,
        use_https: bool = False,
        endpoint: Optional[str] = None,
        parallel: int = 1,
        request_payer: Optional[str] = None,
        no_sign_request: bool = False,
        timeout: float = 60.0,
        retry_policy: Optional[retry.RetryPolicy] = None,
        executor=None,
        composite_upload_threshold: int = DEFAULT_COMPOSITE_UPLOAD_THRESHOLD,
        part_size: Optional[int] = None,
        part_threads: Optional[int] = None,
        large_threshold: Optional[int] = None,
        fsync: Optional[bool] = None,
        max_decompressed_size: Union[int, str, None] = None,
        locking: Optional[bool] = None,
        lock_dir: Optional[str] = None,
        listing: Optional[str] = None,
        list_page_size: Optional[int] = None,
        deadline: Optional[float] = None,
        max_body: Optional[int] = None,
        features: Optional[dict] = None,
        options: Optional[dict] = None,
    ):
        if num_threads is not None and (
            not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads < 0
        ):
            raise InvalidInputError(
                f"num_threads must be an int >= 0 (0 runs in the calling thread), got {num_threads!r}")
        given = locals()  # the constructor's keywords, before anything else is bound
        core_options = {k: given[k] for k in CORE_OPTIONS}
        self._core = ObjectCore(cloudpath, **core_options)
        self._init_kwargs = dict(progress=progress, green=green, parallel=parallel, **self._core.options)
        self.cloudpath = self._core.cloudpath
        if num_threads is None:
            # Local backends are CPU-bound under the GIL: one thread beats many.
            num_threads = 1 if self._core.features.local else 20
        self.progress = progress
        self.green = bool(green)
        self.num_threads = num_threads
        self.parallel = _parse_parallel(parallel)
        self.secrets = secrets
        self.request_payer = request_payer
        self.executor = executor
        self.locking = locking
        self._runner = Runner(max(num_threads, 1), self.green, executor)
        self._core.runner = self._runner

    # ------------------------------------------------------------------ info
    @property
    def protocol(self) -> str:
        return self._core.protocol

    @property
    def path(self) -> paths.CloudPath:
        return self._core.path

    @property
    def core(self) -> ObjectCore:
        """The object core beneath this facade (single-object operations; picklable)."""
        return self._core

    @property
    def backend(self):
        return self._core.backend

    @property
    def runner(self) -> Runner:
        """Where this client's fan-out runs (threads, green threads or its executor)."""
        return self._runner

    @property
    def stream_settings(self):
        return self._core.stream_settings

    @property
    def composite_upload_threshold(self) -> int:
        return self._core.composite_upload_threshold

    @property
    def max_decompressed_size(self):
        return self._core.max_decompressed_size

    @property
    def retry_policy(self) -> retry.RetryPolicy:
        return self._core.retry_policy

    @retry_policy.setter
    def retry_policy(self, policy: retry.RetryPolicy) -> None:
        self._core.retry_policy = policy

    @stream_settings.setter
    def stream_settings(self, settings) -> None:
        self._core.stream_settings = settings

    @max_decompressed_size.setter
    def max_decompressed_size(self, value) -> None:
        self._core.max_decompressed_size = None if value is None else compression.parse_size(value)

    def __repr__(self) -> str:
        from .redact import redact

        return redact(f"CloudFiles({self.cloudpath!r}, num_threads={self.num_threads}, parallel={self.parallel})")

    def reset_connection_pools(self) -> None:
        """Drop the shared connection pools and reconnect this client on fresh ones."""
        from .connections import reset_connection_pools

        reset_connection_pools()
        self._core.reconnect()

    @property
    def features(self):
        """What this client's backend can do (:class:`cloudfiles.backends.Features`),
        after any ``features=`` switched off at construction."""
        return self._core.features

    def _require_writable(self, what: str, key: str = "") -> None:
        self._core.require_writable(what, key)

    @property
    def lock_dir(self) -> str:
        """Where file:// advisory locks live (``lock_dir=``, else see :mod:`cloudfiles.locking`)."""
        return self._core.lock_dir

    def clear_locks(self) -> None:
        """Remove the lock files in :attr:`lock_dir` (left behind by ``locking=True``)."""
        FileLocks(self.lock_dir).clear()

    @property
    def sep(self) -> str:
        """The separator :meth:`join` uses: ``os.sep`` for file://, '/' elsewhere."""
        return os.sep if self.protocol == "file" else "/"

    def join(self, *parts: str) -> str:
        """Join path parts: with ``os.path.join`` for file://, '/' elsewhere (as cloud-files does)."""
        if not parts:
            return ""
        if self.protocol == "file":
            return os.path.join(*parts)
        return paths.join(*parts)

    def dirname(self, path: str) -> str:
        """The parent of ``path`` (``os.path`` rules for file://, '/' elsewhere)."""
        return os.path.dirname(path) if self.protocol == "file" else posixpath.dirname(path)

    def basename(self, path: str) -> str:
        """The last component of ``path`` (``os.path`` rules for file://, '/' elsewhere)."""
        return os.path.basename(path) if self.protocol == "file" else posixpath.basename(path)

    def abspath(self, path: str) -> str:
        """The full cloudpath of ``path`` (a key here)."""
        return paths.join(self.cloudpath, path)

    # -------------------------------------------------------------- plumbing
    def _threads(self, total: Optional[int], writes: bool = False) -> int:
        n = self.num_threads
        if self._core.features.local and n > 1:
            # GIL-bound local work (cloudfiles/localcap.py): more threads only add contention.
            from .localcap import local_threads

            n = local_threads(n, writes, self._core.backend.fsync)
        if total is not None:
            n = min(n, max(total, 1))
        return n

    def _schedule(self, fn, items, total=None, progress=None, desc=None, writes: bool = False):
        if total is None and hasattr(items, "__len__"):
            total = len(items)
        # closures run in this process: an executor of other processes gets specs instead (_shipping)
        return self._runner.local().map(fn, items, concurrency=self._threads(total, writes), total=total,
                                        progress=self.progress if progress is None else progress, desc=desc)

    def _shipping(self, executor, *others):
        """The executor to ship batch specs to (a process pool or a Dask client), or None."""
        ex = self.executor if executor is None else executor
        if ex is None:
            return None
        from .dispatch import use

        return ex if use(ex, self, *others) else None

    def _use_processes(self, parallel: Optional[int]) -> int:
        n = self.parallel if parallel is None else _parse_parallel(parallel)
        if n > 1 and self._core.features.process_local:
            return 1  # a child process cannot see this process's memory
        return n

    def _in_processes(self, method: str, items: list, n: int, **kwargs) -> list:
        from .processes import run_chunks

        return run_chunks(self.cloudpath, self._init_kwargs, method, items, n, kwargs,
                          part_size=self.stream_settings.part_size)

    # ------------------------------------------------------------------- get
    def get(
        self,
        paths: GetPathType,
        *,
        total: Optional[int] = None,
        raw: bool = False,
        progress: Optional[bool] = None,
        parallel: Optional[int] = None,
        return_dict: bool = False,
        raise_errors: bool = False,
        part_size: Optional[int] = None,
        return_recording: bool = False,
        max_decompressed_size: Union[int, str, None] = None,
        executor=None,
        batch_size: Optional[int] = None,
        _recording: Any = None,
    ):
        """Download one file (returns its bytes, or ``None`` if missing) or many.

        Many: a list of ``{'path', 'content', 'byte_range', 'error', 'compress',
        'raw', 'tags'}`` dicts, one per request, in completion order; a failure is
        reported in that file's ``error`` and never hides the other files, unless
        ``raise_errors=True``, which raises the first failure instead.
        ``raw=True`` returns stored (possibly compressed) bytes. Requests are
        names or ``{'path', 'start', 'end', 'tags'}`` dicts (``end`` exclusive;
        ``tags`` is passed through to the result untouched).
        ``return_dict=True`` returns ``{path: content}`` and raises the first failure.
        ``part_size`` is the part size of S3 multipart objects, to check their ETag.
        ``max_decompressed_size`` overrides the decompression bound for this call.
        ``return_recording=True`` returns ``(result, TransmissionMonitor)``
        (:mod:`cloudfiles.monitoring`: each object's start, end and stored size).
        ``executor`` (default: this CloudFiles' ``executor``): a process pool or a Dask
        ``distributed.Client`` runs batches of ``batch_size`` requests in its processes
        (docs/scale.md); a thread pool runs them here.
        """
        if return_recording:
            from .monitoring import IOEnum, TransmissionMonitor

            tm = TransmissionMonitor(IOEnum.RX)
            result = self.get(paths, total=total, raw=raw, progress=progress, parallel=parallel,
                              return_dict=return_dict, raise_errors=raise_errors, part_size=part_size,
                              max_decompressed_size=max_decompressed_size, executor=executor,
                              batch_size=batch_size, _recording=tm)
            return result, tm
        if max_decompressed_size is not None:
            max_decompressed_size = compression.parse_size(max_decompressed_size)
        if part_size is not None and (isinstance(part_size, bool) or not isinstance(part_size, int)
                                      or part_size < 1):
            raise InvalidInputError(f"part_size must be a positive int, got {part_size!r}")
        if inputs.is_scalar_get(paths):
            key, start, end = inputs.get_request(paths)
            content, _ = _record(_recording, lambda: self._core.read(
                self._core.key(key), start, end, raw, max_decompressed_size, part_size), _content_size)
            return {key: content} if return_dict else content

        raise_errors = bool(raise_errors or return_dict)
        items = inputs.to_iter(paths)
        nproc = self._use_processes(parallel)
        shipping = self._shipping(executor)
        if shipping is not None:
            from . import dispatch

            results = dispatch.get(self, items, shipping, raw=raw, part_size=part_size,
                                   max_decompressed_size=max_decompressed_size, raise_errors=raise_errors,
                                   progress=self.progress if progress is None else progress, total=total,
                                   batch_size=batch_size)
        elif nproc > 1:
            items = list(items)
            results = self._in_processes("get", items, nproc, raw=raw, progress=False,
                                         max_decompressed_size=max_decompressed_size, part_size=part_size)
        else:
            def one(item):
                tags = inputs.get_tags(item)
                try:
                    key, start, end = inputs.get_request(item)
                except InvalidInputError as err:
                    return _get_result(item, None, None, None, err, raw, tags=tags)
                try:
                    content, enc = _record(_recording, lambda: self._core.read(
                        self._core.key(key), start, end, raw, max_decompressed_size, part_size), _content_size)
                    return _get_result(key, start, end, content, None, raw, enc, tags)
                except Exception as err:  # reported per file
                    return _get_result(key, start, end, None, err, raw, tags=tags)

            results = []
            for r in self._schedule(one, items, total=total, progress=progress, desc="Downloading"):
                if raise_errors and r["error"] is not None:
                    raise r["error"]
                results.append(r)
        if raise_errors:
            for r in results:
                if r["error"] is not None:
                    raise r["error"]
        if return_dict:
            return {r["path"]: r["content"] for r in results}
        return results

    def get_json(self, paths: GetPathType, total: Optional[int] = None, progress: Optional[bool] = None):
        """Like :meth:`get`, parsing each file as UTF-8 JSON; lists keep input order.

        Missing files give ``None``; a file that fails to download or parse raises.
        """
        if inputs.is_scalar_get(paths):
            content = self.get(paths)
            return None if content is None else _parse_json(content, paths)
        items = list(inputs.to_iter(paths))
        results = self.get(items, total=total, progress=progress)
        by_path: dict = {}
        for r in results:
            if r["error"] is not None:
                raise r["error"]
            by_path[(r["path"], r["byte_range"])] = r["content"]
        out = []
        for item in items:
            key, start, end = inputs.get_request(item)
            content = by_path[(key, (start, end))]
            out.append(None if content is None else _parse_json(content, key))
        return out

    # ------------------------------------------------------------------- put
    def put(
        self,
        path: str,
        content: Union[bytes, str],
        content_type: Optional[str] = None,
        compress: Union[str, bool, None] = None,
        compression_level: Optional[int] = None,
        cache_control: Optional[str] = None,
        raw: bool = False,
        storage_class: Optional[str] = None,
    ) -> int:
        """Upload one file. ``compress``: gzip (or True), br, zstd, xz, bzip2.

        ``raw=True`` stores ``content`` as given, declaring it encoded with ``compress``.
        """
        req = {"path": path, "content": content, "content_type": content_type, "compress": compress,
               "compression_level": compression_level, "cache_control": cache_control,
               "storage_class": storage_class, "raw": raw}
        _validate_put_options(req)
        if _is_stream(content) and not (self._core.features.python_objects and _is_python_object(content)):
            self._require_writable("write", path)
            inputs.check_binary_stream(content, path)
            if raw:
                raise InvalidInputError("raw=True is not supported for streamed content; use bytes")
            from .streaming import upload_stream

            upload_stream(self._core, path, content, compress=compress, compression_level=compression_level,
                          content_type=content_type, cache_control=cache_control, storage_class=storage_class)
            return 1
        self._core.write(req)
        return 1

    def puts(
        self,
        files,
        content_type: Optional[str] = None,
        compress: Union[str, bool, None] = None,
        compression_level: Optional[int] = None,
        cache_control: Optional[str] = None,
        total: Optional[int] = None,
        raw: bool = False,
        progress: Optional[bool] = None,
        parallel: Optional[int] = None,
        storage_class: Optional[str] = None,
        return_recording: bool = False,
        executor=None,
        batch_size: Optional[int] = None,
    ):
        """Upload many files: ``(path, content)`` tuples and/or dicts, mixed freely.

        ``content`` may also be a binary file object or an iterable of bytes,
        which is uploaded in parallel parts with bounded memory (see :meth:`open`).

        Dict fields override the keyword defaults. Lists are validated whole
        before anything is written (types, options, duplicate paths); iterators
        and generators are validated as they are consumed. Every file is
        attempted; failures are raised afterwards (one error as itself, several
        as :class:`TransferError` with ``.errors``). Returns the number written
        (with ``return_recording=True``: ``(number, TransmissionMonitor)``,
        see :mod:`cloudfiles.monitoring`).
        ``executor``/``batch_size``: as for :meth:`get` (contents must then be bytes or str).
        """
        tm = None
        if return_recording:
            from .monitoring import IOEnum, TransmissionMonitor

            tm = TransmissionMonitor(IOEnum.TX)
        defaults = {"content_type": content_type, "compress": compress,
                    "compression_level": compression_level, "cache_control": cache_control,
                    "storage_class": storage_class, "raw": raw}
        _validate_put_options(defaults)
        if inputs.is_scalar_put(files):
            files = [files]
        items = inputs.to_iter(files)
        if isinstance(items, list):
            reqs: Iterable[dict] = list(inputs.iter_put_requests(items, defaults))
            for r in reqs:
                _validate_put_options(r)
                r["content"] = self._core.content_for(r["content"], r["path"], r)
        else:
            reqs = _validated(inputs.iter_put_requests(items, defaults))

        shipping = self._shipping(executor)
        if shipping is not None:
            from . import dispatch

            count = dispatch.puts(self, reqs, shipping, progress=self.progress if progress is None else progress,
                                  total=total, batch_size=batch_size)
            return (count, tm) if tm is not None else count  # recorded on the workers: not here
        nproc = self._use_processes(parallel)
        if nproc > 1:
            reqs = list(reqs)
            count = sum(self._in_processes("puts", reqs, nproc, progress=False))
            return (count, tm) if tm is not None else count

        errors: dict = {}
        count = 0
        written: list = []

        def one(req):
            try:
                _record(tm, lambda: self._core.write(req), lambda _: _stored_size(req.get("content")))
            except InvalidInputError:
                raise
            except Exception as err:
                return req["path"], err
            written.append(req["path"])
            return req["path"], None

        try:
            for path, err in self._schedule(one, reqs, total=total, progress=progress, desc="Uploading",
                                            writes=True):
                if err is None:
                    count += 1
                else:
                    errors[path] = err
        except BaseException as err:  # the input (or a bad item) stopped the run; writes in flight finished
            _note_written(err, written)
            raise
        _raise_collected(errors, "upload")
        return (count, tm) if tm is not None else count

    # ---------------------------------------------------------- large files
    def open(self, path: str, mode: str = "rb", raw: bool = False, compress=None,
             compression_level: Optional[int] = None, content_type: Optional[str] = None,
             cache_control: Optional[str] = None, storage_class: Optional[str] = None):
        """A file object for one file: ``'rb'`` reads in parallel ranged parts
        (decoded unless ``raw``), ``'wb'`` uploads in parallel parts as you write.

        Memory stays near ``(part_threads + 2) * part_size`` whatever the size.
        A writer's object appears only when it is closed without error.
        """
        from . import streaming

        key = self._core.key(path)
        if mode in ("rb", "r"):
            return io.BufferedReader(streaming.Reader(self._core, key, raw=raw), buffer_size=1024 * 1024)
        if mode in ("wb", "w"):
            return streaming.Writer(self._core, key, compress=compress, compression_level=compression_level,
                                    content_type=content_type, cache_control=cache_control,
                                    storage_class=storage_class)
        raise InvalidInputError(f"mode must be 'rb' or 'wb', got {mode!r}")

    def stream(self, path: str, raw: bool = False) -> Iterator[bytes]:
        """Chunks of one file in order (decoded unless ``raw``), fetched in parallel parts."""
        from . import streaming

        return streaming.stream(self._core, self._core.key(path), raw=raw)

    def download_file(self, path: str, local_path: str, raw: bool = False, resume: bool = True) -> int:
        """Save one file to ``local_path`` (decoded unless ``raw``), atomically and
        verified, in parallel parts; returns the bytes written. With ``resume``, a
        large download keeps a partial file beside ``local_path`` that a rerun
        continues (docs/api.md)."""
        from . import streaming

        return streaming.download_to_file(self._core, self._core.key(path), local_path, raw=raw, resume=resume)

    def upload_file(self, local_path: str, path: str, compress=None, compression_level: Optional[int] = None,
                    content_type: Optional[str] = None, cache_control: Optional[str] = None,
                    storage_class: Optional[str] = None) -> int:
        """Upload a local file in parallel parts without reading it whole; returns stored bytes."""
        from . import streaming

        return streaming.upload_file(self._core, local_path, path, compress=compress,
                                     compression_level=compression_level, content_type=content_type,
                                     cache_control=cache_control, storage_class=storage_class)

    def put_json(self, path: str, content: Any, compress=None, compression_level=None,
                 cache_control=None, storage_class=None) -> int:
        """Upload ``content`` serialised as JSON with ``Content-Type: application/json``."""
        return self.put(path, inputs.json_bytes(content, path), content_type="application/json",
                        compress=compress, compression_level=compression_level,
                        cache_control=cache_control, storage_class=storage_class)

    def put_jsons(self, files, compress=None, compression_level=None, cache_control=None,
                  total=None, raw: bool = False, progress=None, parallel=1, storage_class=None,
                  return_recording: bool = False):
        """:meth:`puts` for JSON content: each content is serialised before upload.

        ``raw=True`` stores the JSON text uncompressed, labelled with ``compress``
        (as :meth:`puts` and cloud-files). ``parallel`` defaults to one process, as in cloud-files.
        """
        def convert(item):
            if isinstance(item, tuple) and len(item) == 2:
                return (item[0], inputs.json_bytes(item[1], str(item[0])))
            if isinstance(item, dict) and "content" in item:
                out = dict(item)
                out["content"] = inputs.json_bytes(item["content"], str(item.get("path")))
                out.setdefault("content_type", "application/json")
                return out
            return item

        if inputs.is_scalar_put(files):
            files = [files]
        items = inputs.to_iter(files)
        converted = [convert(f) for f in items] if isinstance(items, list) else (convert(f) for f in items)
        return self.puts(converted, content_type="application/json", compress=compress,
                         compression_level=compression_level, cache_control=cache_control,
                         total=total, raw=raw, progress=progress, parallel=parallel,
                         storage_class=storage_class, return_recording=return_recording)

    # ---------------------------------------------------------- delete/exists
    def delete(self, paths: GetPathType, total: Optional[int] = None,
               progress: Optional[bool] = None, parallel: Optional[int] = None,
               executor=None, batch_size: Optional[int] = None) -> None:
        """Delete one or many files; deleting a missing file is not an error.
        ``executor``/``batch_size``: as for :meth:`get`."""
        if isinstance(paths, str):
            key = self._core.key(paths)  # a bad key is refused as such, read-only or not
            self._require_writable("delete", paths)
            self._core.locked_call(self.backend.delete, key, exclusive=True)
            return
        self._require_writable("delete")
        keys = inputs.to_iter(paths)
        shipping = self._shipping(executor)
        if shipping is not None:
            from . import dispatch

            dispatch.delete(self, keys, shipping, progress=self.progress if progress is None else progress,
                            total=total, batch_size=batch_size)
            return
        nproc = self._use_processes(parallel)
        if nproc > 1:
            self._in_processes("delete", list(keys), nproc, progress=False)
            return
        # per-key advisory locks (locking=True) need per-key deletes
        batch = 1 if self._core.locking else self._core.features.batch_delete
        errors: dict = {}
        if batch > 1:
            def one(keys_batch):
                try:
                    self._core.call(self.backend.delete_many, keys_batch)
                    return len(keys_batch), None
                except Exception as err:
                    return len(keys_batch), (keys_batch, err)

            batches = iter_batches((self._core.key(k) for k in keys), batch)
            bar_total = None
            for n, failure in self._schedule(one, batches, total=bar_total, progress=progress, desc="Deleting"):
                if failure:
                    for k in failure[0]:
                        errors[k] = failure[1]
        else:
            def one(key):
                try:
                    self._core.locked_call(self.backend.delete, self._core.key(key), exclusive=True)
                    return key, None
                except Exception as err:
                    return key, err

            for key, err in self._schedule(one, keys, total=total, progress=progress, desc="Deleting"):
                if err is not None:
                    errors[key] = err
        _raise_collected(errors, "delete")

    def exists(self, paths: GetPathType, total: Optional[int] = None,
               progress: Optional[bool] = None, parallel: Optional[int] = None,
               executor=None, batch_size: Optional[int] = None):
        """``True``/``False`` for one path; ``{path: bool}`` for many.
        ``executor``/``batch_size``: as for :meth:`get`."""
        if isinstance(paths, str):
            return self._core.locked_call(self.backend.exists, self._core.key(paths))
        keys = inputs.to_iter(paths)
        shipping = self._shipping(executor)
        if shipping is not None:
            from . import dispatch

            return dispatch.exists(self, keys, shipping, progress=self.progress if progress is None else progress,
                                   total=total, batch_size=batch_size)
        nproc = self._use_processes(parallel)
        if nproc > 1:
            out: dict = {}
            for part in self._in_processes("exists", list(keys), nproc, progress=False):
                out.update(part)
            return out
        return self._batched_map(keys, self._core.features.batch_exists, self.backend.exists_many,
                                 self.backend.exists, total, progress, "Checking")

    def _batched_map(self, keys, batch, many_fn, one_fn, total, progress, desc) -> dict:
        out: dict = {}
        if batch > 1:
            def run(b):
                res = self._core.call(many_fn, [self._core.key(k) for k in b])
                return {k: res[self._core.key(k)] for k in b}

            for part in self._schedule(run, iter_batches(keys, batch), progress=progress, desc=desc):
                out.update(part)
        else:
            def run_one(k):
                return k, self._core.locked_call(one_fn, self._core.key(k))

            for k, v in self._schedule(run_one, keys, total=total, progress=progress, desc=desc):
                out[k] = v
        return out

    def size(self, paths: GetPathType, total: Optional[int] = None, progress: Optional[bool] = None,
             return_sum: bool = False):
        """Stored size in bytes (``None`` if missing) of one path, or ``{path: size}``.

        ``return_sum=True`` returns the total stored bytes of the files that exist.
        """
        if isinstance(paths, str) and not return_sum:
            return self._core.locked_call(self.backend.size, self._core.key(paths))
        keys = [paths] if isinstance(paths, str) else inputs.to_iter(paths)
        sizes = self._batched_map(keys, 1, None, self.backend.size, total, progress, "Sizing")
        if return_sum:
            return sum(v for v in sizes.values() if v is not None)
        return sizes

    def subtree_size(self, prefix: Union[str, Iterable[str]] = "") -> dict:
        """``{'N': files, 'num_bytes': stored bytes}`` under one prefix or several, from listings."""
        prefixes = [prefix] if isinstance(prefix, str) else list(inputs.to_iter(prefix))
        n = total_bytes = 0
        for p in prefixes:
            if not isinstance(p, str):
                raise InvalidInputError(f"prefix must be a str, got {type(p).__name__}")
            for key, size in self.list_sizes(p):
                if key.endswith("/"):
                    continue
                n += 1
                total_bytes += size or 0
        return {"N": n, "num_bytes": total_bytes}

    def get_acl(self, paths: GetPathType, total: Optional[int] = None,
                progress: Optional[bool] = None, return_recording: bool = False):
        """``{path: access control}`` for one or many files (``None`` where a file is missing).

        file:// gives the stored file's ``st_mode``, mem:// ``None`` (no access
        control), s3:// the ``GetObjectAcl`` shape (``{'Owner', 'Grants'}``),
        gs:// the object's ACL entries. Other services raise
        :class:`UnsupportedOperationError`. ``return_recording=True`` returns
        ``(result, TransmissionMonitor)`` (one interval per file).
        """
        if not self._core.features.acl:
            raise UnsupportedOperationError(f"{self.protocol}:// has no access control lists to read")
        getter = self.backend.get_acl
        keys = [paths] if isinstance(paths, str) else inputs.to_iter(paths)
        if not return_recording:
            return self._batched_map(keys, 1, None, getter, total, progress, "Fetching ACLs")
        from .monitoring import IOEnum, TransmissionMonitor

        tm = TransmissionMonitor(IOEnum.RX)
        recorded = lambda key: _record(tm, lambda: getter(key), lambda _: 1)  # noqa: E731
        return self._batched_map(keys, 1, None, recorded, total, progress, "Fetching ACLs"), tm

    def head(self, paths: GetPathType, total: Optional[int] = None, progress: Optional[bool] = None):
        """Metadata dict (``None`` if missing) of one path, or ``{path: dict}``."""
        if isinstance(paths, str):
            return self._core.locked_call(self.backend.head, self._core.key(paths))
        return self._batched_map(inputs.to_iter(paths), 1, None, self.backend.head, total, progress, "Head")

    def touch(self, paths: GetPathType, progress: Optional[bool] = None, total: Optional[int] = None,
              nocopy: bool = False) -> None:
        """Create missing files empty; refresh the modification time of existing ones
        (not with ``nocopy=True``, which only creates the missing ones)."""
        self._require_writable("touch", paths if isinstance(paths, str) else "")
        keys = [paths] if isinstance(paths, str) else inputs.to_iter(paths)

        def one(k):
            key = self._core.key(k)
            if self._core.call(self.backend.exists, key):
                if self._core.features.touch and not nocopy:
                    self._core.call(self.backend.touch, key)
            else:
                self._core.write({"path": key, "content": b""})
            return k

        for _ in self._schedule(one, keys, total=total, progress=progress, desc="Touching", writes=True):
            pass

    # ------------------------------------------------------------------ list
    def list(self, prefix: str = "", flat: bool = False, size: bool = False,
             return_resume_token: bool = False, resume_token: Optional[str] = None,
             start_after: Optional[str] = None) -> Iterator:
        """Keys under ``prefix`` (lazily, sorted). ``flat`` lists one level; directories end in '/'.

        A flat listing of a prefix that names exactly one directory and no file
        (``'build'`` for ``build/...``) lists inside that directory, as cloud-files
        does. ``size=True`` yields ``(key, stored size)`` pairs instead
        (``None`` for directories), read from the listing itself.
        ``start_after`` keeps only keys strictly greater than it (string order).

        ``return_resume_token=True`` adds a token to each item (``(key, token)``
        or ``(key, size, token)``); ``list(..., resume_token=token)`` later goes
        on after that item. Our token is the item's key (the reference's is the
        service's page token, which repeats the rest of that page), so
        ``resume_token`` is ``start_after`` under the reference's name.
        """
        if resume_token is not None and not isinstance(resume_token, str):
            raise InvalidInputError(f"resume_token must be a str, got {type(resume_token).__name__}")
        if resume_token:
            start_after = resume_token if start_after is None else max(start_after, resume_token)
        if not return_resume_token:
            if size:
                return self.list_sizes(prefix, flat, start_after=start_after)
            return self._listing(prefix, flat, "keys", start_after)
        if size:
            return ((k, n, k) for k, n in self._listing(prefix, flat, "sizes", start_after))
        return ((k, k) for k in self._listing(prefix, flat, "keys", start_after))

    def list_sizes(self, prefix: str = "", flat: bool = False,
                   start_after: Optional[str] = None) -> Iterator[tuple[str, Optional[int]]]:
        """``(key, stored size)`` pairs from the listing itself (no request per file)."""
        return self._listing(prefix, flat, "sizes", start_after)

    def list_meta(self, prefix: str = "", flat: bool = False,
                  start_after: Optional[str] = None) -> Iterator["ObjectMeta"]:
        """:class:`cloudfiles.meta.ObjectMeta` of each key, with what the listing itself
        tells (size, time, ETag/md5/crc32c where the service lists them; no request per file)."""
        return self._listing(prefix, flat, "meta", start_after)

    def _listing(self, prefix: str, flat: bool, kind: str, start_after: Optional[str]) -> Iterator:
        if not isinstance(prefix, str):
            raise InvalidInputError(f"prefix must be a str, got {type(prefix).__name__}")
        if start_after is not None and not isinstance(start_after, str):
            raise InvalidInputError(f"start_after must be a str or None, got {type(start_after).__name__}")
        if flat and prefix and not prefix.endswith("/"):
            return self._flat_into_directory(prefix, kind, start_after)
        return self._backend_listing(prefix, flat, kind, start_after)

    def _backend_listing(self, prefix: str, flat: bool, kind: str, start_after: Optional[str]) -> Iterator:
        return self._core.entries(kind, prefix, flat, start_after)

    def _flat_into_directory(self, prefix: str, kind: str, start_after: Optional[str]) -> Iterator:
        position = LISTERS[kind][1]
        it = self._backend_listing(prefix, True, kind, None)
        first = next(it, None)
        if first is None:
            return
        second = next(it, None)
        if second is None and position(first) == prefix + "/":
            yield from self._backend_listing(prefix + "/", True, kind, start_after)
            return
        if start_after is not None:
            yield from self._backend_listing(prefix, True, kind, start_after)
            return
        yield first
        if second is not None:
            yield second
            yield from it

    def isdir(self, prefix: str = "") -> bool:
        """True if any file lies under ``prefix`` treated as a directory."""
        p = prefix.rstrip("/")
        probe = p + "/" if p else ""
        for _ in self.backend.list(probe, flat=True):
            return True
        return False

    # -------------------------------------------------------------- transfer
    def transfer_to(
        self,
        cf_dest: Union["CloudFiles", str],
        paths: Optional[Iterable] = None,
        block_size: int = 64,
        reencode: Union[str, bool, None] = None,
        content_type: Optional[str] = None,
        allow_missing: bool = False,
        progress: Optional[bool] = None,
        resumable: bool = False,
        skip_existing: Union[bool, str] = False,
        parallel: Optional[int] = None,
        executor=None,
        batch_size: Optional[int] = None,
    ):
        """Copy files from here to ``cf_dest``, keeping their stored encoding.

        ``paths`` defaults to everything listed here; items may be names,
        ``(src, dest)`` tuples or ``{'path', 'dest_path'}`` dicts. ``reencode``
        changes the stored encoding (``'none'`` decompresses). ``skip_existing``
        re-runs a transfer without re-sending files that already arrived
        (``'exists'``, ``'size'``, or ``True``/``'checksum'``). ``parallel`` splits
        the work over processes (default: this CloudFiles' ``parallel``).
        ``resumable`` is accepted for cloud-files' signature: every write here is
        already atomic (a download lands under a temporary name and is renamed
        when complete), so an interrupted transfer never leaves partial files;
        ``cloudfiles cp --resumable`` also continues interrupted downloads.
        ``executor`` (a process pool or a Dask ``distributed.Client``) runs batches
        of ``batch_size`` files in its processes, the listing streamed (docs/scale.md).
        Returns a :class:`cloudfiles.transfer.TransferResult`.
        """
        from .transfer import transfer

        dest = cf_dest if isinstance(cf_dest, CloudFiles) else CloudFiles(cf_dest)
        if isinstance(paths, CloudFiles):  # cloud-files lets a CloudFiles stand for its listing
            paths = None if paths.cloudpath == self.cloudpath else _files_of(paths)
        progress = self.progress if progress is None else progress
        shipping = self._shipping(executor, dest)
        if shipping is not None:  # batches of keys to other processes or a Dask cluster
            from . import dispatch
            from .transfer import check_arguments

            _, skip = check_arguments(dest._core, block_size, 1, reencode, skip_existing, content_type)
            return dispatch.transfer(self._core, dest._core, paths, shipping, block_size=block_size,
                                     reencode=reencode, content_type=content_type, allow_missing=allow_missing,
                                     progress=progress, skip=skip, batch_size=batch_size)
        runner = Runner(max(self.num_threads, dest.num_threads, 1), self.green, self.executor)
        return transfer(self._core, dest._core, paths, block_size=block_size, reencode=reencode,
                        content_type=content_type, allow_missing=allow_missing, progress=progress,
                        skip_existing=skip_existing, parallel=self._use_processes(parallel), runner=runner)

    def transfer_from(self, cf_src: Union["CloudFiles", str], paths: Optional[Iterable] = None,
                      block_size: int = 64, reencode=None, content_type=None,
                      allow_missing: bool = False, progress: Optional[bool] = None,
                      resumable: bool = False, skip_existing: Union[bool, str] = False,
                      parallel: Optional[int] = None):
        """Copy files from ``cf_src`` to here; see :meth:`transfer_to`."""
        src = cf_src if isinstance(cf_src, CloudFiles) else CloudFiles(cf_src)
        return src.transfer_to(self, paths, block_size=block_size, reencode=reencode,
                               content_type=content_type, allow_missing=allow_missing,
                               progress=self.progress if progress is None else progress,
                               resumable=resumable, skip_existing=skip_existing,
                               parallel=self.parallel if parallel is None else parallel)

    def move(self, src: str, dest: str) -> None:
        """Move one file; ``src`` is a key here, ``dest`` the full path of the new file (a
        cloudpath, or a local path: absolute, ``./``, ``../`` or ``~``) or else a key here."""
        if isinstance(dest, str) and (paths.is_cloudpath_like(dest) or _is_local_path(dest)):
            full = paths.normalize(dest)
            parent, _, name = full.rstrip("/").rpartition("/")
            if not name or parent.endswith(":/"):
                raise InvalidInputError(f"move destination {dest!r} names no file")
            self.moves(parent + "/", [{"path": src, "dest_path": name}])
            return
        self.moves(self, [{"path": src, "dest_path": dest}])

    def moves(self, cf_dest: Union["CloudFiles", str], paths: Iterable, block_size: int = 64,
              total: Optional[int] = None, progress: Optional[bool] = None) -> None:
        """Move files to ``cf_dest``: copy, verify arrival, then delete the sources.

        ``total`` is accepted for cloud-files' signature; the bar is sized from
        ``paths`` itself (which is read whole before the first copy).
        """
        from .transfer import move_files

        dest = cf_dest if isinstance(cf_dest, CloudFiles) else CloudFiles(cf_dest)
        runner = Runner(max(self.num_threads, dest.num_threads, 1), self.green, self.executor)
        move_files(self._core, dest._core, paths, block_size=block_size,
                   progress=self.progress if progress is None else progress, runner=runner)

    def cleanup(self, older_than: Union[str, float] = "1d", dry_run: bool = True) -> list:
        """Temporaries left by killed writers under this cloudpath and older than
        ``older_than`` (seconds or ``"90m"``, ``"2d"``...): ``.cftmp-*`` files on file://,
        incomplete multipart uploads on s3://, composite parts on gs://. Removes
        them unless ``dry_run``; returns :class:`cloudfiles.cleanup.Leftover` records."""
        from . import cleanup

        return cleanup.cleanup(self._core, older_than, dry_run=dry_run)

    # ---------------------------------------------------------- item access
    def __getitem__(self, key):
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise InvalidInputError("file slices do not support a step")
            import itertools

            names = itertools.islice(self.list(), key.start, key.stop)
            return self.get(list(names))
        if isinstance(key, tuple):
            if len(key) != 2 or not isinstance(key[1], slice):
                raise InvalidInputError("use cf['name', start:end] for a byte range")
            rng = key[1]
            if rng.step not in (None, 1):
                raise InvalidInputError("byte ranges do not support a step")
            return self.get({"path": key[0], "start": rng.start, "end": rng.stop})
        return self.get(key)

    def __setitem__(self, key, value) -> None:
        if isinstance(key, slice):
            if key != slice(None):
                raise InvalidInputError("only cf[:] = source is supported for transfers")
            self.transfer_from(value)
            return
        self.put(key, value)

    def __delitem__(self, key) -> None:
        self.delete(key)

    def __iter__(self) -> Iterator[str]:
        return self.list()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.backend.close()


class CloudFile:
    """One file, addressed by its full cloudpath.

    Takes every :class:`CloudFiles` option (``secrets``, ``use_https``,
    ``endpoint``, ``locking``, ...). ``cache_meta=True`` remembers :meth:`head`
    and :meth:`size` after the first request (a :meth:`put` through this object
    forgets them).
    """

    def __init__(
        self,
        path: str,
        *,
        cache_meta: bool = False,
        secrets: Any = None,
        composite_upload_threshold: int = DEFAULT_COMPOSITE_UPLOAD_THRESHOLD,
        locking: Optional[bool] = None,
        lock_dir: Optional[str] = None,
        endpoint: Optional[str] = None,
        no_sign_request: bool = False,
        request_payer: Optional[str] = None,
        use_https: bool = False,
        **cf_options: Any,
    ):
        cf_options.update(
            secrets=secrets, composite_upload_threshold=composite_upload_threshold, locking=locking,
            lock_dir=lock_dir, endpoint=endpoint, no_sign_request=no_sign_request,
            request_payer=request_payer, use_https=use_https)
        norm = paths.normalize(path)
        self.cloudpath = norm
        parent, _, name = norm.rpartition("/")
        if not name:
            raise InvalidInputError(f"{path!r} names a directory, not a file")
        self.key = name
        self.filename = name
        self.cf = CloudFiles(parent + "/", **cf_options)
        self.cache_meta = cache_meta
        self._size: Optional[int] = None
        self._head: Optional[dict] = None

    @property
    def protocol(self) -> str:
        return self.cf.protocol

    @property
    def sep(self) -> str:
        return self.cf.sep

    @property
    def lock_dir(self) -> str:
        return self.cf.lock_dir

    def clear_locks(self) -> None:
        self.cf.clear_locks()

    def join(self, *parts: str) -> str:
        return self.cf.join(*parts)

    def dirname(self, *args: str) -> str:
        return self.cf.dirname(*args)

    def basename(self, *args: str) -> str:
        return self.cf.basename(*args)

    def get(self, ranges=None, raw: bool = False, *, start: Optional[int] = None, end: Optional[int] = None):
        """The file's bytes (``None`` if missing), or part of them with ``start``/``end``.

        ``ranges``, a list of slices or ``{'start', 'end'}`` dicts, fetches several
        byte ranges at once and returns :meth:`CloudFiles.get`'s result dicts.
        """
        if ranges is None:
            return self.cf.get({"path": self.key, "start": start, "end": end}, raw=raw)
        if isinstance(ranges, (slice, dict)):
            ranges = [ranges]
        if isinstance(ranges, (str, bytes, int)):
            raise InvalidInputError(
                f"ranges must be a list of slices or {{'start', 'end'}} dicts, got {ranges!r} "
                "(use get(start=..., end=...) for one range)")
        reqs = []
        for rng in ranges:
            if isinstance(rng, slice):
                if rng.step not in (None, 1):
                    raise InvalidInputError("byte ranges do not support a step")
                reqs.append({"path": self.key, "start": rng.start, "end": rng.stop})
            elif isinstance(rng, dict):
                reqs.append(dict(rng, path=self.key))
            else:
                raise InvalidInputError(f"a byte range must be a slice or a dict, got {rng!r}")
        return self.cf.get(reqs, raw=raw)

    def get_json(self):
        return self.cf.get_json(self.key)

    def get_acl(self):
        """``{filename: access control}`` for this file (see :meth:`CloudFiles.get_acl`)."""
        return self.cf.get_acl(self.key)

    def put(self, content, *args, **kwargs) -> int:
        self._size = self._head = None
        return self.cf.put(self.key, content, *args, **kwargs)

    def put_json(self, content, *args, **kwargs) -> int:
        self._size = self._head = None
        return self.cf.put_json(self.key, content, *args, **kwargs)

    def exists(self) -> bool:
        return self.cf.exists(self.key)

    def size(self) -> Optional[int]:
        if self.cache_meta and self._size is not None:
            return self._size
        self._size = self.cf.size(self.key)
        return self._size

    def head(self) -> Optional[dict]:
        if self.cache_meta and self._head is not None:
            return self._head
        self._head = self.cf.head(self.key)
        return self._head

    def delete(self) -> None:
        self._size = self._head = None
        self.cf.delete(self.key)

    def touch(self) -> None:
        self.cf.touch(self.key)

    def transfer_to(self, cloudpath: str, reencode=None) -> None:
        """Copy this file to ``cloudpath`` (the full path of the copy)."""
        target = CloudFile(cloudpath)
        self.cf.transfer_to(target.cf, [{"path": self.key, "dest_path": target.key}], reencode=reencode)

    def transfer_from(self, cloudpath: str, reencode=None) -> None:
        """Copy the file at ``cloudpath`` to this file."""
        source = CloudFile(cloudpath)
        self._size = self._head = None
        self.cf.transfer_from(source.cf, [{"path": source.key, "dest_path": self.key}], reencode=reencode)

    def move(self, dest: str) -> None:
        """Move (rename) this file to the cloudpath ``dest``."""
        self.cf.move(self.key, dest)

    def __len__(self) -> int:
        size = self.size()
        if size is None:
            raise NotFoundError(f"{self.cloudpath} does not exist")
        return size

    def __getitem__(self, rng: slice) -> Optional[bytes]:
        if not isinstance(rng, slice) or rng.step not in (None, 1):
            raise InvalidInputError("index a CloudFile with a byte range: cf[start:end]")
        return self.get(start=rng.start, end=rng.stop)

    def __repr__(self) -> str:
        from .redact import redact

        return redact(f"CloudFile({self.cloudpath!r})")


def dl(cloudpaths: Union[str, Iterable[str]], raw: bool = False, **kwargs: Any):
    """Download files given by full cloudpaths, grouping them per directory.

    A single path returns its bytes; many return ``get``-style result dicts
    whose ``path`` is the full cloudpath.
    """
    if isinstance(cloudpaths, str):
        return CloudFile(cloudpaths, **kwargs).get(raw=raw)
    groups: dict[str, list[str]] = {}
    for cp in cloudpaths:
        norm = paths.normalize(cp)
        parent, _, name = norm.rpartition("/")
        groups.setdefault(parent + "/", []).append(name)
    out = []
    for parent, names in groups.items():
        for r in CloudFiles(parent, **kwargs).get(names, raw=raw):
            r["path"] = parent + r["path"]
            out.append(r)
    return out


# ----------------------------------------------------------------- helpers
def _get_result(path, start, end, content, error, raw, enc=None, tags=None) -> dict:
    return {"path": path, "content": content, "byte_range": (start, end), "error": error,
            "compress": enc, "raw": raw, "tags": tags}


def _record(tm, fn, size_of):
    """``fn()``, its interval added to the recording ``tm`` (a TransmissionMonitor; None: just call)."""
    if tm is None:
        return fn()
    flight = tm.start_io(0)
    try:
        result = fn()
    except BaseException:
        tm.end_error(flight)
        raise
    tm.end_io(flight, size_of(result))
    return result


def _is_local_path(value: str) -> bool:
    """A bare local path rather than a key: absolute, or starting with ``./``, ``../`` or ``~``."""
    seps = ("/", os.sep)
    return (os.path.isabs(value) or value.startswith(tuple(p + s for p in (".", "..") for s in seps))
            or value == "~" or value.startswith(tuple("~" + s for s in seps)))


def _stored_size(content) -> int:
    return len(content) if isinstance(content, (bytes, bytearray, memoryview)) else 0


def _content_size(result) -> int:
    """Bytes of a ``(content, encoding)`` result, for recordings (0 for missing or Python objects)."""
    content = result[0]
    return len(content) if isinstance(content, (bytes, bytearray, memoryview)) else 0


def _parse_json(content: bytes, path) -> Any:
    import json  # imported when first needed: keeps ``import cloudfiles`` light

    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise DecompressionError(f"{path!r} is not valid UTF-8 JSON: {err}") from err


def _validate_put_options(req: dict) -> None:
    """Check a put request's options, storing the canonical encoding name in it."""
    if req.get("raw"):
        enc = compression.stored_encoding(req.get("compress"), str(req.get("path", "")))
    else:
        enc = normalize_encoding(req.get("compress"))
    req["compress"] = enc
    if compression.is_supported(enc):
        compression.check_level(enc, req.get("compression_level"))
    if isinstance(req.get("cache_control"), bool):
        # cloud-files accepts a bool here and sends no header for it; so do we.
        req["cache_control"] = None
    for name in ("content_type", "cache_control", "storage_class"):
        v = req.get(name)
        if v is not None and not isinstance(v, str):
            raise InvalidInputError(f"{name} must be a str, got {v!r}")


def _validated(reqs: Iterator[dict]) -> Iterator[dict]:
    for r in reqs:
        _validate_put_options(r)
        yield r


def _is_stream(content: Any) -> bool:
    if isinstance(content, (bytes, bytearray, memoryview, str)):
        return False
    return hasattr(content, "read") or (hasattr(content, "__iter__") and not isinstance(content, (dict, list, tuple)))


def _files_of(cf: "CloudFiles") -> Iterator[str]:
    return (k for k in cf.list() if not k.endswith("/"))


def _parse_parallel(parallel) -> int:
    if parallel is True:
        return os.cpu_count() or 1
    if parallel in (None, False):
        return 1
    if isinstance(parallel, int) and parallel >= 1:
        return parallel
    raise InvalidInputError(f"parallel must be a positive int, got {parallel!r}")
