"""Dataset versions as an fsspec filesystem: ``cfds://NAME@REF/PARTITION/PATH``.

``REF`` is a version id (or a unique prefix of one), a tag, or ``latest`` (also
what ``NAME`` alone means). Reads go straight to the remote, without pulling:
the manifest names the stored object of each file, and bytes are read from it
(ranged where asked). Every file is checked against the sha256 its manifest
records before any of its bytes are handed out: a whole read is hashed as it
arrives; the first ranged read of a file streams it through the hash once per
filesystem (bounded memory), so a corrupted stored object is never read in
part. Listings (``ls``, ``info``, ``find``, ``glob``) come from the manifest.

Storage options: ``remote`` and ``home`` as for :class:`Datasets` (defaults
from the dataset configuration), and CloudFiles keywords (``secrets``,
``endpoint``, ...) for the remote. The protocol is registered through fsspec's
entry points, so ``pd.read_parquet("cfds://flowers@v1/train/x.parquet")``
works without importing cloudfiles first.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import threading
from typing import Any, Optional

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from fsspec.transaction import Transaction

from ..cloudfiles import CloudFiles
from .errors import DatasetError, DatasetIntegrityError
from .layout import check_name, split_ref
from .store import Datasets

_FSSPEC_OPTIONS = frozenset({"asynchronous", "loop", "skip_instance_cache", "use_listings_cache",
                             "listings_expiry_time", "max_paths"})


class VersionTransaction(Transaction):
    """``with fs.transaction:`` — every file written inside becomes part of one new
    version, published when the block ends without an exception (see
    :func:`cloudfiles.datasets.commit.publish`); a block that raises publishes nothing."""

    def __init__(self, fs: "DatasetFileSystem", message: Optional[str] = None):
        super().__init__(fs)
        self.message = message
        self.target: Optional[tuple[str, str, dict]] = None   # (name, ref, parent manifest)
        self.published: Optional[dict] = None
        self.active = False  # between start() and complete(): writes are staged here
        self._staging: Optional[str] = None  # made by the first write

    def stage_path(self) -> str:
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="cfds-txn-")
        fd, path = tempfile.mkstemp(dir=self._staging)
        os.close(fd)
        return path

    def start(self) -> None:
        super().start()
        self.active = True
        self.fs.invalidate_cache()  # the parent is what REF names now, not when first read

    def complete(self, commit: bool = True) -> None:
        from . import commit as _commit
        from .store import _now

        staged = list(self.files)
        self.files.clear()
        try:
            if commit and staged and self.target is not None:
                name, ref, parent = self.target
                tags = self.fs.store.tags(name)
                branch = ref if ref in tags and ref != "latest" else None
                self.published = _commit.publish(
                    self.fs.store, name, parent, [f.staged for f in staged], self.message, _now(),
                    branch=branch, guard_latest=ref == "latest")
                self.fs.invalidate_cache()
        finally:
            self.active = False
            if self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
                self._staging = None
            super().complete(commit)  # no files left: fsspec only ends its transaction


class DatasetFileSystem(AbstractFileSystem):
    """fsspec view of pushed dataset versions (``cfds://``): reads anywhere,
    writes inside ``with fs.transaction:`` that publish one new version."""

    protocol = ("cfds",)
    root_marker = ""
    transaction_type = VersionTransaction

    def _open_staged(self, path: str) -> "_StagedFile":
        """A staged write of the open transaction (one dataset ref per transaction)."""
        txn = self.transaction  # fsspec's: this filesystem's transaction, made on first use
        if not (isinstance(txn, VersionTransaction) and txn.active):
            raise DatasetError("cfds:// versions are immutable: write inside `with fs.transaction:`, "
                               "which publishes the writes as one new version")
        stripped = self._strip_protocol(path)
        name, ref, inner, manifest = self._parse(stripped)
        if inner == "data" or not inner.startswith("data/"):
            raise DatasetError(f"cfds://{stripped}: write to NAME@REF/PARTITION/PATH")
        if txn.target is None:
            txn.target = (name, ref, manifest)
        elif txn.target[:2] != (name, ref):
            raise DatasetError(f"one transaction writes one dataset ref: {txn.target[0]}@{txn.target[1]}, "
                               f"not {name}@{ref}")
        return _StagedFile(inner, txn.stage_path())

    def version_transaction(self, message: Optional[str] = None) -> VersionTransaction:
        """A transaction whose version records ``message``: ``with fs.version_transaction("fix labels"):``."""
        txn = self.transaction
        txn.message = message
        return txn

    def start_transaction(self) -> VersionTransaction:
        """Begin a version transaction without a ``with`` block; ``end_transaction()`` publishes it."""
        txn = self.transaction
        txn.start()
        return txn

    def __init__(self, remote: Optional[str] = None, home: Optional[str] = None, **options: Any):
        fs_options = {k: options.pop(k) for k in list(options) if k in _FSSPEC_OPTIONS}
        super().__init__(**fs_options)
        self.store = Datasets(remote=remote, home=home, **options)
        self._lock = threading.Lock()
        self._manifests: dict[tuple[str, str], dict] = {}   # (name, ref) -> manifest
        self._verified: set[tuple[str, str]] = set()        # (stored key, sha256) checked here
        self._remotes: dict[str, CloudFiles] = {}

    # ----------------------------------------------------------- paths
    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("cfds://"):
            path = path[len("cfds://"):]
        return path.strip("/")

    def unstrip_protocol(self, name: str) -> str:
        return "cfds://" + self._strip_protocol(name)

    def _parse(self, path: str) -> tuple[str, str, str, dict]:
        """``(name, ref, dataset path, manifest)`` of a cfds path."""
        path = self._strip_protocol(path)
        head, _, rest = path.partition("/")
        if not head:
            raise DatasetError("cfds:// paths start with a dataset name: cfds://NAME[@REF]/PARTITION/PATH")
        name, ref = split_ref(head)
        ref = ref or "latest"
        manifest = self._manifest(name, ref)
        inner = "data/" + rest if rest else "data"
        return name, ref, inner, manifest

    def _manifest(self, name: str, ref: str) -> dict:
        with self._lock:
            got = self._manifests.get((name, ref))
        if got is None:
            got = self.store.resolve(name, None if ref == "latest" else ref)
            with self._lock:
                self._manifests[(name, ref)] = got
        return got

    def invalidate_cache(self, path=None) -> None:
        """Forget resolved refs (a tag may have moved); versions themselves never change."""
        with self._lock:
            self._manifests.clear()
        super().invalidate_cache(path)

    def _remote(self, name: str) -> CloudFiles:
        check_name(name)
        with self._lock:
            cf = self._remotes.get(name)
            if cf is None:
                cf = self._remotes[name] = self.store._rcf(name, read=True)
        return cf

    def _entry(self, path: str) -> tuple[str, dict]:
        name, ref, inner, manifest = self._parse(path)
        for e in manifest["files"]:
            if e["path"] == inner:
                return name, e
        raise FileNotFoundError(f"cfds://{self._strip_protocol(path)}: no such file in {name}@{manifest['version']}")

    # ---------------------------------------------------------- listing
    @staticmethod
    def _out_name(name_ref: str, inner: str) -> str:
        return f"{name_ref}/{inner[len('data/'):]}"

    def ls(self, path, detail: bool = True, **kwargs):
        stripped = self._strip_protocol(path)
        name_ref = stripped.partition("/")[0]
        _, _, inner, manifest = self._parse(stripped)
        prefix = inner.rstrip("/") + "/"
        files, dirs = {}, set()
        for e in manifest["files"]:
            p = e["path"]
            if p == inner:
                return [self._file_info(name_ref, e)] if detail else [self._out_name(name_ref, p)]
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            if "/" in rest:
                dirs.add(prefix + rest.split("/", 1)[0])
            else:
                files[p] = e
        if not files and not dirs:
            if inner == "data":
                return []
            raise FileNotFoundError(f"cfds://{stripped}")
        out = [{"name": self._out_name(name_ref, d), "size": 0, "type": "directory"} for d in sorted(dirs)]
        out += [self._file_info(name_ref, e) for _, e in sorted(files.items())]
        return out if detail else [o["name"] for o in out]

    def _file_info(self, name_ref: str, e: dict) -> dict:
        return {"name": f"{name_ref}/{e['path'][len('data/'):]}", "size": e["size"], "type": "file",
                "sha256": e["sha256"]}

    def info(self, path, **kwargs) -> dict:
        stripped = self._strip_protocol(path)
        name_ref = stripped.partition("/")[0]
        _, _, inner, manifest = self._parse(stripped)
        for e in manifest["files"]:
            if e["path"] == inner:
                return self._file_info(name_ref, e)
        if inner == "data" or any(e["path"].startswith(inner + "/") for e in manifest["files"]):
            return {"name": stripped, "size": 0, "type": "directory"}
        raise FileNotFoundError(f"cfds://{stripped}")

    def find(self, path, maxdepth=None, withdirs=False, detail=False, **kwargs):
        if maxdepth is not None or withdirs:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        stripped = self._strip_protocol(path)
        name_ref = stripped.partition("/")[0]
        _, _, inner, manifest = self._parse(stripped)
        out = {}
        for e in manifest["files"]:
            if e["path"] == inner or e["path"].startswith(inner.rstrip("/") + "/"):
                if e["path"].startswith("data/"):
                    info = self._file_info(name_ref, e)
                    out[info["name"]] = info
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    # ------------------------------------------------------------ reads
    def _verify_whole(self, name: str, e: dict) -> None:
        """Stream the stored object through sha256 once; refuse it if it differs."""
        key = (e["key"], e["sha256"])
        with self._lock:
            if key in self._verified:
                return
        cf = self._remote(name)
        h, n = hashlib.sha256(), 0
        for chunk in cf.stream(e["key"]):
            h.update(chunk)
            n += len(chunk)
        self._check(name, e, h.hexdigest(), n)

    def _check(self, name: str, e: dict, sha: str, size: int) -> None:
        if sha != e["sha256"] or size != e["size"]:
            raise DatasetIntegrityError(
                f"{name}: stored object for {e['path']} does not match its manifest "
                f"(size {size}, expected {e['size']}; sha256 differs: {sha != e['sha256']}); not returned"
            )
        with self._lock:
            self._verified.add((e["key"], e["sha256"]))

    def cat_file(self, path, start: Optional[int] = None, end: Optional[int] = None, **kwargs) -> bytes:
        name, e = self._entry(path)
        cf = self._remote(name)
        size = e["size"]
        if start is None and end is None:
            data = cf.get(e["key"])
            if data is None:
                raise DatasetIntegrityError(f"{name}: the stored object of {e['path']} is missing")
            self._check(name, e, hashlib.sha256(data).hexdigest(), len(data))
            return data
        start = 0 if start is None else (max(start + size, 0) if start < 0 else start)
        end = size if end is None else (max(end + size, 0) if end < 0 else min(end, size))
        if end <= start:
            return b""
        self._verify_whole(name, e)
        data = cf.get({"path": e["key"], "start": start, "end": end})
        if data is None or len(data) != end - start:
            raise DatasetIntegrityError(f"{name}: short read of {e['path']} [{start}, {end})")
        return data

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        if mode == "wb":
            return self._open_staged(path)
        if mode != "rb":
            raise DatasetError(f"cfds:// files open with 'rb', or 'wb' inside a transaction, not {mode!r}")
        name, e = self._entry(path)
        return _VersionFile(self, path, mode, block_size=block_size or "default",
                            cache_options=cache_options, size=e["size"])


class _StagedFile(io.RawIOBase):
    """A write-only local temporary copy of one file of a transaction."""

    def __init__(self, inner: str, local: str):
        from .commit import Staged

        super().__init__()
        self.staged = Staged(inner, local)
        self._f = open(local, "wb")

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        return self._f.write(b)

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()

    def commit(self) -> None:
        """Published by the transaction as a whole."""

    def discard(self) -> None:
        """Removed with the transaction's staging directory."""


class _VersionFile(AbstractBufferedFile):
    """A buffered random-access reader over one file of a dataset version."""

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.cat_file(self.path, start=start, end=end)
