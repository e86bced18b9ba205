"""Exporters: copy staged content and metadata to a disk directory, a cloudpath, or a dataset version.
Content first, metadata next, the manifest last; re-runs skip what arrived intact."""
from __future__ import annotations

import json
import os
import shutil
import tempfile

from cloudfiles import CloudFiles


def _prefixes(ex) -> list[str]:
    return ["content/"] + [f"metadata/{t}/" for t in ex.metadata_types]


def _to_cloud(staging: CloudFiles, dest: CloudFiles, ex) -> dict:
    keys = [k for p in _prefixes(ex) for k in staging.list(p)]
    content = [k for k in keys if k.startswith("content/")]
    meta = [k for k in keys if not k.startswith("content/")]
    r1 = staging.transfer_to(dest, content, skip_existing="size")
    r2 = staging.transfer_to(dest, meta, skip_existing="size")
    sizes = dict(staging.size(keys)) if keys else {}
    manifest = {"files": [{"path": k, "size": sizes.get(k)} for k in sorted(keys)]}
    dest.put("manifest.json", json.dumps(manifest, indent=2).encode())
    return {"exporter": ex.name, "target": dest.cloudpath, "files": len(keys),
            "transferred": r1.transferred + r2.transferred, "skipped": r1.skipped + r2.skipped}


def _to_dataset(staging: CloudFiles, ex) -> dict:
    from cloudfiles.datasets import Datasets

    store = Datasets(remote=ex.remote, home=ex.home)
    tmp = tempfile.mkdtemp(prefix="cloudfiles-assets-")
    try:
        local = CloudFiles("file://" + os.path.join(tmp, "data"))
        keys = [k for p in _prefixes(ex) for k in staging.list(p)]
        staging.transfer_to(local, keys)
        store.register(tmp, ex.dataset, force=True)
        result = store.push(ex.dataset)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"exporter": "dataset", "dataset": ex.dataset, "files": len(keys), "version": result.get("version")}


def run_exporter(staging: CloudFiles, ex) -> dict:
    """Run one exporter config on ``staging``."""
    if ex.name == "disk":
        return _to_cloud(staging, CloudFiles("file://" + os.path.abspath(os.path.expanduser(ex.target_directory)),
                                             executor=staging.executor), ex)
    if ex.name == "cloudpath":
        target = ex.target if "://" in ex.target else "file://" + os.path.abspath(ex.target)
        return _to_cloud(staging, CloudFiles(target, secrets=ex.secrets, executor=staging.executor), ex)
    return _to_dataset(staging, ex)
