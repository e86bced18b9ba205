"""Publishing a new dataset version from staged files on top of a parent version.

Used by ``cfds://`` transactions: the parent's entries are kept, staged files
replace or add entries, content already stored (by sha256) is referenced
instead of re-sent, new objects are uploaded under ``versions/<id>/``, the
manifest is written last, and a tag used as a branch is moved from the parent
to the new version by compare-and-swap. A commit that loses the race removes
what it wrote and publishes nothing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from ..exceptions import PreconditionFailedError
from .layout import CHECKSUM, MANIFEST_FORMAT, content_hash, partitions_of, sha256_file

if TYPE_CHECKING:
    from .store import Datasets


@dataclass(frozen=True)
class Staged:
    """One file written in a transaction: its dataset path and a local temporary copy."""

    path: str        # "data/<partition>/..."
    local: str


def publish(store: "Datasets", name: str, parent: dict, staged: list[Staged], message: Optional[str],
            created: str, branch: Optional[str] = None, guard_latest: bool = False) -> dict:
    """Publish ``staged`` on top of ``parent`` (a manifest) and return the new manifest.

    ``branch`` (a tag): moved from the parent to the new version by compare-and-swap.
    ``guard_latest``: refused if a newer version appeared since the parent was read.
    Neither: the new version branches from ``parent`` and no tag moves.
    Raises :class:`PreconditionFailedError` on a conflicting concurrent commit.
    """
    cf = store._rcf(name)
    parent_vid = parent["version"]
    hashed = {s.path: sha256_file(s.local) for s in staged}
    entries = {e["path"]: e for e in parent["files"]}
    known = {e["sha256"]: e for e in parent["files"]}
    h = hashlib.sha256(f"{MANIFEST_FORMAT}\0{name}\0{parent_vid}\0{created}\n".encode())
    for path in sorted(hashed):
        sha, size = hashed[path]
        h.update(f"{path}\0{size}\0{sha}\n".encode("utf-8", "surrogateescape"))
    vid = h.hexdigest()[:16]

    uploaded: list[str] = []
    manifest_key = f"manifests/{created}_{vid}.json"
    try:
        for s in staged:
            sha, size = hashed[s.path]
            prev = known.get(sha)
            if prev is not None and prev["size"] == size:
                entries[s.path] = {**prev, "path": s.path}
                continue
            key = f"versions/{vid}/{s.path}"
            cf.upload_file(s.local, key)
            uploaded.append(key)
            entries[s.path] = {"path": s.path, "size": size, "sha256": sha, "key": key, "encoding": None}
        files = sorted(entries.values(), key=lambda e: e["path"])
        manifest = {
            "format": MANIFEST_FORMAT, "name": name, "version": vid, "created": created,
            "parent": parent_vid, "message": message, "checksum": CHECKSUM,
            "content_hash": content_hash(files), "meta": parent.get("meta") or {},
            "partitions": partitions_of(files), "files": files,
        }
        if guard_latest:
            vs = store.versions(name)
            if vs and vs[-1]["version"] != parent_vid:
                raise PreconditionFailedError(
                    f"{name}: latest moved from {parent_vid} to {vs[-1]['version']} during the transaction; "
                    "nothing was published"
                )
        cf.put(manifest_key, json.dumps(manifest, separators=(",", ":")).encode(), content_type="application/json")
        from .store import durable

        durable(cf, manifest_key)
        uploaded.append(manifest_key)
        if branch is not None:
            try:
                store.tag(name, vid, branch, force=True, expect=parent_vid)
            except PreconditionFailedError as err:
                raise PreconditionFailedError(
                    f"{name}@{branch}: another commit moved {branch} first ({err}); nothing was published"
                ) from err
        return manifest
    except BaseException:
        if uploaded:
            cf.delete(uploaded)
        raise
