"""What a dataset directory looks like, how it is checked, and the manifest format.

A dataset directory holds a non-empty ``data/`` whose entries are all
directories (partitions) of files, plus optional ``meta.json`` (a JSON
object), ``README.md`` and any other directories. Files whose names start
with ``.cloudfiles-`` at the top level are this library's bookkeeping and are
never part of the dataset.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat as _stat
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from .errors import DatasetLayoutError, combined

MANIFEST_FORMAT = "cloudfiles-dataset/1"
CHECKSUM = "sha256"
LOCAL_RECORD = ".cloudfiles-dataset.json"
LOCAL_MANIFEST = ".cloudfiles-manifest.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HEX_RE = re.compile(r"^[0-9a-f]{4,64}$")
HASH_CHUNK = 4 * 1024 * 1024


def check_name(name: Any, what: str = "dataset name") -> str:
    """Return ``name`` if it is a valid dataset or tag name, else raise naming the rule."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in (".", ".."):
        raise DatasetLayoutError(
            f"invalid {what} {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def split_ref(ref: str) -> tuple[str, Optional[str]]:
    """``NAME[@VERSION]`` -> ``(name, version or None)``, both validated."""
    if not isinstance(ref, str):
        raise DatasetLayoutError(f"a dataset reference must be a str, got {type(ref).__name__}")
    name, at, version = ref.partition("@")
    check_name(name)
    if at:
        check_name(version, "version or tag")
        return name, version
    return name, None


def looks_like_id(value: str) -> bool:
    """True for strings that may be (a prefix of) a version id."""
    return bool(_HEX_RE.match(value))


@dataclass(frozen=True)
class LocalFile:
    """One file of a local dataset: its '/'-separated path in the dataset, absolute path, size, mtime."""

    rel: str
    abspath: str
    size: int
    mtime_ns: int

    @property
    def partition(self) -> Optional[str]:
        parts = self.rel.split("/")
        return parts[1] if parts[0] == "data" and len(parts) > 2 else None


def _walk(root: str, rel: str, out: list[LocalFile], problems: list[str]) -> None:
    try:
        entries = sorted(os.scandir(os.path.join(root, rel) if rel else root), key=lambda e: e.name)
    except OSError as err:
        problems.append(f"cannot read directory {rel or '.'}: {err.strerror or err}")
        return
    for entry in entries:
        r = f"{rel}/{entry.name}" if rel else entry.name
        if not rel and entry.name.startswith(".cloudfiles-"):
            continue
        if "\\" in entry.name or "\n" in entry.name:
            problems.append(f"{r}: file names may not contain a backslash or newline")
            continue
        try:
            st = os.stat(entry.path)  # follows symlinks: their targets are the content
        except OSError:
            problems.append(f"{r}: broken symbolic link or unreadable entry")
            continue
        if _stat.S_ISDIR(st.st_mode):
            _walk(root, r, out, problems)
        elif _stat.S_ISREG(st.st_mode):
            out.append(LocalFile(r, entry.path, st.st_size, st.st_mtime_ns))
        else:
            problems.append(f"{r}: not a regular file or directory")


def scan(root: str, validate: bool = True) -> list[LocalFile]:
    """Every file of the dataset at ``root``, sorted by path; with ``validate``,
    raise :class:`DatasetLayoutError` listing every layout violation at once."""
    problems: list[str] = []
    if not os.path.isdir(root):
        raise DatasetLayoutError(f"{root} is not a directory", [f"{root} is not a directory"])
    files: list[LocalFile] = []
    data = os.path.join(root, "data")
    if not os.path.isdir(data):
        problems.append("data/ is missing (a dataset needs a data/ directory of partitions)")
    else:
        entries = sorted(os.listdir(data))
        if not entries:
            problems.append("data/ is empty (it needs at least one partition directory)")
        for name in entries:
            p = os.path.join(data, name)
            if not os.path.isdir(p):
                problems.append(f"data/{name} is a file: data/ may hold only partition directories")
    meta = os.path.join(root, "meta.json")
    if os.path.exists(meta):
        try:
            with open(meta, "rb") as f:
                value = json.loads(f.read())
            if not isinstance(value, dict):
                problems.append(f"meta.json must hold a JSON object, not {type(value).__name__}")
        except (OSError, ValueError) as err:
            problems.append(f"meta.json is not valid JSON: {err}")
    _walk(root, "", files, problems)
    if os.path.isdir(data):
        for name in sorted(os.listdir(data)):
            if os.path.isdir(os.path.join(data, name)) and not any(
                f.rel.startswith(f"data/{name}/") for f in files
            ):
                problems.append(f"data/{name}/ holds no files (object stores cannot keep empty directories)")
    if problems and validate:
        raise combined(DatasetLayoutError, f"{root} is not a valid dataset", problems)
    return files


def read_meta(root: str) -> dict:
    """The dataset's ``meta.json`` as a dict (empty when absent)."""
    path = os.path.join(root, "meta.json")
    try:
        with open(path, "rb") as f:
            value = json.loads(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise DatasetLayoutError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise DatasetLayoutError(f"{path} must hold a JSON object, not {type(value).__name__}")
    return value


def fingerprint(name: str, files: Iterable[LocalFile]) -> str:
    """A version id from the local tree's paths, sizes and modification times.

    It is known before any byte is read, stays the same while the tree is
    unchanged (so an interrupted push resumes into the same place), and
    changes whenever a file is added, removed, resized or rewritten.
    """
    h = hashlib.sha256(f"{MANIFEST_FORMAT}\0{name}\n".encode())
    for f in sorted(files, key=lambda f: f.rel):
        h.update(f"{f.rel}\0{f.size}\0{f.mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def content_hash(entries: Iterable[dict]) -> str:
    """A hash of the dataset's content alone (paths, sizes, sha256s)."""
    h = hashlib.sha256()
    for e in sorted(entries, key=lambda e: e["path"]):
        h.update(f"{e['path']}\0{e['size']}\0{e['sha256']}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def sha256_file(path: str) -> tuple[str, int]:
    """sha256 hex and size of a local file, read in chunks."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(HASH_CHUNK)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def partitions_of(entries: Iterable[dict]) -> dict[str, dict]:
    """``{partition: {'files': n, 'bytes': n}}`` from manifest entries."""
    out: dict[str, dict] = {}
    for e in entries:
        parts = e["path"].split("/")
        if parts[0] == "data" and len(parts) > 2:
            p = out.setdefault(parts[1], {"files": 0, "bytes": 0})
            p["files"] += 1
            p["bytes"] += e["size"]
    return dict(sorted(out.items()))


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _bad(where: str, field: str, value: Any, why: str) -> "DatasetIntegrityError":
    from .errors import DatasetIntegrityError

    shown = repr(value) if not isinstance(value, str) or len(value) <= 200 else repr(value[:200]) + "..."
    return DatasetIntegrityError(f"{where}: field {field!r} is {shown}: {why}", [f"{field}: {why}"])


def check_component(value: Any, where: str, field: str) -> str:
    """One path component (a partition name): a non-empty str without '/', NUL, '.' or '..'."""
    if not isinstance(value, str) or not value or "/" in value or "\0" in value or value in (".", "..") \
            or "\\" in value or "\n" in value:
        raise _bad(where, field, value, "must be one directory name (no '/', '\\', newline, NUL, '.' or '..')")
    return value


def check_id(value: Any, where: str, field: str, optional: bool = False) -> Optional[str]:
    """A name or version id that becomes part of a local path or remote key."""
    if value is None and optional:
        return None
    try:
        return check_name(value, field)
    except DatasetLayoutError as err:
        raise _bad(where, field, value, str(err).split(": ", 1)[-1]) from None


def check_entry_path(value: Any, where: str, field: str) -> str:
    """A dataset-relative file path: relative, '/'-separated, no empty/'.'/'..' part, not bookkeeping."""
    from .. import keys
    from ..exceptions import UnsafeKeyError

    try:
        keys.check_relative(value, "path")
    except UnsafeKeyError as err:
        raise _bad(where, field, value, str(err)) from None
    if "\\" in value or "\n" in value:
        raise _bad(where, field, value, "file names may not contain a backslash or newline")
    if value.startswith(".cloudfiles-") or _TMP_MARKS.search(value):
        raise _bad(where, field, value, "names this library's bookkeeping files")
    return value


_TMP_MARKS = re.compile(r"\.(cfpart|cflink|cfold)-")


def check_manifest(doc: Any, where: str, name: Optional[str] = None, version: Optional[str] = None,
                   local: bool = False) -> dict:
    """Validate a manifest read from ``where`` (untrusted input); return it.

    Every field that becomes a local path or a remote key is checked before
    any use: ``name`` and ``version`` (equal to ``name``/``version`` when
    given), ``parent``, each ``partitions`` name, and each entry's ``path``
    (a clean relative path; its partition one directory name), ``key``
    (``versions/<id>/<clean path>`` inside the dataset's remote directory;
    ``local`` manifests of prepared datasets may have an empty key and no
    version), ``size`` and ``sha256``. Paths must be unique. A violation is
    :class:`DatasetIntegrityError` naming the field.
    """
    from .errors import DatasetIntegrityError

    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("files"), list):
        raise DatasetIntegrityError(f"{where} is not a {MANIFEST_FORMAT} manifest")
    if "name" in doc or name is not None:
        check_id(doc.get("name"), where, "name")
        if name is not None and doc["name"] != name:
            raise _bad(where, "name", doc["name"], f"the manifest belongs to another dataset than {name}")
    check_id(doc.get("version"), where, "version", optional=local)
    if version is not None and doc.get("version") != version:
        raise _bad(where, "version", doc.get("version"), f"the manifest's file name says version {version}")
    check_id(doc.get("parent"), where, "parent", optional=True)
    parts = doc.get("partitions", {})
    if not isinstance(parts, dict):
        raise _bad(where, "partitions", parts, "must be an object of partition names")
    for p in parts:
        check_component(p, where, "partitions")
    seen: set[str] = set()
    for i, e in enumerate(doc["files"]):
        if not isinstance(e, dict):
            raise _bad(where, f"files[{i}]", e, "must be an object")
        path = check_entry_path(e.get("path"), where, f"files[{i}].path")
        if path in seen:
            raise _bad(where, f"files[{i}].path", path, "is listed twice")
        seen.add(path)
        bits = path.split("/")
        if bits[0] == "data" and len(bits) > 2:
            check_component(bits[1], where, f"files[{i}].path (partition)")
        size = e.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _bad(where, f"files[{i}].size", size, "must be a non-negative integer")
        if not isinstance(e.get("sha256"), str) or not _SHA256_RE.match(e["sha256"]):
            raise _bad(where, f"files[{i}].sha256", e.get("sha256"), "must be 64 lowercase hex digits")
        key = e.get("key")
        if local and key == "":
            continue
        if not isinstance(key, str) or not key.startswith("versions/"):
            raise _bad(where, f"files[{i}].key", key, "must name an object under versions/<id>/ of this dataset")
        _, vid, rest = (key.split("/", 2) + ["", ""])[:3]
        check_id(vid, where, f"files[{i}].key (version)")
        check_entry_path(rest, where, f"files[{i}].key")
        enc = e.get("encoding")
        if enc is not None and not isinstance(enc, str):
            raise _bad(where, f"files[{i}].encoding", enc, "must be a string or null")
    return doc
