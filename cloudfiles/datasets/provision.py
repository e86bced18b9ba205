"""Prepare a dataset from its definition: download, verify, unpack, lay out, install.

Downloads land in ``HOME/.staging/prepare-<id>/downloads/`` (each file
atomically, so a killed prepare keeps what it finished and a re-run fetches
only the rest); every resource is verified against its declared sha256/md5
and size before anything is unpacked; the dataset is built beside the store
and installed with the store's atomic symlink swap.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Optional

from ..cloudfiles import CloudFiles
from ..exceptions import CloudFilesError, CredentialsError, NotFoundError
from ..runner import schedule
from . import unpack as _unpack
from .errors import DatasetError, DatasetIntegrityError, combined
from .layout import (CHECKSUM, LOCAL_MANIFEST, LOCAL_RECORD, MANIFEST_FORMAT, content_hash, partitions_of, scan,
                     sha256_file)
from .registry import Definition, Repository, definitions, find, repositories, score
from .store import Dataset, Datasets, _file_lock, _write_atomic


def _repos(store: Datasets, extra: Optional[list[str]] = None) -> list[Repository]:
    return repositories(extra, store.config.repositories)


def _digest(path: str, algo: str) -> tuple[str, int]:
    h = hashlib.new(algo)
    n = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * 1024 * 1024), b""):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _check(path: str, r) -> Optional[str]:
    """None when the file matches the resource's declared size and checksum, else the problem."""
    algo = "sha256" if r.sha256 else ("md5" if r.md5 else "sha256")
    got, size = _digest(path, algo)
    if r.size is not None and size != r.size:
        return f"{size} bytes, the definition declares {r.size}"
    want = r.sha256 or r.md5
    if want and got != want:
        return f"{algo} {got} does not match the declared {want}"
    return None


def _split(url: str) -> tuple[str, str]:
    parent, _, name = url.rstrip("/").rpartition("/")
    return parent + "/", name


def prepare(did: str, trust: bool = False, push: bool = False, force: bool = False,
            repositories_: Optional[list[str]] = None, progress: bool = False,
            store: Optional[Datasets] = None, **kwargs: Any) -> Dataset:
    """Download, verify, unpack and install dataset ``did`` from its definition.

    Without checksums in the definition ``trust`` is required (the computed
    sha256 is then recorded). ``push`` publishes the result to the remote.
    Already prepared datasets are returned as they are unless ``force``.
    """
    store = store or Datasets(**kwargs)
    defn = find(did, _repos(store, repositories_))
    got = store._installed(did)
    if got is not None and not force:
        ds = Dataset(did, Path(store._link(did)), got[1])
        if push:
            _push(store, did)
            ds = store.dataset(did, auto_install=False)
        return ds
    unverified = [r.url for r in defn.resources if not (r.sha256 or r.md5)]
    if unverified and not trust:
        raise DatasetError(f"dataset {did}: resource {unverified[0]} has no sha256 or md5 in {defn.source}; "
                           "refusing to prepare unverified data (use --trust / trust=True)")
    staging = os.path.join(store.home, ".staging", f"prepare-{did}")
    downloads = os.path.join(staging, "downloads")
    os.makedirs(downloads, exist_ok=True)

    def one(r) -> tuple[Any, Optional[str], str]:
        dest = os.path.join(downloads, hashlib.sha256(r.url.encode()).hexdigest()[:24])
        if os.path.isfile(dest) and _check(dest, r) is None:
            return r, None, "resumed"
        parent, name = _split(r.url)
        opts = dict(store.config.cf_kwargs) if parent.startswith(("s3:", "gs:")) else {}
        try:
            try:
                CloudFiles(parent, **opts).download_file(name, dest, raw=True)
            except CredentialsError:
                # public buckets: without credentials of our own, read anonymously
                CloudFiles(parent, **dict(opts, no_sign_request=True)).download_file(name, dest, raw=True)
        except NotFoundError:
            return r, "not found (404)", "failed"
        except (CloudFilesError, OSError) as err:
            return r, " ".join(str(err).split()), "failed"
        problem = _check(dest, r)
        if problem:
            os.unlink(dest)
            return r, problem, "failed"
        return r, None, "downloaded"

    problems, paths = [], {}
    for r, problem, status in schedule(one, defn.resources, concurrency=8, progress=progress,
                                       total=len(defn.resources), desc=f"Preparing {did}"):
        if problem:
            problems.append(f"resource {r.url}: {problem}")
        else:
            paths[r.url] = os.path.join(downloads, hashlib.sha256(r.url.encode()).hexdigest()[:24])
    if problems:
        raise combined(DatasetIntegrityError, f"prepare of {did} failed, nothing was installed", sorted(problems))
    tree = os.path.join(staging, f"tree-{uuid.uuid4().hex[:8]}")
    try:
        resources = _build(defn, paths, tree)
        fn = defn.get_process()
        if fn is not None:
            fn(tree, defn)
        meta = defn.meta()
        meta["resources"] = resources
        _write_atomic(os.path.join(tree, "meta.json"), json.dumps(meta, indent=2).encode())
        _write_atomic(os.path.join(tree, LOCAL_MANIFEST), _local_manifest(did, tree, meta))
        record = {"name": did, "version": None, "prepared_from": defn.source, "repository": defn.repository,
                  "trusted": bool(unverified), "resources": resources,
                  "partitions": sorted({r.partition for r in defn.resources})}
        _write_atomic(os.path.join(tree, LOCAL_RECORD), json.dumps(record).encode())
        with _file_lock(os.path.join(store.home, ".staging", f".{did}.lock")):
            store._install(did, tree, "prepared")
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    if push:
        _push(store, did)
    return store.dataset(did, auto_install=False)


def _local_manifest(did: str, tree: str, meta: dict) -> bytes:
    """The installed manifest of a prepared tree: every file's size and sha256 as
    computed here (for a trusted, checksum-less definition, the first record of them),
    so ``verify`` checks the installed files against it."""
    entries = []
    for f in scan(tree):
        sha, size = sha256_file(f.abspath)
        entries.append({"path": f.rel, "size": size, "sha256": sha, "key": "", "encoding": None})
    manifest = {"format": MANIFEST_FORMAT, "name": did, "version": None, "parent": None, "checksum": CHECKSUM,
                "content_hash": content_hash(entries), "meta": meta, "partitions": partitions_of(entries),
                "files": entries}
    return json.dumps(manifest, separators=(",", ":")).encode()


def _push(store: Datasets, did: str) -> None:
    from .errors import DatasetExistsError

    try:
        store.push(did)
    except DatasetExistsError:
        pass  # already published


def _build(defn: Definition, paths: dict, tree: str) -> list[dict]:
    """Lay resources out under ``tree/data/<partition>/``; return them with computed sha256s."""
    out = []
    for r in defn.resources:
        src = paths[r.url]
        part = os.path.join(tree, "data", r.partition)
        target = os.path.join(part, r.path) if r.path else part
        os.makedirs(os.path.dirname(target) if r.path else target, exist_ok=True)
        try:
            if r.unpack == "none":
                try:
                    os.link(src, target)  # the staging copy is removed after install
                except OSError:
                    shutil.copyfile(src, target)
            elif r.unpack == "gz":
                _unpack.gunzip(src, target)
            elif r.unpack == "zip":
                os.makedirs(target, exist_ok=True)
                _unpack.unzip(src, target)
            else:
                os.makedirs(target, exist_ok=True)
                _unpack.untar(src, target)
        except _unpack.UnpackError as err:
            raise DatasetError(f"dataset {defn.id}: resource {r.url}: {err}", [str(err)]) from None
        d = r.as_dict()
        d["sha256"] = _digest(src, "sha256")[0]
        d["size"] = os.path.getsize(src)
        out.append(d)
    return out


def info(did: str, repositories_: Optional[list[str]] = None, store: Optional[Datasets] = None,
         **kwargs: Any) -> dict:
    """The definition of ``did`` and, when prepared (installed), its local paths per partition."""
    store = store or Datasets(**kwargs)
    defn = find(did, _repos(store, repositories_))
    out = {"id": did, "definition": defn.as_dict(), "prepared": False}
    got = store._installed(did)
    if got is not None:
        out.update(Dataset(did, Path(store._link(did)), got[1]).info())
        out["prepared"] = True
    return out


def search(terms: list[str], repositories_: Optional[list[str]] = None, remote: bool = True,
           store: Optional[Datasets] = None, **kwargs: Any) -> list[dict]:
    """Definitions and remote datasets matching every term, best first."""
    store = store or Datasets(**kwargs)
    hits: dict[str, dict] = {}
    for d in definitions(_repos(store, repositories_)).values():
        s = score(terms, d.id, d.name, d.description, d.tags)
        if s:
            hits[d.id] = {"id": d.id, "name": d.name, "description": d.description, "tags": d.tags,
                          "score": s, "source": "repository", "repository": d.repository}
    if remote:
        try:
            rows = store.ls(remote=True)
        except CloudFilesError:
            rows = []
        for row in rows:
            if row["name"] in hits:
                hits[row["name"]]["remote"] = store.remote
                continue
            try:
                meta = store.resolve(row["name"]).get("meta") or {}
            except CloudFilesError:
                meta = {}
            name = meta.get("name") if isinstance(meta.get("name"), str) else ""
            desc = meta.get("description") if isinstance(meta.get("description"), str) else ""
            tags = [t for t in meta.get("tags", []) if isinstance(t, str)] if isinstance(meta.get("tags"), list) else []
            s = score(terms, row["name"], name, desc, tags)
            if s:
                hits[row["name"]] = {"id": row["name"], "name": name, "description": desc, "tags": tags,
                                     "score": s, "source": "remote", "remote": store.remote}
    return sorted(hits.values(), key=lambda h: (-h["score"], h["id"]))


def orphans(repositories_: Optional[list[str]] = None, store: Optional[Datasets] = None,
            **kwargs: Any) -> list[dict]:
    """Local store entries that no repository defines and the remote does not have."""
    store = store or Datasets(**kwargs)
    known = set(definitions(_repos(store, repositories_)))
    try:
        known |= {r["name"] for r in store.ls(remote=True)}
    except CloudFilesError:
        pass
    return [r for r in store.ls() if r["name"] not in known]
