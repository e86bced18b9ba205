"""The dataset store: a local directory of installed datasets and a remote
cloudpath of pushed versions, with push, pull, register, verify, tag and ls.

Remote layout under the remote root (see docs/datasets.md)::

    NAME/versions/<id>/data/train/x.json   files first stored by version <id>
    NAME/versions/<id>/meta.json ...       (ordinary paths: readable in place)
    NAME/manifests/<created>_<id>.json     a version exists once this is written
    NAME/tags/<tag>.json                   named tags, moved by conditional writes

Local layout under the store (``home``)::

    NAME -> .versions/NAME/<id>-<rand>      symlink swapped atomically on install
    .versions/NAME/<id>-<rand>/data/...     an installed dataset
    .staging/NAME@<id>/                     a pull in progress (resumable)
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from .. import paths as _paths
from ..cloudfiles import CloudFiles
from ..compression import normalize_encoding
from ..exceptions import CloudFilesError, PreconditionFailedError
from ..runner import schedule
from . import conditional, config as _config
from .errors import (
    DatasetError,
    DatasetExistsError,
    DatasetIntegrityError,
    DatasetNotFoundError,
    combined,
)
from .layout import (
    CHECKSUM,
    LOCAL_MANIFEST,
    LOCAL_RECORD,
    MANIFEST_FORMAT,
    LocalFile,
    check_id,
    check_manifest,
    check_name,
    content_hash,
    fingerprint,
    looks_like_id,
    partitions_of,
    read_meta,
    scan,
    sha256_file,
    split_ref,
)

LARGE = 32 * 1024 * 1024  # files at least this big are streamed instead of held in memory
FileCallback = Callable[[int, int, str], None]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


def _partition(rel: str) -> Optional[str]:
    parts = rel.split("/")
    return parts[1] if parts[0] == "data" and len(parts) > 2 else None


def _write_atomic(path: str, data: bytes) -> None:
    """Write ``path`` by rename, durably: the file and its directory are fsynced."""
    tmp = f"{path}.cfpart-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(path) or ".")


def _fsync_dir(directory: str) -> None:
    from ..backends.localwrite import fsync_dir

    fsync_dir(directory)


def durable(cf, key: str) -> None:
    """After writing a manifest or tag to ``cf``: on file:// make it durable (fsync)."""
    if cf.backend.features.sync:
        cf.backend.sync(key)


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    import fcntl

    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Dataset(Mapping):
    """An installed dataset: a mapping of partition name -> directory (``pathlib.Path``).

    ``root`` is the dataset directory, ``meta`` its ``meta.json``, ``version``
    the installed version id (``None`` for a registered, never-pushed dataset).
    """

    def __init__(self, name: str, root: Path, record: dict):
        self.name = name
        self.root = root
        self.version: Optional[str] = record.get("version")
        self._record = record
        data = root / "data"
        parts = record.get("partitions")
        if parts is None:
            parts = sorted(p.name for p in data.iterdir() if p.is_dir()) if data.is_dir() else []
        self._partitions = list(parts)

    @property
    def meta(self) -> dict:
        return read_meta(str(self.root))

    def __getitem__(self, partition: str) -> Path:
        if partition not in self._partitions:
            raise DatasetNotFoundError(
                f"dataset {self.name} has no installed partition {partition!r} "
                f"(installed: {', '.join(self._partitions) or 'none'})"
            )
        return self.root / "data" / partition

    def __contains__(self, partition: object) -> bool:
        return partition in self._partitions

    def get(self, partition: str, default: Any = None) -> Any:
        return self[partition] if partition in self._partitions else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._partitions)

    def __len__(self) -> int:
        return len(self._partitions)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, version={self.version!r}, partitions={self._partitions}, root={str(self.root)!r})"

    def info(self) -> dict:
        """Plain-data description: local paths of each partition, version, meta."""
        sizes = self._record.get("summary") or {}
        parts = {}
        for p in self._partitions:
            entry = {"path": str(self[p])}
            if p in sizes:
                entry.update(sizes[p])
            parts[p] = entry
        return {"id": self.name, "version": self.version, "root": str(self.root),
                "remote": self._record.get("remote"), "meta": self.meta, "partitions": parts,
                "complete": not self._record.get("partial", False)}


class Datasets:
    """A local dataset store bound to one remote.

    ``remote``/``home`` default to the environment and ``~/.cloudfiles/config.yaml``
    (see :mod:`cloudfiles.datasets.config`); other keyword arguments go to
    every :class:`CloudFiles` built for the remote (secrets, endpoint, num_threads ...).
    """

    def __init__(self, remote: Optional[str] = None, home: Optional[str] = None, **cf_kwargs: Any):
        self.config = _config.load(remote, home, **cf_kwargs)
        self.home = self.config.home
        self.remote = _paths.normalize(self.config.remote).rstrip("/")

    def __repr__(self) -> str:
        return f"Datasets(remote={self.remote!r}, home={self.home!r})"

    # ------------------------------------------------------------ plumbing
    def _rcf(self, name: str = "", read: bool = False) -> CloudFiles:
        kwargs = dict(self.config.cf_kwargs)
        if read and self.config.public and "secrets" not in kwargs:
            kwargs.setdefault("no_sign_request", True)
        base = _paths.join(self.remote, name) if name else self.remote
        return CloudFiles(base + "/", **kwargs)

    def _link(self, name: str) -> str:
        return os.path.join(self.home, name)

    def _record_at(self, root: str) -> Optional[dict]:
        try:
            with open(os.path.join(root, LOCAL_RECORD), "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise DatasetError(f"{os.path.join(root, LOCAL_RECORD)} is unreadable: {err}") from err

    def _manifest_at(self, root: str) -> Optional[dict]:
        """The manifest of the version installed at ``root`` (None if never pushed/pulled)."""
        path = os.path.join(root, LOCAL_MANIFEST)
        try:
            with open(path, "rb") as f:
                return check_manifest(json.loads(f.read()), path, local=True)
        except FileNotFoundError:
            return None
        except ValueError as err:
            raise DatasetError(f"{path} is unreadable: {err}") from err

    def _installed(self, name: str) -> Optional[tuple[str, dict]]:
        """(real directory, local record) of an installed dataset, or None."""
        link = self._link(name)
        if not os.path.isdir(link):
            return None
        real = os.path.realpath(link)
        return real, self._record_at(real) or {"name": name, "version": None}

    def _inside(self, path: str, *under: str) -> str:
        """``path`` if it resolves inside ``home/<under...>``; anything else is refused
        (the last guard before a directory is created, moved or deleted)."""
        base = os.path.realpath(os.path.join(self.home, *under))
        real = os.path.realpath(path)
        if real != base and not real.startswith(base.rstrip(os.sep) + os.sep):
            raise DatasetIntegrityError(f"refusing to touch {path}: it is not inside {base}")
        return path

    def _install(self, name: str, staged: str, label: str) -> str:
        """Move a complete staged directory into place and swap the symlink atomically.

        The version it replaces is deleted only when it lives in this store's
        ``.versions/NAME/``; a link the user pointed elsewhere is replaced, its
        target left alone."""
        check_name(name)
        check_name(label, "version label")
        vdir = self._inside(os.path.join(self.home, ".versions", name), ".versions")
        self._inside(staged, ".staging")
        os.makedirs(vdir, exist_ok=True)
        final = os.path.join(vdir, f"{label}-{uuid.uuid4().hex[:8]}")
        os.rename(staged, final)
        link = self._link(name)
        old = None
        if os.path.islink(link):
            old = os.path.realpath(link)
            try:
                self._inside(old, ".versions", name)
            except DatasetIntegrityError:
                old = None  # not ours to delete
        elif os.path.exists(link):
            old = f"{link}.cfold-{uuid.uuid4().hex[:8]}"
            os.rename(link, old)  # a plain directory made by hand: set aside, removed below
        tmp = f"{link}.cflink-{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.relpath(final, self.home), tmp)
        os.replace(tmp, link)
        _fsync_dir(vdir)  # the installed version and the link to it survive a crash
        _fsync_dir(os.path.dirname(link))
        if old and old != final and os.path.isdir(old):
            shutil.rmtree(old, ignore_errors=True)
        return final

    # ------------------------------------------------------------- remote
    def versions(self, name: str) -> list[dict]:
        """Every pushed version of ``name``, oldest first: ``{'version', 'created', 'key'}``."""
        check_name(name)
        cf = self._rcf(name, read=True)
        recs: dict[str, dict] = {}
        for key in cf.list("manifests/", flat=True):
            stem = key[len("manifests/"):]
            if not stem.endswith(".json") or "_" not in stem:
                continue
            created, _, vid = stem[:-5].partition("_")
            check_id(vid, f"manifest listing entry {cf.abspath(key)}", "version")
            recs[vid] = {"version": vid, "created": created, "key": key}
        return sorted(recs.values(), key=lambda r: (r["created"], r["version"]))

    def tags(self, name: str) -> dict[str, str]:
        """``{tag: version}`` for ``name``, including ``latest``."""
        cf = self._rcf(name, read=True)
        out = {}
        keys = [k for k in cf.list("tags/", flat=True) if k.endswith(".json") and not k.startswith("tags/.")]
        for key in keys:
            doc = cf.get_json(key)
            if isinstance(doc, dict) and isinstance(doc.get("version"), str):
                out[key[len("tags/"):-5]] = check_id(doc["version"], f"tag file {cf.abspath(key)}", "version")
        vs = self.versions(name)
        if vs:
            out["latest"] = vs[-1]["version"]
        return dict(sorted(out.items()))

    def resolve(self, name: str, ref: Optional[str] = None) -> dict:
        """The manifest of ``name`` at ``ref`` (None/'latest', a tag, or a version id prefix)."""
        return self._resolve(name, ref)[0]

    def _resolve(self, name: str, ref: Optional[str] = None) -> tuple[dict, bytes]:
        check_name(name)
        vs = self.versions(name)
        if not vs:
            raise DatasetNotFoundError(f"dataset {name} has no versions on {self.remote}")
        cf = self._rcf(name, read=True)
        rec = None
        if ref in (None, "latest"):
            rec = vs[-1]
        else:
            doc = cf.get_json(f"tags/{ref}.json")
            if isinstance(doc, dict) and isinstance(doc.get("version"), str):
                check_id(doc["version"], f"tag file {cf.abspath(f'tags/{ref}.json')}", "version")
                rec = next((v for v in vs if v["version"] == doc["version"]), None)
                if rec is None:
                    raise DatasetNotFoundError(f"tag {ref} of {name} points at missing version {doc['version']}")
            elif looks_like_id(ref):
                found = [v for v in vs if v["version"].startswith(ref)]
                if len(found) > 1:
                    raise DatasetError(f"version prefix {ref!r} of {name} is ambiguous: "
                                       + ", ".join(v["version"] for v in found))
                rec = found[0] if found else None
            if rec is None:
                raise DatasetNotFoundError(
                    f"{name} has no version or tag {ref!r} on {self.remote} "
                    f"(tags: {', '.join(self.tags(name)) or 'none'})"
                )
        raw = cf.get(rec["key"])
        if raw is None:
            raise DatasetNotFoundError(f"manifest {cf.abspath(rec['key'])} disappeared")
        try:
            doc = json.loads(raw)
        except ValueError as err:
            raise DatasetError(f"manifest {cf.abspath(rec['key'])} is not valid JSON: {err}") from err
        return check_manifest(doc, cf.abspath(rec["key"]), name=name, version=rec["version"]), raw

    # --------------------------------------------------------------- ls
    def ls(self, remote: bool = False) -> list[dict]:
        """Local datasets (name, version, partitions, root) or, with ``remote``,
        remote ones (name, latest, versions, tags)."""
        out = []
        if not remote:
            if not os.path.isdir(self.home):
                return []
            for name in sorted(os.listdir(self.home)):
                if name.startswith(".") or ".cflink-" in name or ".cfold-" in name:
                    continue
                got = self._installed(name)
                if got is None:
                    continue
                ds = Dataset(name, Path(self._link(name)), got[1])
                out.append({"name": name, "version": ds.version, "partitions": list(ds),
                            "root": str(ds.root), "complete": not got[1].get("partial", False)})
            return out
        cf = self._rcf(read=True)
        for d in cf.list("", flat=True):
            if not d.endswith("/"):
                continue
            name = d[:-1]
            try:
                check_name(name)
            except DatasetError:
                continue
            vs = self.versions(name)
            if not vs:
                continue  # only interrupted pushes: nothing visible yet
            out.append({"name": name, "latest": vs[-1]["version"], "created": vs[-1]["created"],
                        "versions": len(vs), "tags": self.tags(name)})
        return out

    # --------------------------------------------------------- register
    def register(self, local_dir: str, name: str, force: bool = False) -> Dataset:
        """Validate ``local_dir`` and copy it into the store as ``name`` (not yet pushed)."""
        check_name(name)
        local_dir = os.path.abspath(os.path.expanduser(os.fspath(local_dir)))
        files = scan(local_dir)
        if self._installed(name) is not None and not force:
            raise DatasetExistsError(f"dataset {name} already exists in {self.home}; use force to replace it")
        staging = os.path.join(self.home, ".staging", f"{name}@register-{uuid.uuid4().hex[:8]}")
        try:
            for f in files:
                dest = os.path.join(staging, f.rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy2(f.abspath, dest)
            record = {"name": name, "version": None, "registered_from": local_dir}
            _write_atomic(os.path.join(staging, LOCAL_RECORD), json.dumps(record).encode())
            self._install(name, staging, "local")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.dataset(name, auto_install=False)

    # -------------------------------------------------------------- push
    def push(self, name: str, force: bool = False, tag: Optional[str] = None, compress: Any = None,
             progress: bool = False, on_file: Optional[FileCallback] = None) -> dict:
        """Upload the local dataset ``name`` as a new immutable version.

        Files whose content is already stored (by the latest version or the
        installed one) are referenced, not re-sent; files already uploaded by
        an interrupted run of the same push are skipped; the manifest is
        written last, so the version appears only when complete. Pushing a
        version (or content) that already exists needs ``force``.
        ``on_file(done, total, path)`` is called after each file.
        Returns counts: files, uploaded, resumed, deduplicated, bytes_uploaded.
        """
        check_name(name)
        if tag is not None:
            check_name(tag, "tag")
        got = self._installed(name)
        if got is None:
            raise DatasetNotFoundError(f"no local dataset {name} in {self.home}; register it first")
        root, record = got
        if record.get("partial") and not force:
            raise DatasetError(
                f"only partitions {', '.join(record.get('partitions') or [])} of {name} are installed; "
                "pushing would drop the others (pull every partition first, or use force)"
            )
        files = scan(root)
        vid = fingerprint(name, files)
        cf = self._rcf(name)
        if tag is not None:
            _require_conditional(cf, name, tag)  # before anything is uploaded
        vs = self.versions(name)
        same = [v for v in vs if v["version"] == vid]
        if same and not force:
            raise DatasetExistsError(f"version {vid} of {name} already exists on {self.remote} "
                                     f"(pushed {same[-1]['created']}); use force to push it again")
        if record.get("fingerprint") == vid and record.get("version") and not force:
            raise DatasetExistsError(f"{name} is unchanged since version {record['version']} was pulled; "
                                     "nothing to push (use force to push it again)")
        enc = normalize_encoding(compress if compress is not None else self.config.compress)

        known: dict[str, dict] = {}  # sha256 -> an entry already stored on the remote
        sources = []
        if vs:
            sources.append(self.resolve(name, vs[-1]["version"]))
        installed_manifest = self._manifest_at(root) if record.get("remote") == self.remote else None
        if installed_manifest:
            sources.append(installed_manifest)
        for m in sources:
            for e in m["files"]:
                known.setdefault(e["sha256"], e)
        if force:
            known = {s: e for s, e in known.items() if not e["key"].startswith(f"versions/{vid}/")}
        present = {} if force else dict(cf.list_sizes(f"versions/{vid}/"))

        def one(f: LocalFile) -> tuple[str, Any, Optional[dict]]:
            try:
                key = f"versions/{vid}/{f.rel}"
                data = None
                if f.size >= LARGE:
                    sha, size = sha256_file(f.abspath)
                else:
                    with open(f.abspath, "rb") as fh:
                        data = fh.read()
                    sha, size = hashlib.sha256(data).hexdigest(), len(data)
                if size != f.size:
                    raise DatasetError(f"{f.rel} changed size while being pushed")
                entry = {"path": f.rel, "size": size, "sha256": sha, "key": key, "encoding": enc}
                prev = known.get(sha)
                if prev is not None and prev["size"] == size:
                    entry["key"], entry["encoding"] = prev["key"], prev.get("encoding")
                    return "deduplicated", 0, entry
                have = present.get(key)
                if have is not None and (enc is not None or have == size):
                    return "resumed", 0, entry
                if data is None:
                    n = cf.upload_file(f.abspath, key, compress=enc)
                else:
                    cf.put(key, data, compress=enc)
                    n = size
                return "uploaded", n, entry
            except Exception as err:
                return "failed", err, {"path": f.rel}

        counts = {"files": len(files), "uploaded": 0, "resumed": 0, "deduplicated": 0, "bytes_uploaded": 0}
        entries: list[dict] = []
        failures: list[str] = []
        done = 0
        for status, n, entry in schedule(one, files, concurrency=cf.num_threads, green=cf.green,
                                         progress=progress, total=len(files), desc=f"Pushing {name}"):
            done += 1
            if status == "failed":
                failures.append(f"{entry['path']}: {n}")
            else:
                counts[status] += 1
                counts["bytes_uploaded"] += n
                entries.append(entry)
            if on_file is not None:
                on_file(done, len(files), entry["path"])
        if failures:
            raise combined(DatasetError, f"push of {name} incomplete ({len(failures)} files failed; "
                           "no version was created, re-run to resume)", failures)
        entries.sort(key=lambda e: e["path"])
        chash = content_hash(entries)
        if vs and not force and not same:
            latest = sources[0]
            if latest.get("content_hash") == chash:
                raise DatasetExistsError(f"{name}: the content is identical to version {latest['version']} "
                                         "already on the remote; use force to record it again")
        created = _now()
        manifest = {
            "format": MANIFEST_FORMAT, "name": name, "version": vid, "created": created,
            "parent": vs[-1]["version"] if vs else None, "checksum": CHECKSUM, "content_hash": chash,
            "meta": read_meta(root), "partitions": partitions_of(entries), "files": entries,
        }
        body = json.dumps(manifest, indent=None, separators=(",", ":")).encode()
        cf.put(f"manifests/{created}_{vid}.json", body, content_type="application/json")
        durable(cf, f"manifests/{created}_{vid}.json")
        new_record = {"name": name, "version": vid, "remote": self.remote, "fingerprint": vid,
                      "partitions": sorted(manifest["partitions"]), "partial": False,
                      "summary": manifest["partitions"]}
        _write_atomic(os.path.join(root, LOCAL_MANIFEST), body)
        _write_atomic(os.path.join(root, LOCAL_RECORD), json.dumps(new_record).encode())
        if tag is not None:
            self.tag(name, vid, tag, force=force)
        counts.update(name=name, version=vid, created=created)
        return counts

    # -------------------------------------------------------------- pull
    def pull(self, ref: str, force: bool = False, partitions: Optional[Iterable[str]] = None,
             progress: bool = False, on_file: Optional[FileCallback] = None) -> Dataset:
        """Download ``NAME[@VERSION]`` (default: latest), verify every file against
        the manifest and install it atomically.

        ``partitions`` limits the pull (files outside data/ always come along).
        Files already staged by an interrupted pull, or present with the same
        sha256 in the installed version, are not downloaded again. Nothing is
        installed unless every file verifies. ``force`` re-downloads everything
        and replaces a local dataset that was never pushed.
        """
        name, ref_v = split_ref(ref)
        manifest, raw_manifest = self._resolve(name, ref_v)
        vid = manifest["version"]
        available = set(manifest["partitions"])
        want = set(available)
        if partitions is not None:
            req = [partitions] if isinstance(partitions, str) else list(partitions)
            missing = sorted(set(req) - available)
            if missing:
                raise DatasetNotFoundError(f"{name}@{vid} has no partition {', '.join(missing)} "
                                           f"(available: {', '.join(sorted(available))})")
            want = set(req)
        with _file_lock(os.path.join(self.home, ".staging", f".{name}.lock")):
            got = self._installed(name)
            reuse: dict[str, str] = {}  # sha256 -> local file of the installed copy
            if got is not None:
                root, record = got
                if record.get("version") is None and not force:
                    raise DatasetExistsError(f"local dataset {name} was registered but never pushed; "
                                             "pulling would replace it (push it first, or use force)")
                if record.get("version") == vid:
                    have = set(record.get("partitions") or [])
                    if partitions is not None:
                        want |= have
                    if want <= have and not force:
                        return Dataset(name, Path(self._link(name)), record)
                old_manifest = None if force else self._manifest_at(root)
                if old_manifest:
                    installed_parts = set(record.get("partitions") or [])
                    for e in old_manifest["files"]:
                        p = _partition(e["path"])
                        if p is None or p in installed_parts:
                            reuse.setdefault(e["sha256"], os.path.join(root, e["path"]))
            entries = [e for e in manifest["files"] if _partition(e["path"]) is None or _partition(e["path"]) in want]
            staging = self._inside(os.path.join(self.home, ".staging", f"{name}@{vid}"), ".staging")
            if force:
                shutil.rmtree(staging, ignore_errors=True)
            resuming = os.path.isdir(staging)
            os.makedirs(staging, exist_ok=True)
            cf = self._rcf(name, read=True)
            counts, stats = self._fetch_all(cf, entries, staging, reuse, resuming, progress, on_file,
                                            f"{name}@{vid}")
            if resuming:
                wanted_paths = {e["path"] for e in entries}
                for dirpath, _, fnames in os.walk(staging):
                    for fn in fnames:
                        rel = os.path.relpath(os.path.join(dirpath, fn), staging).replace(os.sep, "/")
                        if rel not in wanted_paths:
                            os.unlink(os.path.join(dirpath, fn))  # leftovers of an older attempt
            record = {"name": name, "version": vid, "remote": self.remote, "partitions": sorted(want),
                      "partial": want != available, "summary": manifest["partitions"], "pulled": _now(),
                      "counts": counts, "fingerprint": fingerprint(name, stats)}
            _write_atomic(os.path.join(staging, LOCAL_MANIFEST), raw_manifest)
            _write_atomic(os.path.join(staging, LOCAL_RECORD), json.dumps(record).encode())
            self._install(name, staging, vid)
        return Dataset(name, Path(self._link(name)), record)

    def _fetch_all(self, cf: CloudFiles, entries: list[dict], staging: str, reuse: dict, resuming: bool,
                   progress: bool, on_file: Optional[FileCallback], what: str) -> tuple[dict, list[LocalFile]]:
        """Download (or take from a resumed staging dir / the installed copy) and
        verify every entry into ``staging``; raise listing every bad file."""
        made_dirs: set[str] = set()

        def ensure_dir(d: str) -> None:
            if d not in made_dirs:
                os.makedirs(d, exist_ok=True)
                made_dirs.add(d)

        def stat_of(e: dict, target: str) -> LocalFile:
            return LocalFile(e["path"], target, e["size"], os.stat(target).st_mtime_ns)

        def one(e: dict) -> tuple[str, Any, str]:
            rel = e["path"]
            target = os.path.join(staging, rel)
            try:
                if resuming and os.path.isfile(target) and os.path.getsize(target) == e["size"]:
                    if sha256_file(target)[0] == e["sha256"]:
                        return "resumed", stat_of(e, target), rel
                ensure_dir(os.path.dirname(target))
                src = reuse.get(e["sha256"])
                if src and os.path.isfile(src) and os.path.getsize(src) == e["size"] \
                        and sha256_file(src)[0] == e["sha256"]:
                    tmp = f"{target}.cfpart-{uuid.uuid4().hex[:8]}"
                    try:
                        os.link(src, tmp)
                    except OSError:
                        shutil.copyfile(src, tmp)
                    os.replace(tmp, target)
                    return "reused", stat_of(e, target), rel
                if e["size"] >= LARGE:
                    tmp = f"{target}.cfpart-{uuid.uuid4().hex[:8]}"
                    try:
                        cf.download_file(e["key"], tmp)
                        sha, size = sha256_file(tmp)
                        if size == e["size"] and sha == e["sha256"]:
                            os.replace(tmp, target)
                    finally:
                        if os.path.exists(tmp):
                            os.unlink(tmp)
                else:
                    data = cf.get(e["key"])
                    if data is None:
                        return "failed", f"{rel}: missing on the remote ({cf.abspath(e['key'])})", rel
                    sha, size = hashlib.sha256(data).hexdigest(), len(data)
                    if size == e["size"] and sha == e["sha256"]:
                        # Straight to its final name: a torn write from a crash is
                        # caught by the size/sha256 check when the pull resumes.
                        with open(target, "wb") as f:
                            f.write(data)
                            mtime = os.fstat(f.fileno()).st_mtime_ns
                        return "downloaded", LocalFile(rel, target, size, mtime), rel
                if size != e["size"] or sha != e["sha256"]:
                    return "failed", (f"{rel}: does not match the manifest ({cf.abspath(e['key'])} has "
                                      f"{size} bytes, sha256 {sha[:12]}...; expected {e['size']} bytes, "
                                      f"sha256 {e['sha256'][:12]}...)"), rel
                return "downloaded", stat_of(e, target), rel
            except CloudFilesError as err:
                if isinstance(err, FileNotFoundError):
                    return "failed", f"{rel}: missing on the remote ({cf.abspath(e['key'])})", rel
                return "failed", f"{rel}: {err}", rel
            except OSError as err:
                return "failed", f"{rel}: {err}", rel

        counts = {"files": len(entries), "downloaded": 0, "resumed": 0, "reused": 0}
        problems: list[str] = []
        stats: list[LocalFile] = []
        done = 0
        for status, value, rel in schedule(one, entries, concurrency=cf.num_threads, green=cf.green,
                                           progress=progress, total=len(entries), desc=f"Pulling {what}"):
            done += 1
            if status == "failed":
                problems.append(value)
            else:
                counts[status] += 1
                stats.append(value)
            if on_file is not None:
                on_file(done, len(entries), rel)
        if problems:
            raise combined(DatasetIntegrityError, f"pull of {what} failed, nothing was installed "
                           f"({len(problems)} of {len(entries)} files bad)", sorted(problems))
        return counts, stats

    # ------------------------------------------------------------ dataset
    def dataset(self, ref: str, auto_install: bool = True, partitions: Optional[Iterable[str]] = None,
                force: bool = False) -> Dataset:
        """The installed dataset ``NAME[@VERSION]``, pulling it first when needed and ``auto_install``."""
        name, version = split_ref(ref)
        got = self._installed(name)
        if got is not None and not force:
            root, record = got
            have = set(record.get("partitions") or []) if record.get("version") else None
            ok_version = version is None or (record.get("version") or "").startswith(version) \
                or (version is not None and not looks_like_id(version) and self._tag_matches(name, version, record))
            need = set([partitions] if isinstance(partitions, str) else partitions or [])
            if ok_version and (have is None or need <= have):
                return Dataset(name, Path(self._link(name)), record)
        if not auto_install:
            raise DatasetNotFoundError(f"dataset {ref} is not installed in {self.home}")
        return self.pull(ref, force=force, partitions=partitions)

    def _tag_matches(self, name: str, tag: str, record: dict) -> bool:
        try:
            return self.resolve(name, tag)["version"] == record.get("version")
        except DatasetNotFoundError:
            return False

    def info(self, ref: str, auto_install: bool = True) -> dict:
        """Local paths of every partition (pulling first if needed), version and meta."""
        return self.dataset(ref, auto_install=auto_install).info()

    def log(self, ref: str, limit: int = 1000) -> list[dict]:
        """The history of ``NAME[@REF]``, newest first: ``{'version', 'created', 'parent',
        'message'}`` following each manifest's parent (at most ``limit`` entries)."""
        name, version = split_ref(ref)
        manifest = self.resolve(name, version)
        by_id = {v["version"]: v for v in self.versions(name)}
        out: list[dict] = []
        seen: set[str] = set()
        while manifest is not None and len(out) < limit and manifest["version"] not in seen:
            seen.add(manifest["version"])
            parent = manifest.get("parent")
            out.append({"version": manifest["version"], "created": manifest.get("created"),
                        "parent": parent, "message": manifest.get("message")})
            manifest = self.resolve(name, parent) if isinstance(parent, str) and parent in by_id else None
        return out

    # ------------------------------------------------------------ verify
    def verify(self, ref: str, local: bool = True, remote: bool = True, raise_on_error: bool = True) -> dict:
        """Check the installed copy and/or the remote version against the manifest
        (size and sha256 of every file). Returns a report; with ``raise_on_error``
        a failing check raises :class:`DatasetIntegrityError` naming every bad file."""
        name, version = split_ref(ref)
        report: dict = {"name": name, "local": None, "remote": None, "problems": []}
        checked_any = False
        if local:
            got = self._installed(name)
            if got is not None:
                checked_any = True
                report["local"] = self._verify_local(name, *got)
                report["problems"] += [f"local: {p}" for p in report["local"]["problems"]]
        if remote:
            try:
                manifest = self.resolve(name, version if version else
                                        (report["local"] or {}).get("version") or None)
            except DatasetNotFoundError:
                if not checked_any:
                    raise
            else:
                checked_any = True
                report["remote"] = self._verify_remote(name, manifest)
                report["problems"] += [f"remote: {p}" for p in report["remote"]["problems"]]
        if not checked_any:
            raise DatasetNotFoundError(f"dataset {ref} is not installed in {self.home}")
        report["ok"] = not report["problems"]
        if raise_on_error and not report["ok"]:
            raise combined(DatasetIntegrityError, f"dataset {ref} failed verification", report["problems"])
        return report

    def _verify_local(self, name: str, root: str, record: dict) -> dict:
        from .errors import DatasetLayoutError

        out = {"root": os.path.join(self.home, name), "version": record.get("version"), "files": 0,
               "problems": []}
        try:
            files = scan(root)
        except DatasetLayoutError as err:
            out["problems"] += err.problems
            files = scan(root, validate=False)
        manifest = self._manifest_at(root)
        if not manifest:
            out["files"] = len(files)
            return out
        parts = set(record.get("partitions") or [])
        expected = {e["path"]: e for e in manifest["files"] if _partition(e["path"]) is None or _partition(e["path"]) in parts}
        on_disk = {f.rel: f for f in files}
        for rel, e in sorted(expected.items()):
            f = on_disk.get(rel)
            if f is None:
                out["problems"].append(f"{rel}: missing")
            elif f.size != e["size"]:
                out["problems"].append(f"{rel}: {f.size} bytes, manifest says {e['size']}")
            elif sha256_file(f.abspath)[0] != e["sha256"]:
                out["problems"].append(f"{rel}: sha256 differs from the manifest")
            out["files"] += 1
        for rel in sorted(set(on_disk) - set(expected)):
            out["problems"].append(f"{rel}: not in version {record.get('version')}")
        return out

    def _verify_remote(self, name: str, manifest: dict) -> dict:
        cf = self._rcf(name, read=True)

        def one(e: dict) -> Optional[str]:
            try:
                h = hashlib.sha256()
                size = 0
                if e["size"] >= LARGE:
                    for chunk in cf.stream(e["key"]):
                        h.update(chunk)
                        size += len(chunk)
                else:
                    data = cf.get(e["key"])
                    if data is None:
                        return f"{e['path']}: missing ({cf.abspath(e['key'])})"
                    h.update(data)
                    size = len(data)
            except FileNotFoundError:
                return f"{e['path']}: missing ({cf.abspath(e['key'])})"
            except CloudFilesError as err:
                return f"{e['path']}: {err}"
            if size != e["size"]:
                return f"{e['path']}: {size} bytes at {cf.abspath(e['key'])}, manifest says {e['size']}"
            if h.hexdigest() != e["sha256"]:
                return f"{e['path']}: sha256 of {cf.abspath(e['key'])} differs from the manifest"
            return None

        problems = [p for p in schedule(one, manifest["files"], concurrency=cf.num_threads, green=cf.green,
                                        total=len(manifest["files"])) if p]
        return {"version": manifest["version"], "files": len(manifest["files"]), "problems": sorted(problems)}

    # --------------------------------------------------------------- tag
    def tag(self, name: str, version: str, tag: str, force: bool = False, expect: Optional[str] = "any") -> dict:
        """Point ``tag`` at ``version`` of ``name`` with a conditional write.

        Moving an existing tag to another version needs ``force``. ``expect``
        (a version id, or ``None`` for "tag must not exist yet") makes the move
        a compare-and-swap: it fails with :class:`PreconditionFailedError`
        unless the tag still points there. A concurrent move between our read
        and our write also fails that way, on every backend that can tell;
        others refuse to move tags at all.
        """
        check_name(name)
        check_name(tag, "tag")
        if tag == "latest":
            raise DatasetError("'latest' always names the newest pushed version; choose another tag name")
        target = self.resolve(name, version)["version"]
        cf = self._rcf(name)
        key = f"tags/{tag}.json"
        _require_conditional(cf, name, tag)
        content, token = conditional.read_versioned(cf.core, key)
        current = json.loads(content) if content else None
        cur_version = current.get("version") if isinstance(current, dict) else None
        if expect != "any":
            exp = expect
            if exp is not None and not looks_like_id(exp):
                raise DatasetError(f"expect must be a version id or None, got {exp!r}")
            if (cur_version is None) != (exp is None) or (exp is not None and not cur_version.startswith(exp)):
                raise PreconditionFailedError(
                    f"tag {tag} of {name} points at {cur_version or 'nothing'}, not {exp or 'nothing'}"
                )
        elif cur_version is not None and cur_version != target and not force:
            raise DatasetExistsError(f"tag {tag} of {name} already points at {cur_version}; use force to move it")
        if cur_version == target:
            return {"name": name, "tag": tag, "version": target, "previous": cur_version, "moved": False}
        moved = _now()
        history = list(current.get("history", [])) if isinstance(current, dict) else []
        history.append({"version": target, "moved": moved})
        doc = {"tag": tag, "version": target, "moved": moved, "history": history[-100:]}
        conditional.put_if(cf.core, key, json.dumps(doc).encode(), token)
        durable(cf, key)
        return {"name": name, "tag": tag, "version": target, "previous": cur_version, "moved": True}


def _require_conditional(cf: CloudFiles, name: str, tag: str) -> None:
    """Refuse to move a tag where the remote cannot make the write conditional."""
    if not conditional.supported(cf.core):
        raise PreconditionFailedError(
            f"{cf.protocol}:// offers no conditional writes here, so tag {tag} of {name} cannot be "
            "moved safely (another writer's move could be silently lost); refusing"
        )
