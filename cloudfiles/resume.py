"""Resumable downloads of large objects into local files.

``download`` fills a :class:`cloudfiles.partial.Partial` beside the
destination with the object's stored bytes, in parallel parts written in
place, recording each finished part (and its digest) in the partial's
journal. A rerun after a crash, a kill or Ctrl-C finds the journal, re-hashes
the recorded parts from disk and fetches only the others. The journal's first
line pins the object's identity (size, ETag, generation/VersionId,
Last-Modified, checksums, encoding): an object replaced between runs starts
over. Within a run every ranged read is pinned to that identity where the
service allows (S3 ``If-Match``, GCS ``ifGenerationMatch``, HTTP ``If-Match``
plus the answer's ETag/Last-Modified), so a change mid-download raises
:class:`~cloudfiles.exceptions.ObjectChangedError` and the download starts
over with the new object instead of splicing two.

The finished file is verified as every download is (size; md5, crc32c or the
S3 multipart ETag where the service gives one, hashed over the whole file
including the parts from disk) and only then renamed into place; a mismatch
discards the partial. Two ways through, chosen from what can be verified:

- *ordered*: the whole-object checksum needs the bytes in order (md5,
  crc32c, a multipart ETag without a recorded part size): parts are fetched
  ``parallel`` at a time, written by the fetching thread and hashed in order
  by the caller (recorded parts are read back from disk in their turn);
- *parts*: nothing but the size, or an S3 multipart ETag whose part size we
  recorded: each part is fetched, written, and hashed (md5 of each S3 part,
  else crc32c) by its thread alone, into one reused buffer per thread.

Memory stays about ``(parallel + 1) * part_size`` whatever the object's size.

A *decoded* download (``decode=True``: ``raw=False`` of an object stored
gzip/br/zstd/xz/bzip2) keeps the same partial of the stored bytes, so it
resumes exactly as a raw one. Only once those bytes are complete and verified
are they decoded, streamed one part at a time from the partial into
``.NAME.cftmp-part.decoded`` (held under the partial's lock), and that file is
renamed into place; the raw partial and its journal are removed only after
that. A crash or kill while decoding leaves the verified raw partial, so the
next run re-hashes it from disk, fetches nothing and only decodes.
"""
from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from typing import TYPE_CHECKING, Callable, Optional

from . import integrity
from .exceptions import (DecompressionBombError, DecompressionError, IntegrityError, MD5IntegrityError,
                         NotFoundError, ObjectChangedError)
from .partial import FORMAT, Partial

if TYPE_CHECKING:
    from .backends.base import ObjectStat
    from .objects import ObjectCore
    from .streaming import StreamSettings

Installer = Callable[[int, str], Optional[int]]
DECODED_SUFFIX = ".decoded"  # beside the partial: the decoded file being written


class _Doubt(Exception):
    """A recorded part does not hash to what the journal says: start over."""


# ------------------------------------------------------------------ planning
def _plan(st: "ObjectStat", settings: "StreamSettings") -> tuple[str, int, str]:
    """``(mode, part size, part digest)`` for ``st`` (see the module docstring)."""
    from .streaming import _needs_ordered_hash

    sums = st.checksums
    etag = (sums.etag or "").strip('"') if sums else ""
    multipart = "-" in etag and len(etag.partition("-")[0]) == 32
    if multipart and sums.multipart_part_size and not (sums.md5 or sums.crc32c):
        return "parts", sums.multipart_part_size, "md5"
    if _needs_ordered_hash(st):
        return "ordered", settings.part_size, "crc32c"
    return "parts", settings.part_size, "crc32c"


def identity_header(source: str, st: "ObjectStat", part_size: int, digest: str, mode: str) -> Optional[dict]:
    """The journal's first line for this object, or None when nothing but its
    size identifies the version (then a partial could splice two objects)."""
    from .compression import normalize_content_encoding

    sums = st.checksums
    etag = getattr(st, "etag", None) or (sums.etag if sums else None)
    version = getattr(st, "version", None)
    modified = getattr(st, "last_modified", None)
    md5 = sums.md5 if sums else None
    crc = sums.crc32c if sums else None
    if not (etag or version or md5 or crc):
        # Last-Modified alone has a one-second grain: too coarse to pin a version.
        return None
    return {
        "format": FORMAT, "source": source, "size": int(st.size), "mode": mode,
        "part_size": int(part_size), "digest": digest,
        "etag": None if etag is None else str(etag).strip('"'),
        "version": None if version is None else str(version),
        "last_modified": None if modified is None else modified.isoformat(),
        "md5": md5, "crc32c": crc,
        "encoding": normalize_content_encoding(st.encoding),
    }


# -------------------------------------------------------------- part access
def _digest(kind: str, data) -> str:
    if kind == "md5":
        return hashlib.md5(data).hexdigest()
    return f"{integrity.crc32c_value(data):08x}"


def _pread_into(fd: int, view: memoryview, offset: int) -> None:
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n <= 0:
            raise _Doubt(f"the partial file ends at {offset + got}")
        got += n


def _pwrite_all(fd: int, view, offset: int) -> None:
    view = memoryview(view)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _fetch_into(cf: "ObjectCore", key: str, start: int, view: memoryview, pin: "ObjectStat") -> None:
    """Stored bytes ``[start, start + len(view))`` of ``key`` into ``view``, pinned
    to ``pin`` where the backend can; retried by the object's policy."""
    backend = cf.backend
    want = len(view)
    end = start + want
    features = backend.features
    pinned = features.pinned_reads
    where = f"part {start}-{end} of {cf.abspath(key)!r}"

    def attempt() -> None:
        if features.range_into:
            n = backend.read_range_into(key, start, view, pin=pin) if pinned else \
                backend.read_range_into(key, start, view)
            if n is not None:
                if n != want:
                    raise IntegrityError(f"{where}: expected {want} bytes, got {n}")
                return
        elif features.range_streaming:
            pos = 0

            def sink(chunk) -> None:
                nonlocal pos
                k = len(chunk)
                if pos + k > want:
                    raise IntegrityError(f"{where}: more than {want} bytes")
                view[pos:pos + k] = chunk
                pos += k

            n = backend.read_range_to(key, start, end, sink, pin=pin) if pinned else \
                backend.read_range_to(key, start, end, sink)
            if n is None:
                raise NotFoundError(f"{cf.abspath(key)} disappeared during a ranged read")
            if pos != want:
                raise IntegrityError(f"{where}: expected {want} bytes, got {pos}")
            return
        res = backend.get(key, start, end)
        if res.content is None:
            raise NotFoundError(f"{cf.abspath(key)} disappeared during a ranged read")
        if len(res.content) != want:
            raise IntegrityError(f"{where}: expected {want} bytes, got {len(res.content)}")
        view[:] = res.content

    cf.call(attempt)


# ------------------------------------------------------------------- filling
class _PartDigest:
    """An incremental md5 or crc32c of one part."""

    __slots__ = ("kind", "md5", "crc")

    def __init__(self, kind: str):
        self.kind = kind
        self.md5 = hashlib.md5() if kind == "md5" else None
        self.crc = 0

    def update(self, data) -> None:
        if self.md5 is not None:
            self.md5.update(data)
        else:
            self.crc = integrity.crc32c_value(data, self.crc)

    def hexdigest(self) -> str:
        return self.md5.hexdigest() if self.md5 is not None else f"{self.crc:08x}"


def _slices(missing: list[int], parallel: int) -> list[tuple[int, int]]:
    """Cut the missing part indexes into at most about ``parallel`` contiguous
    ``[first, last)`` runs of similar length."""
    if not missing:
        return []
    per = -(-len(missing) // max(1, parallel))
    out: list[tuple[int, int]] = []
    first = prev = missing[0]
    for i in missing[1:] + [None]:  # type: ignore[list-item]
        if i is not None and i == prev + 1 and i - first < per:
            prev = i
            continue
        out.append((first, prev + 1))
        if i is not None:
            first = prev = i
    return out


def _fill_parts(cf: "ObjectCore", key: str, st: "ObjectStat", part_size: int, digest: str, parallel: int,
                partial: Partial) -> Callable[[], None]:
    """Recorded parts re-hashed from disk, then the missing ones fetched, each
    written and hashed on its own; returns the final check (the multipart ETag,
    when there is one). Backends that stream a range (S3, GCS) read each run of
    missing parts as one request, recording each part as it completes (fewer,
    longer requests: servers that re-read the object per request, as moto does,
    pay far less); others read part by part into one buffer per thread."""
    size = st.size
    count = -(-size // part_size)
    local = threading.local()
    fd = partial.fd
    digests: list[str] = [""] * count

    def buffer(n: int) -> memoryview:
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = bytearray(part_size)
        return memoryview(buf)[:n]

    def check(i: int) -> None:
        a = i * part_size
        view = buffer(min(part_size, size - a))
        _pread_into(fd, view, a)
        if _digest(digest, view) != partial.done[i]:
            raise _Doubt(f"part {i} of the partial file does not match its record")
        digests[i] = partial.done[i]

    def one(i: int) -> None:
        a = i * part_size
        view = buffer(min(part_size, size - a))
        _fetch_into(cf, key, a, view, st)
        _pwrite_all(fd, view, a)
        digests[i] = _digest(digest, view)
        partial.record(i, digests[i])

    def run(first: int, last: int) -> None:
        _stream_run(cf, key, st, part_size, digest, first, last, partial, digests)

    _run_pool(cf.runner, [(check, (i,)) for i in sorted(partial.done)], parallel)
    missing = [i for i in range(count) if i not in partial.done]
    if cf.backend.features.range_streaming:
        _run_pool(cf.runner, [(run, r) for r in _slices(missing, parallel)], parallel)
    else:
        _run_pool(cf.runner, [(one, (i,)) for i in missing], parallel)

    def verify() -> None:
        etag = ((st.checksums.etag if st.checksums else None) or "").strip('"')
        if digest == "md5" and "-" in etag:
            got = f"{hashlib.md5(b''.join(bytes.fromhex(d) for d in digests)).hexdigest()}-{len(digests)}"
            if got != etag:
                raise MD5IntegrityError(f"multipart ETag mismatch for {key!r}: expected {etag}, got {got}")

    return verify


def _stream_run(cf: "ObjectCore", key: str, st: "ObjectStat", part_size: int, digest: str, first: int,
                last: int, partial: Partial, digests: list[str]) -> None:
    """Parts ``[first, last)`` as one streamed ranged read, written in place chunk by
    chunk; each part is recorded the moment its last byte is written, and a retry
    continues from the first part not yet recorded."""
    size = st.size
    backend = cf.backend
    pinned = backend.features.pinned_reads
    fd = partial.fd
    state = {"next": first}

    def attempt() -> None:
        i = state["next"]
        if i >= last:
            return
        pos = i * part_size
        end = min(last * part_size, size)
        part_end = min(pos + part_size, size)
        h = _PartDigest(digest)

        def sink(chunk) -> None:
            nonlocal i, pos, part_end, h
            view = memoryview(chunk)
            while view:
                take = min(len(view), part_end - pos)
                if take <= 0:
                    raise IntegrityError(f"parts {first}-{last} of {cf.abspath(key)!r}: more bytes than asked for")
                piece = view[:take]
                _pwrite_all(fd, piece, pos)
                h.update(piece)
                pos += take
                view = view[take:]
                if pos == part_end:
                    digests[i] = h.hexdigest()
                    partial.record(i, digests[i])
                    i += 1
                    state["next"] = i
                    part_end = min(pos + part_size, size)
                    h = _PartDigest(digest)

        start = pos
        n = backend.read_range_to(key, start, end, sink, pin=st) if pinned else \
            backend.read_range_to(key, start, end, sink)
        if n is None:
            raise NotFoundError(f"{cf.abspath(key)} disappeared during a ranged read")
        if state["next"] != last:
            raise IntegrityError(f"parts {first}-{last} of {cf.abspath(key)!r}: the answer ended at byte {pos}")

    cf.call(attempt)


def _run_pool(runner, jobs: list, parallel: int) -> None:
    """Run ``(fn, args)`` jobs on up to ``parallel`` threads; the first failure is
    raised once the jobs already running have finished (queued ones are dropped)."""
    if not jobs:
        return
    if len(jobs) == 1:
        fn, args = jobs[0]
        fn(*args)
        return
    pool = runner.local().executor(max(1, min(parallel, len(jobs))))
    try:
        futures = [pool.submit(fn, *args) for fn, args in jobs]
        for fut in futures:
            fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _fill_ordered(cf: "ObjectCore", key: str, st: "ObjectStat", part_size: int, digest: str, parallel: int,
                  partial: Partial) -> Callable[[], None]:
    """Parts fetched ``parallel`` at a time and hashed in order by this thread;
    returns the whole-object check."""
    from .streaming import _WholeObjectCheck

    size = st.size
    count = -(-size // part_size)
    fd = partial.fd
    check = _WholeObjectCheck(st, part_size, key)

    def fetch(i: int) -> bytearray:
        a = i * part_size
        buf = bytearray(min(part_size, size - a))
        view = memoryview(buf)
        _fetch_into(cf, key, a, view, st)
        _pwrite_all(fd, view, a)
        partial.record(i, _digest(digest, view))
        return buf

    def from_disk(i: int) -> bytearray:
        a = i * part_size
        buf = bytearray(min(part_size, size - a))
        _pread_into(fd, memoryview(buf), a)
        if _digest(digest, buf) != partial.done[i]:
            raise _Doubt(f"part {i} of the partial file does not match its record")
        return buf

    pool = cf.runner.local().executor(max(1, min(parallel, count)))
    window: deque = deque()
    nxt = 0
    try:
        while nxt < count or window:
            while nxt < count and len(window) < parallel:
                window.append(None if nxt in partial.done else pool.submit(fetch, nxt))
                nxt += 1
            idx = nxt - len(window)
            item = window.popleft()
            check.update(from_disk(idx) if item is None else item.result())
    finally:
        for f in window:
            if f is not None:
                f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
    return check.verify


# ------------------------------------------------------------------- driving
def download(cf: "ObjectCore", key: str, final: str, settings: "StreamSettings", installer: Installer,
             attempts: int = 3, stat: Optional["ObjectStat"] = None, decode: bool = False) -> int:
    """Download the stored bytes of ``key`` into ``final`` through its partial
    (see the module docstring); ``installer(fd, tmp)`` renames the verified file
    into place and closes ``fd``. With ``decode``, the verified stored bytes are
    decoded (by the object's Content-Encoding) into the file that ``installer``
    puts in place. Returns the bytes written (decoded bytes when decoding)."""
    from . import compression
    from .streaming import stat_or_raise

    last_err: Optional[BaseException] = None
    source = cf.abspath(key)
    for attempt in range(attempts):
        st = stat if (attempt == 0 and stat is not None) else stat_or_raise(cf, key)
        enc = compression.normalize_content_encoding(st.encoding) if decode else None
        if enc is not None and not compression.is_supported(enc):
            raise compression.unsupported_error(enc, key)
        mode, part_size, digest = _plan(st, settings)
        header = identity_header(source, st, part_size, digest, mode)
        count = max(1, -(-st.size // part_size))
        partial = Partial.open(final, header, st.size, count)
        fill = _fill_ordered if mode == "ordered" else _fill_parts
        try:
            try:
                verify = fill(cf, key, st, part_size, digest, settings.parallel, partial)
            except _Doubt:
                partial.restart(st.size)  # a record that does not hold: trust none of them
                verify = fill(cf, key, st, part_size, digest, settings.parallel, partial)
        except ObjectChangedError as err:
            partial.discard()  # the parts on disk belong to the replaced object
            last_err = err
            continue
        except BaseException:
            partial.keep()  # interrupted or a part failed for good: recorded parts stay for the next run
            raise
        try:
            verify()
        except IntegrityError as err:
            partial.discard()  # the whole file is not the object: none of it is worth keeping
            last_err = err
            continue
        except BaseException:
            partial.keep()
            raise
        if enc is None:
            partial.install(installer)
            return st.size
        decoder = decoding(installer, enc, key, settings.part_size, cf.max_decompressed_size)
        try:
            written = partial.install(decoder)
        except DecompressionBombError:
            partial.keep()  # the stored bytes are the object's: the verified partial stays for a larger limit
            raise
        except DecompressionError as err:
            partial.discard()  # verified yet undecodable: a forged partial or a broken object; fetch again
            last_err = err
            continue
        except BaseException:
            partial.keep()  # a kill, Ctrl-C, a full disk: the verified partial stays, a rerun only decodes
            raise
        assert written is not None
        return written
    assert last_err is not None
    raise last_err


def decoding(installer: Installer, encoding: str, key: str, chunk: int,
             max_decompressed_size: Optional[int] = None) -> Installer:
    """An installer that decodes the finished partial (stored as ``encoding``) into
    ``PARTIAL.decoded``, hands that to ``installer``, and only then removes the
    partial; returns the decoded bytes. Memory: one stored ``chunk`` and one decoded
    piece at a time. On any failure the partial stays and the decoded file goes."""
    from . import compression
    from .partial import _CLOEXEC, _NOFOLLOW, _unlink

    def install(fd: int, tmp: str) -> int:
        out_path = tmp + DECODED_SUFFIX
        try:
            _unlink(out_path)  # a killed decode's leftover (never followed: unlink removes a link itself)
            out = os.open(out_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666)
            written = 0
            try:
                for piece in compression.decode_chunks(_read_chunks(fd, chunk), encoding, key,
                                                       max_decompressed_size):
                    _pwrite_all(out, piece, written)
                    written += len(piece)
            except BaseException:
                os.close(out)
                _unlink(out_path)
                raise
            try:
                installer(out, out_path)  # renames the decoded file into place and closes ``out``
            except BaseException:
                _unlink(out_path)
                raise
            _unlink(tmp)  # only now: the decoded file is in place
            return written
        finally:
            os.close(fd)

    return install


def _read_chunks(fd: int, chunk: int):
    """The file open as ``fd``, from its start, ``chunk`` bytes at a time."""
    offset = 0
    while True:
        data = os.pread(fd, chunk, offset)
        if not data:
            return
        offset += len(data)
        yield data


def install_at(final: str) -> Installer:
    """An installer renaming the finished partial onto the plain local path ``final``."""

    def install(fd: int, tmp: str) -> None:
        try:
            os.replace(tmp, final)
        finally:
            os.close(fd)

    return install
