"""Large objects: parallel ranged reads, parallel multipart writes, bounded memory.

Reading: an object is split into ``part_size`` ranges fetched by ``parallel``
threads through a sliding window, handed out strictly in order, so at most
``parallel + 1`` parts are held at once whatever the object's size. Every part
is checked for its length; the in-order stream is hashed and the whole-object
checksum the service exposes (md5, crc32c, S3 multipart ETag) is verified at
the end. A mismatch discards the result and the read is retried.

Writing: bytes are cut into ``part_size`` parts uploaded by ``parallel``
threads through the backend's multipart API (S3 multipart upload, GCS
composition, in-place writes on disk), each part retried on its own and sent
with its md5/crc32c when the service checks them. Anything smaller than one
part is a single ordinary put. A failed or abandoned upload is aborted, so no
partial object is ever visible.
"""
from __future__ import annotations

import hashlib
import io
import os
import threading
import uuid
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO, Iterable, Iterator, Optional, Union

from . import compression, integrity
from .backends.base import ObjectStat, PartInfo, multipart_uploader
from .backends.wire.etag import candidate_part_sizes, etag_kind, multipart_etag_of
from .objects import core_of
from .exceptions import (CRC32CIntegrityError, IntegrityError, InvalidInputError, MD5IntegrityError, NotFoundError,
                         UnsupportedOperationError)

if TYPE_CHECKING:
    from .objects import ObjectCore

MiB = 1024 * 1024


@dataclass(frozen=True)
class StreamSettings:
    """Part size, parts in flight, and the size above which objects go in parts.

    Peak memory of one read or write is about ``(parallel + 2) * part_size``.
    """

    part_size: int = 8 * MiB
    parallel: int = 8
    threshold: int = 16 * MiB

    def __post_init__(self) -> None:
        if self.part_size < 1 or self.parallel < 1 or self.threshold < 0:
            raise InvalidInputError(f"invalid stream settings {self}")


DEFAULT = StreamSettings()


def settings_for(cf: "ObjectCore", part_size: Optional[int] = None, parallel: Optional[int] = None) -> StreamSettings:
    base = cf.stream_settings
    minimum = cf.backend.features.min_part_size
    ps = max(part_size or base.part_size, minimum)
    return StreamSettings(part_size=ps, parallel=parallel or base.parallel, threshold=max(base.threshold, ps))


# --------------------------------------------------------------- verification
class _PartHasher:
    """md5 of each ``part_size`` piece of a byte stream, as S3 multipart ETags need."""

    def __init__(self, part_size: int):
        self.part_size = part_size
        self.digests: list[bytes] = []
        self._hash = hashlib.md5()
        self._fill = 0

    def update(self, data) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), self.part_size - self._fill)
            self._hash.update(view[:take])
            self._fill += take
            view = view[take:]
            if self._fill == self.part_size:
                self.digests.append(self._hash.digest())
                self._hash, self._fill = hashlib.md5(), 0

    def part_digests(self) -> list[bytes]:
        """Every part's digest, the unfinished last part included."""
        return self.digests + [self._hash.digest()] if self._fill else list(self.digests)


class _WholeObjectCheck:
    """Hashes the in-order byte stream and compares it with what the service said."""

    def __init__(self, stat: ObjectStat, part_size: int, key: str):
        sums = stat.checksums or integrity.Checksums()
        self.key = key
        self.sums = sums
        self.size = 0
        kind = etag_kind(sums.etag)
        self.md5 = hashlib.md5() if sums.md5 or kind.is_md5 else None
        self.crc = 0 if sums.crc32c else None
        self.etag_parts: Optional[int] = None
        self.part_hashers: list[_PartHasher] = []
        if not self.md5 and kind.is_multipart:
            self.etag_parts = kind.parts
            for ps in candidate_part_sizes(stat.size, kind.parts, sums.multipart_part_size)[:3]:
                self.part_hashers.append(_PartHasher(ps))

    def update(self, data: bytes) -> None:
        self.size += len(data)
        if self.md5 is not None:
            self.md5.update(data)
        if self.crc is not None:
            self.crc = integrity.crc32c_value(data, self.crc)
        for hasher in self.part_hashers:
            hasher.update(data)

    def verify(self) -> None:
        s, where = self.sums, f" for {self.key!r}"
        if s.size is not None and s.size != self.size:
            raise IntegrityError(f"size mismatch{where}: expected {s.size} bytes, got {self.size}")
        if self.crc is not None:
            got = self.crc.to_bytes(4, "big")
            import base64

            if base64.b64encode(got).decode() != s.crc32c:
                raise CRC32CIntegrityError(f"crc32c mismatch{where}")
        if self.md5 is not None:
            want = (s.md5 or s.etag or "").strip('"').lower()
            if self.md5.hexdigest() != want:
                raise MD5IntegrityError(f"md5 mismatch{where}: expected {want}, got {self.md5.hexdigest()}")
        if self.etag_parts and self.part_hashers:
            want = s.etag.strip('"')
            if any(multipart_etag_of(h.part_digests()) == want for h in self.part_hashers):
                return
            raise MD5IntegrityError(f"multipart ETag mismatch{where}: {want}")


# -------------------------------------------------------------------- reading
def _read_part_streamed(cf: "ObjectCore", key: str, start: int, end: int) -> bytearray:
    """Bytes ``[start, end)`` collected from a streamed ranged read into one
    buffer of the exact size (the answer is never held twice)."""
    buf = bytearray(end - start)
    view = memoryview(buf)
    pos = 0

    def sink(chunk) -> None:
        nonlocal pos
        n = len(chunk)
        if pos + n > len(buf):
            raise IntegrityError(f"part {start}-{end} of {key!r}: more than {end - start} bytes")
        view[pos:pos + n] = chunk
        pos += n

    try:
        n = cf.backend.read_range_to(key, start, end, sink)  # type: ignore[attr-defined]
    finally:
        view.release()
    if n is None:
        raise NotFoundError(f"{cf.abspath(key)} disappeared during a ranged read")
    if pos != end - start:
        raise IntegrityError(f"part {start}-{end} of {key!r}: expected {end - start} bytes, got {pos}")
    return buf


def _fetch_part(cf: "ObjectCore", key: str, start: int, end: int, sink=None) -> bytes:
    streamed = cf.backend.features.range_streaming

    def attempt() -> bytes:
        if streamed:
            return _read_part_streamed(cf, key, start, end)  # type: ignore[return-value]
        res = cf.backend.get(key, start, end)
        if res.content is None:
            raise NotFoundError(f"{cf.abspath(key)} disappeared during a ranged read")
        if len(res.content) != end - start:
            raise IntegrityError(
                f"part {start}-{end} of {key!r}: expected {end - start} bytes, got {len(res.content)}"
            )
        return res.content

    data = cf.call(attempt)
    if sink is not None:
        sink(start, data)  # runs in the fetching thread, in parallel with the others
    return data


def iter_parts(cf: "ObjectCore", key: str, stat: ObjectStat, settings: StreamSettings,
               start: int = 0, end: Optional[int] = None, verify: bool = True,
               sink=None) -> Iterator[bytes]:
    """Stored bytes of ``key`` in order, fetched ``settings.parallel`` parts at a time.

    ``sink(offset, data)``, if given, is called for each part in the thread that
    fetched it (e.g. to ``pwrite`` it into a file) before the part is handed out.

    With ``verify`` (and the whole object requested) the stream is checked
    against the object's checksums after its last byte; a mismatch raises
    :class:`IntegrityError` before the final part is handed out.
    """
    end = stat.size if end is None else min(end, stat.size)
    whole = start == 0 and end == stat.size
    check = _WholeObjectCheck(stat, settings.part_size, key) if (verify and whole) else None
    ranges = [(o, min(o + settings.part_size, end)) for o in range(start, end, settings.part_size)]
    if not ranges:
        if check:
            check.verify()
        return
    if len(ranges) == 1 or settings.parallel <= 1:
        for i, (a, b) in enumerate(ranges):
            data = _fetch_part(cf, key, a, b, sink)
            if check:
                check.update(data)
                if i == len(ranges) - 1:
                    check.verify()
            yield data
        return

    pool = cf.runner.local().executor(min(settings.parallel, len(ranges)))
    window: deque[Future] = deque()
    pending = iter(ranges)
    try:
        for a, b in pending:
            window.append(pool.submit(_fetch_part, cf, key, a, b, sink))
            if len(window) >= settings.parallel:
                break
        idx = 0
        while window:
            data = window.popleft().result()
            nxt = next(pending, None)
            if nxt is not None:
                window.append(pool.submit(_fetch_part, cf, key, *nxt, sink))
            if check:
                check.update(data)
                if idx == len(ranges) - 1:
                    check.verify()
            idx += 1
            yield data
    finally:
        for f in window:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def stat_or_raise(cf: "ObjectCore", key: str) -> ObjectStat:
    st = cf.call(cf.backend.stat, key)
    if st is None:
        raise NotFoundError(f"{cf.abspath(key)} does not exist")
    return st


def stream(cf: "ObjectCore", key: str, raw: bool = False, part_size: Optional[int] = None,
           parallel: Optional[int] = None, stat: Optional[ObjectStat] = None) -> Iterator[bytes]:
    """Chunks of ``key`` (decoded unless ``raw``), fetched in parallel parts, verified.

    ``stat`` saves a metadata request when the caller already has one.
    """
    cf = core_of(cf)  # a CloudFiles stands for its core
    settings = settings_for(cf, part_size, parallel)
    st = stat or stat_or_raise(cf, key)
    enc = compression.normalize_content_encoding(st.encoding)
    parts = iter_parts(cf, key, st, settings)
    if raw or enc is None:
        for part in parts:
            yield bytes(part) if isinstance(part, bytearray) else part
        return
    if not compression.is_supported(enc):
        raise compression.unsupported_error(enc, key)
    # Bounded per stored part (docs/security.md): any size streams, a bomb fails fast.
    yield from compression.decode_chunks(parts, enc, key, cf.max_decompressed_size)


class Reader(io.RawIOBase):
    """A read-only file object over a stored object (decoded unless ``raw``)."""

    def __init__(self, cf: "ObjectCore", key: str, raw: bool = False, part_size: Optional[int] = None,
                 parallel: Optional[int] = None):
        super().__init__()
        cf = core_of(cf)  # a CloudFiles stands for its core
        self._chunks = stream(cf, key, raw=raw, part_size=part_size, parallel=parallel)
        self._buf = b""
        self._pos = 0
        self.name = cf.abspath(key)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._chunks.close()
        super().close()


def _pwrite_all(fd: int, data, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _needs_ordered_hash(st: ObjectStat) -> bool:
    """True when verifying the object means hashing its bytes in order."""
    sums = st.checksums
    if sums is None:
        return False
    return bool(sums.md5 or sums.crc32c or etag_kind(sums.etag).verifiable)


def _download_into_fd(cf: "ObjectCore", key: str, st: ObjectStat, settings: StreamSettings, fd: int) -> None:
    """Parallel ranged reads straight into per-thread buffers, each written in
    place: for objects whose only check is their size (plain web servers)."""
    local = threading.local()
    reader = cf.backend.read_range_into  # type: ignore[attr-defined]

    def one(rng: tuple[int, int]) -> None:
        a, b = rng

        def attempt() -> None:
            buf = getattr(local, "buf", None)
            if buf is None:
                buf = local.buf = bytearray(settings.part_size)
            view = memoryview(buf)[: b - a]
            n = reader(key, a, view)
            if n is None:  # an unusual answer: the general path copes with it
                _pwrite_all(fd, _fetch_part(cf, key, a, b), a)
                return
            if n != b - a:
                raise IntegrityError(f"part {a}-{b} of {key!r}: expected {b - a} bytes, got {n}")
            _pwrite_all(fd, view, a)

        cf.call(attempt)

    ranges = [(o, min(o + settings.part_size, st.size)) for o in range(0, st.size, settings.part_size)]
    if not ranges:
        return
    with cf.runner.local().executor(min(settings.parallel, len(ranges))) as pool:
        for _ in pool.map(one, ranges):
            pass


def _slice_plan(cf: "ObjectCore", st: ObjectStat, settings: StreamSettings) -> Optional[tuple[int, int]]:
    """``(part size, parts per slice)`` when ``key`` can be read as a few large
    contiguous slices, one streamed request each; None otherwise.

    Needs a backend that streams ranges (``read_range_to``) and checksums that
    can be verified per slice: none beyond the size, or an S3 multipart ETag
    whose part size is recorded (the slices then split on part boundaries and
    each hashes its own parts).
    """
    if not cf.backend.features.range_streaming or st.size <= settings.part_size:
        return None
    sums = st.checksums
    align = settings.part_size
    kind = etag_kind(sums.etag if sums else None)
    if sums is not None and (sums.md5 or sums.crc32c or kind.is_md5):
        return None
    if kind.is_multipart:
        if not sums.multipart_part_size:
            return None
        align = sums.multipart_part_size
    parts = -(-st.size // align)
    return align, -(-parts // min(settings.parallel, parts))


def _download_slices(cf: "ObjectCore", key: str, st: ObjectStat, plan: tuple[int, int], fd: int) -> None:
    """Read ``key`` as contiguous slices in parallel, each one streamed request
    written in place chunk by chunk (memory: a chunk per thread), hashing each
    part of ``align`` bytes for the multipart ETag check."""
    align, per_slice = plan
    sums = st.checksums
    etag = (sums.etag or "").strip('"') if sums else ""
    multipart = etag_kind(etag).is_multipart
    size = st.size
    starts = list(range(0, size, align * per_slice))

    def one(a: int) -> list[bytes]:
        b = min(a + align * per_slice, size)

        def attempt() -> list[bytes]:
            hasher = _PartHasher(align) if multipart else None
            pos = [a]

            def sink(chunk: bytes) -> None:
                _pwrite_all(fd, chunk, pos[0])
                pos[0] += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)

            n = cf.backend.read_range_to(key, a, b, sink)  # type: ignore[attr-defined]
            if n is None:
                raise NotFoundError(f"{cf.abspath(key)} disappeared during a ranged read")
            if pos[0] != b or n != b - a:
                raise IntegrityError(f"slice {a}-{b} of {key!r}: got {pos[0] - a} of {b - a} bytes")
            return hasher.part_digests() if hasher is not None else []

        return cf.call(attempt)

    with cf.runner.local().executor(len(starts)) as pool:
        digests = [d for part in pool.map(one, starts) for d in part]
    if multipart:
        got = multipart_etag_of(digests)
        if got != etag:
            raise MD5IntegrityError(f"multipart ETag mismatch for {key!r}: expected {etag}, got {got}")


def fill_fd(cf: "ObjectCore", key: str, st: ObjectStat, settings: StreamSettings, fd: int) -> None:
    """Write the stored bytes of ``key`` into ``fd`` at their offsets, in parallel
    parts, verified against the object's checksums; memory about
    ``parallel * part_size`` whatever the object's size."""
    slices = _slice_plan(cf, st, settings)
    if slices is not None:
        _download_slices(cf, key, st, slices, fd)
    elif _needs_ordered_hash(st) or not cf.backend.features.range_into:
        def sink(offset: int, data: bytes) -> None:
            _pwrite_all(fd, data, offset)

        for _part in iter_parts(cf, key, st, settings, sink=sink):
            pass
    else:
        _download_into_fd(cf, key, st, settings, fd)


def download_to_file(cf: "ObjectCore", key: str, local_path: str, raw: bool = False,
                     part_size: Optional[int] = None, parallel: Optional[int] = None,
                     attempts: int = 3, resume: bool = True) -> int:
    """Download ``key`` into ``local_path`` atomically; returns the bytes written.

    Parts land in a temporary file beside the destination, which is renamed
    into place only after the whole-object check passed. With ``resume``, an
    object of more than one part whose stored bytes are the output goes
    through a resumable partial file (:mod:`cloudfiles.resume`).
    """
    from . import budget

    cf = core_of(cf)  # a CloudFiles stands for its core
    settings = settings_for(cf, part_size, parallel)
    with budget.for_stream(settings.part_size, settings.parallel) as granted:  # shared with other transfers
        return _download_to_file(cf, key, local_path, raw, replace(settings, parallel=granted), attempts, resume)


def _download_to_file(cf: "ObjectCore", key: str, local_path: str, raw: bool, settings: StreamSettings,
                      attempts: int, resume: bool) -> int:
    directory = os.path.dirname(os.path.abspath(local_path))
    os.makedirs(directory, exist_ok=True)
    last_err: Optional[BaseException] = None
    first: Optional[ObjectStat] = stat_or_raise(cf, key)
    if resume and first.size > settings.part_size:
        from . import resume as _resume

        # Decoding too keeps a resumable partial of the stored bytes and decodes it once verified.
        return _resume.download(cf, key, local_path, settings, _resume.install_at(local_path), attempts, first,
                                decode=not raw)
    for _ in range(attempts):
        tmp = f"{local_path}.cftmp-{uuid.uuid4().hex[:12]}"
        try:
            st, first = first or stat_or_raise(cf, key), None
            enc = compression.normalize_content_encoding(st.encoding)
            if raw or enc is None:
                # Stored bytes are the output: parts are written in place, in parallel.
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                try:
                    fill_fd(cf, key, st, settings, fd)
                finally:
                    os.close(fd)
                written = st.size
            else:
                written = 0
                with open(tmp, "wb") as f:
                    for chunk in stream(cf, key, raw=raw, part_size=settings.part_size,
                                        parallel=settings.parallel, stat=st):
                        f.write(chunk)
                        written += len(chunk)
            os.replace(tmp, local_path)
            return written
        except IntegrityError as err:
            last_err = err
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    assert last_err is not None
    raise last_err


# -------------------------------------------------------------------- writing
class Writer(io.RawIOBase):
    """A write-only file object that uploads in parallel parts as it fills.

    ``compress`` encodes on the fly. Nothing is visible until ``close()``
    succeeds; an exception inside a ``with`` block aborts the upload.
    """

    def __init__(self, cf: "ObjectCore", key: str, compress=None, compression_level: Optional[int] = None,
                 content_type: Optional[str] = None, cache_control: Optional[str] = None,
                 storage_class: Optional[str] = None, part_size: Optional[int] = None,
                 parallel: Optional[int] = None, stored_as: Optional[str] = None):
        super().__init__()
        cf = core_of(cf)  # a CloudFiles stands for its core
        if not cf.backend.features.writable:
            raise UnsupportedOperationError(f"{cf.protocol}:// is read-only: cannot write {cf.abspath(key)}")
        self._cf = cf
        self._key = cf.key(key)
        self._mp = multipart_uploader(cf.backend)  # native parts, or the buffered fallback
        self._settings = settings_for(cf, part_size, parallel)
        if stored_as is not None:  # the bytes written are already encoded: label them, do not encode
            self._encoding = compression.normalize_content_encoding(stored_as)
            self._codec = compression.StreamCodec(None, path=key)
        else:
            self._encoding = compression.normalize_encoding(compress)
            self._codec = compression.StreamCodec(self._encoding, level=compression_level, path=key)
        self._meta = dict(encoding=self._encoding, content_type=content_type or "application/octet-stream",
                          cache_control=cache_control, storage_class=storage_class)
        self._buf = bytearray()
        self._upload = None
        self._pool = None
        self._slots = threading.BoundedSemaphore(self._settings.parallel)
        self._futures: list[Future] = []
        self._next_part = 1
        self._offset = 0
        self._failed: Optional[BaseException] = None
        self.bytes_written = 0  # stored (encoded) bytes
        self.name = cf.abspath(key)

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if self.closed:
            raise ValueError("write to a closed cloudfiles Writer")
        if isinstance(b, str):
            raise InvalidInputError("a cloudfiles writer ('wb') takes bytes, not str; encode the text first")
        n = len(b)
        data = self._codec.process(b if isinstance(b, (bytes, bytearray)) else bytes(b))
        ps = self._settings.part_size
        if not self._buf and len(data) >= ps:
            # Whole parts straight from the caller's bytes: no copy into the buffer.
            if len(data) == ps:
                self._send(data)
                return n
            view = memoryview(data)
            while len(view) >= ps:
                self._send(bytes(view[:ps]))  # one part-sized copy at a time
                view = view[ps:]
            self._buf += view
            return n
        self._buf += data
        while len(self._buf) >= ps:
            part = bytes(self._buf[:ps])
            del self._buf[:ps]
            self._send(part)
        return n

    def _send(self, part: bytes) -> None:
        if self._failed:
            raise self._failed
        cf = self._cf
        if self._upload is None:
            self._upload = cf.call(self._mp.multipart_begin, self._key, part_size=self._settings.part_size,
                                    **self._meta)
            self._pool = cf.runner.local().executor(self._settings.parallel)
        number, offset = self._next_part, self._offset
        self._next_part += 1
        self._offset += len(part)
        self.bytes_written += len(part)
        self._slots.acquire()  # bounds memory: at most `parallel` parts in flight
        caps = cf.backend.features

        def upload() -> PartInfo:
            try:
                md5 = integrity.md5_base64(part) if caps.wants_md5 else None
                crc = integrity.crc32c_base64(part) if caps.wants_crc32c else None
                return cf.call(self._mp.multipart_put_part, self._upload, number, part, offset,
                                md5=md5, crc32c=crc)
            except BaseException as err:
                self._failed = err
                raise
            finally:
                self._slots.release()

        assert self._pool is not None
        self._futures.append(self._pool.submit(upload))

    def close(self) -> None:
        if self.closed:
            return
        try:
            tail = bytes(self._buf) + self._codec.flush()
            self._buf = bytearray()
            if self._upload is None:
                self.bytes_written = len(tail)
                req = {"path": self._key, "content": tail, "compress": self._encoding, "raw": True,
                       "content_type": self._meta["content_type"], "cache_control": self._meta["cache_control"],
                       "storage_class": self._meta["storage_class"]}
                self._cf.write(req)
            else:
                # The codec's flush can add more than a part (zstd holds back up to its window):
                # cut it as every other part, so the part size recorded for the ETag holds for all.
                ps = self._settings.part_size
                view = memoryview(tail)
                while len(view) > ps:
                    self._send(bytes(view[:ps]))
                    view = view[ps:]
                if view:
                    self._send(bytes(view))
                parts = [f.result() for f in self._futures]
                self._cf.call(self._mp.multipart_complete, self._upload, parts)
                self._upload = None
        except BaseException:
            self.abort()
            raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            super().close()

    def abort(self) -> None:
        """Discard everything sent so far; no object is created."""
        if self._upload is not None:
            for f in self._futures:
                f.cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            try:
                self._mp.multipart_abort(self._upload)
            finally:
                self._upload = None
        if not self.closed:
            super().close()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


def upload_stream(cf: "ObjectCore", key: str, source: Union[BinaryIO, Iterable[bytes]], **kwargs) -> int:
    """Upload from a binary file object or an iterable of bytes; returns stored bytes."""
    cf = core_of(cf)  # a CloudFiles stands for its core
    w = Writer(cf, key, **kwargs)
    ps = w._settings.part_size
    try:
        if hasattr(source, "readinto") or hasattr(source, "read"):
            while True:
                chunk = source.read(ps)  # type: ignore[union-attr]
                if not chunk:
                    break
                w.write(chunk)
        else:
            for chunk in source:
                if not isinstance(chunk, (bytes, bytearray, memoryview)):
                    raise InvalidInputError(f"an upload iterable must yield bytes, got {type(chunk).__name__}")
                w.write(chunk)
    except BaseException:
        w.abort()
        raise
    w.close()
    return w.bytes_written


def upload_file(cf: "ObjectCore", local_path: str, key: str, **kwargs) -> int:
    """Upload a local file in parallel parts without reading it whole (its parts
    in flight come out of the process's byte budget, cloudfiles/budget.py)."""
    from . import budget

    cf = core_of(cf)  # a CloudFiles stands for its core
    settings = settings_for(cf, kwargs.get("part_size"), kwargs.get("parallel"))
    with budget.for_stream(settings.part_size, settings.parallel) as granted, open(local_path, "rb") as f:
        return upload_stream(cf, key, f, **dict(kwargs, parallel=granted))


def copy_large(src: "ObjectCore", key: str, dest: "ObjectCore", dest_key: str, stat: ObjectStat,
               part_size: Optional[int] = None, parallel: Optional[int] = None,
               content_type: Optional[str] = None, attempts: int = 3) -> int:
    """Copy one large object between any two backends with its stored encoding;
    returns the stored bytes written. Memory stays near ``(parallel + 2) *
    part_size`` whatever the object's size.

    - into ``file://``: parallel ranged reads written in place into the
      destination's temporary file (as :func:`download_to_file` does), verified,
      then renamed into place;
    - from a local source: read in order, one part at a time (a disk read is
      not worth a thread), into a parallel multipart write;
    - otherwise: parallel ranged reads flowing in order into a parallel
      multipart write.
    """
    settings = settings_for(dest, part_size, parallel)
    encoding = compression.normalize_content_encoding(stat.encoding)
    if _fetched_into_file(src, dest):
        return _copy_into_file_backend(src, key, dest, dest_key, stat, settings, encoding, attempts)
    # Reads and writes share the parts budget: about ``parallel + 2`` parts alive.
    if src.backend.features.local:
        readers, writers = 1, settings.parallel
    else:
        readers = max(1, settings.parallel // 2)
        writers = max(1, settings.parallel - readers)
    read_settings = StreamSettings(settings.part_size, readers, settings.threshold)
    last_err: Optional[BaseException] = None
    for _ in range(attempts):
        w = Writer(dest, dest_key, content_type=content_type, part_size=settings.part_size, parallel=writers,
                   stored_as=encoding)
        try:
            for part in iter_parts(src, key, stat, read_settings):
                w.write(part)
        except IntegrityError as err:
            w.abort()
            last_err = err
            stat = stat_or_raise(src, key)
            encoding = compression.normalize_content_encoding(stat.encoding)
            continue
        except BaseException:
            w.abort()
            raise
        w.close()
        return w.bytes_written
    assert last_err is not None
    raise last_err


def _fetched_into_file(src: "ObjectCore", dest: "ObjectCore") -> bool:
    """A remote source copied into a file:// destination: ranged reads land in the
    destination's resumable partial (:mod:`cloudfiles.resume`) rather than a multipart write."""
    from .backends.file import FileBackend

    return isinstance(dest.backend, FileBackend) and dest.backend.features.multipart \
        and not src.backend.features.local


def _copy_into_file_backend(src: "ObjectCore", key: str, dest: "ObjectCore", dest_key: str, stat: ObjectStat,
                            settings: StreamSettings, encoding: Optional[str], attempts: int) -> int:
    """Stored bytes of ``key`` written in place into a file:// destination's
    temporary file (its multipart upload), which is renamed into place only
    after the whole-object check passed."""
    if stat.size > settings.part_size:  # resumable (dest is file://)
        from . import resume

        final, installer = dest.backend.resumable_target(dest_key, encoding)
        return resume.download(src, key, final, settings, installer, attempts, stat)
    last_err: Optional[BaseException] = None
    for _ in range(attempts):
        upload = dest.call(dest.backend.multipart_begin, dest_key,
                            encoding=encoding)
        try:
            fill_fd(src, key, stat, settings, upload.fd)
        except IntegrityError as err:
            dest.backend.multipart_abort(upload)
            last_err = err
            stat = stat_or_raise(src, key)
            encoding = compression.normalize_content_encoding(stat.encoding)
            continue
        except BaseException:
            dest.backend.multipart_abort(upload)
            raise
        dest.backend.multipart_complete(upload, [])
        return stat.size
    assert last_err is not None
    raise last_err


def reencode_large(src: "ObjectCore", key: str, dest: "ObjectCore", dest_key: str, stat: ObjectStat,
                   target: Optional[str], content_type: Optional[str] = None,
                   parallel: Optional[int] = None) -> int:
    """Copy one large object stored as ``target`` (None: decompressed): decoded
    in parallel parts, re-encoded on the fly into a parallel multipart write;
    returns the stored bytes written. ``parallel`` parts in flight in all.

    Decoding from a remote source into ``file://`` goes through a resumable
    partial of the stored bytes, decoded once verified (:mod:`cloudfiles.resume`);
    then the decoded bytes written are returned."""
    if target is None and _fetched_into_file(src, dest):
        settings = settings_for(dest, None, parallel)
        if stat.size > settings.part_size:
            from . import resume

            final, installer = dest.backend.resumable_target(dest_key, None)
            return resume.download(src, key, final, settings, installer, stat=stat, decode=True)
    readers = writers = None
    if parallel is not None:
        readers, writers = max(1, parallel // 2), max(1, parallel - parallel // 2)
    return upload_stream(dest, dest_key, stream(src, key, stat=stat, parallel=readers), compress=target,
                         content_type=content_type, parallel=writers)


def put_in_parts(cf: "ObjectCore", key: str, stored, encoding: Optional[str], content_type: Optional[str],
                 cache_control: Optional[str] = None, storage_class: Optional[str] = None) -> None:
    """Upload bytes already in memory (stored form, labelled ``encoding``) as a
    parallel multipart upload (S3) or composite upload (GCS): ``put`` of an
    object above ``composite_upload_threshold``."""
    w = Writer(cf, key, content_type=content_type, cache_control=cache_control, storage_class=storage_class,
               stored_as=encoding)
    try:
        w.write(stored)
    except BaseException:
        w.abort()
        raise
    w.close()
