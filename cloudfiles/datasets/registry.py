"""Dataset definitions and the repositories that hold them; search across them.

A definition is a YAML file (``*.yaml``/``*.yml``) describing a dataset that
lives elsewhere (a web server, someone's bucket) by qualified id, metadata and
resources. Repositories are directories or cloudpaths of definition files
(``repositories:`` in the config file, ``$CLOUDFILES_DATASET_REPOSITORIES``
colon-separated) and Python packages declaring an entry point in the group
``cloudfiles.datasets`` whose object is a directory path, a callable returning
one, or a callable returning definition dicts. See docs/registry.md.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import DatasetError, DatasetLayoutError, DatasetNotFoundError
from .layout import check_name

ENTRY_POINT_GROUP = "cloudfiles.datasets"
UNPACK = ("none", "gz", "zip", "tar")
_FIELDS = {"id", "name", "description", "tags", "license", "homepage", "resources", "process"}
_RES_FIELDS = {"url", "sha256", "md5", "size", "partition", "unpack", "path"}
_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "md5": re.compile(r"^[0-9a-f]{32}$")}
_SCHEMES = ("http://", "https://", "s3://", "gs://", "file://")
_SEG = re.compile(r"^[A-Za-z0-9._-][A-Za-z0-9._ +=,@-]*$")


@dataclass
class Resource:
    url: str
    partition: str
    path: str
    unpack: str = "none"
    sha256: Optional[str] = None
    md5: Optional[str] = None
    size: Optional[int] = None

    def as_dict(self) -> dict:
        d = {"url": self.url, "partition": self.partition, "path": self.path, "unpack": self.unpack}
        for k in ("sha256", "md5", "size"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d


@dataclass
class Definition:
    """One dataset definition; ``source`` names the file or plugin it came from."""

    id: str
    resources: list[Resource]
    name: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    license: Optional[str] = None
    homepage: Optional[str] = None
    process: Optional[str] = None
    source: str = ""
    repository: str = ""

    def meta(self) -> dict:
        """What ``meta.json`` of the prepared dataset holds."""
        out = {"id": self.id, "name": self.name, "description": self.description, "tags": self.tags,
               "license": self.license, "homepage": self.homepage,
               "resources": [r.as_dict() for r in self.resources]}
        return {k: v for k, v in out.items() if v not in (None, "", [])}

    def as_dict(self) -> dict:
        d = self.meta()
        d.update(source=self.source, repository=self.repository)
        if self.process:
            d["process"] = self.process
        return d

    def get_process(self) -> Optional[Callable]:
        """The Python processing step ``module:function`` (called as ``fn(staging_dir, definition)``)."""
        if not self.process:
            return None
        import importlib

        mod, _, fn = self.process.partition(":")
        try:
            return getattr(importlib.import_module(mod), fn)
        except (ImportError, AttributeError) as err:
            raise DatasetError(f"dataset {self.id}: process {self.process!r} cannot be loaded: {err}") from err


def _bad(did: str, where: str, problem: str) -> DatasetLayoutError:
    return DatasetLayoutError(f"dataset {did} ({where}): {problem}")


def _safe_rel(value: Any, did: str, where: str, what: str) -> str:
    if not isinstance(value, str) or not value or value.startswith("/") or "\\" in value:
        raise _bad(did, where, f"{what} must be a relative '/'-separated path, got {value!r}")
    for seg in value.split("/"):
        if seg in ("", ".", "..") or not _SEG.match(seg):
            raise _bad(did, where, f"{what} {value!r} has an unsafe component {seg!r}")
    return value


def parse(doc: Any, source: str = "<definition>") -> Definition:
    """Validate a definition mapping (as loaded from YAML) and return it."""
    if not isinstance(doc, dict):
        raise DatasetLayoutError(f"{source}: a definition must be a mapping, not {type(doc).__name__}")
    did = doc.get("id")
    try:
        check_name(did, "dataset id")
    except DatasetLayoutError as err:
        raise DatasetLayoutError(f"{source}: {err}") from None
    unknown = sorted(map(str, set(doc) - _FIELDS))
    if unknown:
        raise _bad(did, source, f"unknown fields {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
    for k in ("name", "description", "license", "homepage", "process"):
        if doc.get(k) is not None and not isinstance(doc[k], str):
            raise _bad(did, source, f"{k} must be a string, got {doc[k]!r}")
    tags = doc.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) and t and len(t) <= 64 for t in tags):
        raise _bad(did, source, f"tags must be a list of short strings, got {tags!r}")
    if doc.get("process") and ":" not in doc["process"]:
        raise _bad(did, source, f"process must be 'module:function', got {doc['process']!r}")
    res = doc.get("resources")
    if not isinstance(res, list) or not res:
        raise _bad(did, source, "resources must be a non-empty list")
    resources = []
    seen = set()
    for i, r in enumerate(res):
        where = f"{source}, resource {i + 1}"
        if not isinstance(r, dict):
            raise _bad(did, where, "a resource must be a mapping")
        unknown = sorted(map(str, set(r) - _RES_FIELDS))
        if unknown:
            raise _bad(did, where, f"unknown fields {', '.join(unknown)} (known: {', '.join(sorted(_RES_FIELDS))})")
        url = r.get("url")
        if not isinstance(url, str) or not url.startswith(_SCHEMES) or any(c in url for c in "\r\n\0"):
            raise _bad(did, where, f"url must be an http(s)://, s3://, gs:// or file:// address, got {url!r}")
        where = f"{source}, resource {url}"
        for algo, rx in _HEX.items():
            v = r.get(algo)
            if v is not None and (not isinstance(v, str) or not rx.match(v.lower())):
                raise _bad(did, where, f"{algo} must be {64 if algo == 'sha256' else 32} hex digits, got {v!r}")
        size = r.get("size")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise _bad(did, where, f"size must be a non-negative integer, got {size!r}")
        unpack = r.get("unpack") or "none"
        if unpack not in UNPACK:
            raise _bad(did, where, f"unpack must be one of {' | '.join(UNPACK)}, got {unpack!r}")
        partition = r.get("partition")
        try:
            check_name(partition, "partition")
        except DatasetLayoutError:
            raise _bad(did, where, f"partition must be a name of letters, digits, '.', '_', '-', got {partition!r}")
        default = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
        if unpack == "gz" and default.endswith(".gz"):
            default = default[:-3]
        if unpack in ("zip", "tar"):
            default = ""  # archives unpack into the partition itself unless a path is given
        path = _safe_rel(r.get("path") or default, did, where, "path") if (r.get("path") or default) else ""
        if (partition, path) in seen:
            raise _bad(did, where, f"two resources land at data/{partition}/{path}")
        seen.add((partition, path))
        resources.append(Resource(url=url, partition=partition, path=path, unpack=unpack,
                                  sha256=(r.get("sha256") or None) and r["sha256"].lower(),
                                  md5=(r.get("md5") or None) and r["md5"].lower(), size=size))
    return Definition(id=did, resources=resources, name=doc.get("name") or "",
                      description=doc.get("description") or "", tags=list(tags), license=doc.get("license"),
                      homepage=doc.get("homepage"), process=doc.get("process"), source=source)


def parse_yaml(text: str, source: str) -> Definition:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise DatasetLayoutError(f"{source} is not valid YAML: {' '.join(str(err).split())}") from err
    return parse(doc, source)


# ---------------------------------------------------------------- repositories
@dataclass
class Repository:
    """A place definitions come from: ``kind`` is "path" or "plugin"."""

    name: str
    kind: str
    location: str
    loader: Any = None

    def definitions(self) -> list[Definition]:
        if self.kind == "plugin":
            obj = self.loader
            if callable(obj):
                obj = obj()
            if isinstance(obj, (str, os.PathLike)):
                return _from_location(os.fspath(obj), self.name)
            if not isinstance(obj, (list, tuple)):
                raise DatasetError(f"plugin {self.name} returned {type(obj).__name__}, "
                                   "expected a directory or a list of definitions")
            out = []
            for i, d in enumerate(obj):
                defn = d if isinstance(d, Definition) else parse(d, f"plugin {self.name} #{i + 1}")
                defn.repository = self.name
                out.append(defn)
            return out
        return _from_location(self.location, self.name)

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "location": self.location}


def _from_location(location: str, repo: str) -> list[Definition]:
    from ..cloudfiles import CloudFiles

    if "://" not in location:
        location = "file://" + os.path.abspath(os.path.expanduser(location))
    cf = CloudFiles(location.rstrip("/") + "/")
    out = []
    keys = sorted(k for k in cf.list("", flat=True) if k.endswith((".yaml", ".yml")))
    for key in keys:
        raw = cf.get(key)
        if raw is None or len(raw) > 1024 * 1024:
            raise DatasetLayoutError(f"definition {cf.abspath(key)} is missing or larger than 1 MiB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DatasetLayoutError(f"definition {cf.abspath(key)} is not UTF-8") from None
        d = parse_yaml(text, cf.abspath(key))
        d.repository = repo
        out.append(d)
    return out


def repositories(extra: Optional[list[str]] = None, config_repos: Optional[list[str]] = None) -> list[Repository]:
    """Every configured repository: arguments, environment, config file, then plugins."""
    locs: list[str] = list(extra or [])
    env = os.environ.get("CLOUDFILES_DATASET_REPOSITORIES")
    if env:
        locs += _split_env(env)
    locs += list(config_repos or [])
    out, seen = [], set()
    for loc in locs:
        if loc and loc not in seen:
            seen.add(loc)
            out.append(Repository(name=loc, kind="path", location=loc))
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception as err:  # a broken plugin must not hide the others' errors
            raise DatasetError(f"plugin {ep.name} ({ep.value}) cannot be loaded: {err}") from err
        out.append(Repository(name=ep.name, kind="plugin", location=ep.value, loader=obj))
    return out


def _split_env(value: str) -> list[str]:
    """Colon-separated, but keep ``scheme://`` intact."""
    parts, out = value.split(":"), []
    i = 0
    while i < len(parts):
        p = parts[i]
        if p in ("http", "https", "s3", "gs", "file", "mem") and i + 1 < len(parts) and parts[i + 1].startswith("//"):
            p = p + ":" + parts[i + 1]
            i += 1
        if p:
            out.append(p)
        i += 1
    return out


def definitions(repos: list[Repository]) -> dict[str, Definition]:
    """``{id: definition}``; the first repository to define an id wins."""
    out: dict[str, Definition] = {}
    for r in repos:
        for d in r.definitions():
            out.setdefault(d.id, d)
    return out


def find(did: str, repos: list[Repository]) -> Definition:
    defs = definitions(repos)
    if did not in defs:
        raise DatasetNotFoundError(f"no repository defines dataset {did} "
                                   f"(searched: {', '.join(r.name for r in repos) or 'no repositories configured'})")
    return defs[did]


def score(terms: list[str], did: str, name: str, description: str, tags: list[str]) -> int:
    """Rank of one entry for ``terms`` (0: no match). Every term must match somewhere."""
    total = 0
    for t in (t.lower() for t in terms):
        s = 0
        if t == did.lower() or t == name.lower():
            s += 100
        if t in did.lower().split("."):
            s += 40
        elif t in did.lower():
            s += 20
        if t in name.lower():
            s += 15
        if any(t == x.lower() for x in tags):
            s += 10
        if t in description.lower():
            s += 5
        if s == 0:
            return 0
        total += s
    return total
