"""The ephemeral asset database: update (walk ingress), create (stage), export, delete, search."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import tempfile
import uuid
from typing import Any, Optional

from cloudfiles import CloudFiles
from cloudfiles.exceptions import InvalidInputError
from cloudfiles.runner import schedule

from . import naming
from .config import AssetsConfigError, load_config
from .specification import SpecificationBase

_NS = uuid.UUID("6f1c2a3e-8d2b-4c1e-9a57-0c1f5e2d7b41")


def _cloudpath(p: str) -> str:
    return p if "://" in p else "file://" + os.path.abspath(os.path.expanduser(p))


def load_specifications(files: list[str]) -> dict[str, type]:
    """Specification classes defined in ``files``, by lowercased class name."""
    specs: dict[str, type] = {}
    for i, path in enumerate(files):
        spec = importlib.util.spec_from_file_location(f"_cloudfiles_assets_spec_{i}", path)
        if spec is None or spec.loader is None:
            raise AssetsConfigError(f"specification_files: cannot load {path}")
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as err:
            raise AssetsConfigError(f"specification_files: {path}: {type(err).__name__}: {err}") from None
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, SpecificationBase) and obj.__module__ == mod.__name__:
                specs[obj.name()] = obj
    return specs


class Database:
    """Assets of ``config``'s ingress directory; ``executor`` runs the fan-out."""

    def __init__(self, config: Any = None, executor: Any = None, num_threads: int = 8):
        self.config = load_config(config) if not hasattr(config, "ingress_directory") else config
        self.executor = executor
        self.num_threads = num_threads
        self.specs = load_specifications(self.config.specification_files)
        self.ingress = CloudFiles(_cloudpath(self.config.ingress_directory), executor=executor)
        self.staging = CloudFiles(_cloudpath(self.config.staging_directory), executor=executor)
        self.files: list[dict] = []
        self.assets: list[dict] = []
        self.updated = False

    # ---------------------------------------------------------------- update
    def _keys(self) -> list[str]:
        inc = re.compile(self.config.include_regex) if self.config.include_regex else None
        exc = re.compile(self.config.exclude_regex) if self.config.exclude_regex else None
        return [k for k in self.ingress.list() if (not inc or inc.search(k)) and not (exc and exc.search(k))]

    def _file_row(self, key: str) -> dict:
        filename = key.rsplit("/", 1)[-1]
        row: dict = {"filepath": self.ingress.abspath(key), "filepath_relative": key, "filename": filename,
                     "file_id": str(uuid.uuid5(_NS, "file:" + key))}
        errors: list[str] = []
        spec_name = naming.specification_of(filename)
        spec = self.specs.get(spec_name) if spec_name else None
        row["specification"] = spec_name
        if spec is None:
            errors.append(f"{filename!r}: no specification field (s-...)" if spec_name is None
                          else f"{filename!r}: specification {spec_name!r} is not defined in specification_files")
        else:
            row["specification_class"] = spec.__name__
            row["asset_type"] = spec.asset_type
            try:
                row.update(naming.parse(filename, spec.filename_fields))
            except naming.NamingError as err:
                errors.extend(err.errors)
            asset_rel = spec.get_asset_path(key)
            row["asset_path_relative"] = asset_rel
            row["asset_path"] = self.ingress.abspath(asset_rel)
            row["asset_id"] = str(uuid.uuid5(_NS, "asset:" + asset_rel))
            name = asset_rel.rsplit("/", 1)[-1]
            if spec.asset_type == "file":
                name = name.rsplit(".", 1)[0]
                try:
                    name = naming.construct(row, spec.asset_name_fields)
                except KeyError:
                    pass
            else:
                try:
                    fields = naming.parse(name, spec.asset_name_fields)
                    if any(row.get(f) not in (None, v) for f, v in fields.items()):
                        errors.append(f"{filename!r}: fields do not match its asset directory {name!r}")
                except naming.NamingError as err:
                    errors.extend(f"asset directory: {e}" for e in err.errors)
            row["asset_name"] = name
            if spec.file_traits:
                traits, terr = self._traits(spec, key)
                row.update(traits)
                errors.extend(f"{filename!r}: {e}" for e in terr)
        row["file_error"] = errors or None
        return row

    def _traits(self, spec: type, key: str) -> tuple[dict, list[str]]:
        if self.ingress.protocol == "file":
            return spec.get_traits(self._local(key))
        data = self.ingress.get(key)
        with tempfile.NamedTemporaryFile(suffix="-" + key.rsplit("/", 1)[-1]) as tmp:
            tmp.write(data or b"")
            tmp.flush()
            return spec.get_traits(tmp.name)

    def _local(self, key: str) -> str:
        return self.ingress.abspath(key)[len("file://"):]

    def update(self) -> "Database":
        """Walk the ingress directory, parse names, read traits and validate every asset."""
        keys = self._keys()
        rows = list(schedule(self._file_row, keys, concurrency=max(1, min(self.num_threads, len(keys) or 1)),
                             executor=self.executor))
        rows.sort(key=lambda r: r["filepath_relative"])
        groups: dict[str, list[dict]] = {}
        for r in rows:
            if r.get("asset_path_relative") is not None:
                groups.setdefault(r["asset_path_relative"], []).append(r)
        assets = []
        for rel, members in sorted(groups.items()):
            spec = self.specs[members[0]["specification"]]
            data: dict = {}
            for key in set().union(*members):
                data[key] = [m.get(key) for m in members]
            errors = []
            for m in members:
                errors.extend(m["file_error"] or [])
            if not errors:
                errors = spec.validate_asset(data)
            first = members[0]
            asset = {k: first.get(k) for k in ("asset_id", "asset_name", "asset_path", "asset_path_relative",
                                               "asset_type", "specification", "specification_class")}
            asset.update({"asset_valid": not errors, "asset_error": errors or None,
                          "file_ids": [m["file_id"] for m in members],
                          "filepath_relative": [m["filepath_relative"] for m in members]})
            for k in spec.fields():
                asset.setdefault(k, data.get(k))
            assets.append(asset)
            for m in members:
                m["asset_valid"] = asset["asset_valid"]
                m["asset_error"] = asset["asset_error"]
        for r in rows:
            r.setdefault("asset_valid", False)
            r.setdefault("asset_error", r["file_error"])
        self.files, self.assets, self.updated = rows, assets, True
        return self

    # ---------------------------------------------------------------- create
    def create(self) -> dict:
        """Stage valid assets: ``content/<path>``, ``metadata/file/<id>.json``, ``metadata/asset/<id>.json``."""
        if not self.updated:
            self.update()
        valid = [a for a in self.assets if a["asset_valid"]]
        ids = {i for a in valid for i in a["file_ids"]}
        files = [f for f in self.files if f["file_id"] in ids]
        self.ingress.transfer_to(self.staging, [(f["filepath_relative"], "content/" + f["filepath_relative"])
                                                for f in files], skip_existing="size")
        meta = [(f"metadata/file/{f['file_id']}.json", _jsonable(f)) for f in files]
        meta += [(f"metadata/asset/{a['asset_id']}.json", _jsonable(a)) for a in valid]
        self.staging.puts([(p, json.dumps(m, indent=2, sort_keys=True).encode()) for p, m in meta])
        return {"assets": len(valid), "files": len(files)}

    # ---------------------------------------------------------------- export
    def export(self) -> dict:
        """Run every exporter on the staging directory, then call the webhooks."""
        from .exporters import run_exporter
        from .webhooks import call_webhooks

        results = [run_exporter(self.staging, ex) for ex in self.config.exporters]
        hooks = call_webhooks(self.config.webhooks, results)
        return {"exporters": results, "webhooks": hooks}

    # ---------------------------------------------------------------- delete
    def delete(self) -> dict:
        """Remove staged content and metadata; with ``write_mode: move`` also the staged ingress files."""
        keys = [k for k in self.staging.list("content/")] + [k for k in self.staging.list("metadata/")]
        moved = []
        if self.config.write_mode == "move":
            for k in self.staging.list("metadata/file/"):
                rel = json.loads(self.staging.get(k))["filepath_relative"]
                if isinstance(rel, str):
                    moved.append(rel)
            if moved:
                self.ingress.delete(moved)
        if keys:
            self.staging.delete(keys)
        return {"deleted_staging": len(keys), "deleted_ingress": len(moved)}

    def workflow(self, steps: Optional[list[str]] = None) -> dict:
        """Run ``steps`` (default: the config's ``workflow``) in order."""
        steps = list(self.config.workflow if steps is None else steps)
        out = {}
        for s in steps:
            if s not in ("update", "create", "export", "delete"):
                raise InvalidInputError(f"workflow: unknown step {s!r}")
            r = getattr(self, s)()
            out[s] = {"files": len(self.files), "assets": len(self.assets)} if s == "update" else r
        return out

    # ---------------------------------------------------------------- search
    def search(self, sql: str) -> list[dict]:
        """Run one read-only SQL query over the ``files`` and ``assets`` tables."""
        if not self.updated:
            self.update()
        from .search import run_query

        return run_query({"files": self.files, "assets": self.assets}, sql)


def _jsonable(row: dict) -> dict:
    return json.loads(json.dumps(row, default=str))
