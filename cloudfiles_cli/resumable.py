"""``cp --resumable``: downloads to local files that survive an interruption.

As cloud-files' ``--resumable``: each remote file is downloaded into
``NAME.part`` beside its destination and renamed to ``NAME`` once complete;
a rerun finds the ``.part`` and asks only for the bytes after its end (a
ranged read). Stored bytes are kept as they are (``NAME.gz`` for a gzip
object, as every copy to disk does). Where the source exposes an md5 of the
whole object, the finished file is checked against it before the rename, so a
source that changed between runs is downloaded again instead of spliced.

Other copies (to a cloud destination, from a local source, or re-encoding)
do not need it: every write there is already atomic, so they run as usual.
"""
from __future__ import annotations

import hashlib
import os
from typing import Callable, Optional

from cloudfiles import CloudFiles
from cloudfiles.backends.wire.etag import etag_kind
from cloudfiles.compression import SUFFIXES, normalize_content_encoding
from cloudfiles.exceptions import CloudFilesError, IntegrityError, TransferError

from .common import report_transfer_error

CHUNK = 8 * 1024 * 1024
PART_SUFFIX = ".part"


def applies(src: CloudFiles, dest: CloudFiles, reencode) -> bool:
    """True when ``--resumable`` changes anything: remote source, local destination, stored bytes kept."""
    return dest.protocol == "file" and not src.backend.features.local and reencode is None


def download(src: CloudFiles, key: str, dest: CloudFiles, dkey: str, chunk: int = CHUNK) -> Optional[int]:
    """Download ``key`` into ``dkey`` through ``dkey.part``; return the bytes fetched now
    (``None`` if the source is missing). A ``.part`` left by an earlier run is continued."""
    st = src.core.stat(src.core.key(key))
    if st is None:
        return None
    enc = normalize_content_encoding(st.encoding)
    path = dest.backend._path(dest.core.key(dkey))  # validated local path (cloudfiles.keys)
    final = path + (SUFFIXES[enc] if enc else "")
    part = final + PART_SUFFIX
    os.makedirs(os.path.dirname(part), exist_ok=True)
    have = os.path.getsize(part) if os.path.isfile(part) else 0
    if st.size is not None and have > st.size:
        have = 0  # longer than the object: not a prefix of it
    fetched = 0
    with open(part, "r+b" if have else "wb") as f:
        f.seek(have)
        f.truncate()
        if st.size is None:  # size unknown: one whole read
            have = 0
            f.seek(0)
            f.truncate()
        while st.size is None or have < st.size:
            end = None if st.size is None else min(have + chunk, st.size)
            res = src.core.fetch(src.core.key(key), have if end is not None else None, end)
            if res.content is None:
                raise FileNotFoundError(f"{src.abspath(key)} disappeared during the download")
            f.write(res.content)
            have += len(res.content)
            fetched += len(res.content)
            if st.size is None or not res.content:
                break
    _check_whole(part, st, src.abspath(key))
    os.replace(part, final)
    for other in SUFFIXES.values():
        if path + other != final and os.path.isfile(path + other):
            os.unlink(path + other)
    if final != path and os.path.isfile(path):
        os.unlink(path)
    return fetched


def _check_whole(part: str, st, where: str) -> None:
    """Compare a finished ``.part`` with the source's whole-object md5, when it has one."""
    md5 = (st.checksums.md5 if st.checksums else None) or ""
    etag = ((st.checksums.etag if st.checksums else None) or "").strip('"')
    if not md5 and etag_kind(etag).is_md5:
        md5 = etag
    got = os.path.getsize(part)
    if st.size is not None and got != st.size:
        os.unlink(part)
        raise IntegrityError(f"{where}: downloaded {got} bytes, the object has {st.size}; run the copy again")
    if not md5:
        return
    h = hashlib.md5()
    with open(part, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    if h.hexdigest() != md5.lower():
        os.unlink(part)
        raise IntegrityError(f"{where}: the finished download does not match the object's md5 "
                             "(it changed since the .part began?); run the copy again")


def run_resumable(command: str, jobs: list, block_size: int, src_options: dict, dest_options: dict,
                  reencode, fallback: Callable[[list], bool]) -> bool:
    """Run the jobs ``--resumable`` applies to through :func:`download`; hand the rest to ``fallback``."""
    ok = True
    others = []
    for job in jobs:
        src = CloudFiles(job.src, **src_options)
        dest = CloudFiles(job.dest, **dest_options)
        if not applies(src, dest, reencode):
            others.append(job)
            continue
        pairs = job.pairs if job.pairs is not None else [(k, k) for k in src.list() if not k.endswith("/")]
        errors: dict = {}

        def one(pair):
            key, dkey = (pair["path"], pair["dest_path"]) if isinstance(pair, dict) else pair  # sized (filters)
            try:
                if download(src, key, dest, dkey) is None:
                    return key, FileNotFoundError(f"{src.abspath(key)}: no such file")
            except (CloudFilesError, OSError) as err:
                return key, err
            return key, None

        with src.runner.local().executor(max(1, min(src.num_threads, block_size, len(pairs) or 1))) as pool:
            for key, err in pool.map(one, pairs):
                if err is not None:
                    errors[key] = err
        if errors:
            ok = False
            report_transfer_error(command, TransferError(f"{len(errors)} files failed", errors))
    if others:
        ok = fallback(others) and ok
    return ok
