"""Unpacking downloaded archives, treated as untrusted input.

Members that would land outside the target (absolute paths, ``..``, links
pointing outside, devices) are refused, and the bytes written are counted
against a bound so a small archive cannot fill the disk.
"""
from __future__ import annotations

import os
import shutil
from typing import BinaryIO

from .errors import DatasetError

MAX_UNPACKED = 64 * 1024 ** 3
_CHUNK = 1024 * 1024


class UnpackError(DatasetError):
    """An archive is corrupt, unsafe or too large to unpack."""


def _target(root: str, name: str) -> str:
    name = name.replace("\\", "/")
    if name.startswith("/") or os.path.isabs(name) or ".." in name.split("/") or "\0" in name:
        raise UnpackError(f"member {name!r} would land outside the target")
    path = os.path.realpath(os.path.join(root, name))
    if path != os.path.realpath(root) and not path.startswith(os.path.realpath(root) + os.sep):
        raise UnpackError(f"member {name!r} would land outside the target")
    return path


class _Budget:
    def __init__(self, limit: int):
        self.left = limit

    def copy(self, src: BinaryIO, dest: str) -> None:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as out:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                self.left -= len(chunk)
                if self.left < 0:
                    raise UnpackError("unpacked content exceeds the size limit (a zip bomb?)")
                out.write(chunk)


def gunzip(src: str, dest: str, limit: int = MAX_UNPACKED) -> None:
    import gzip
    import zlib

    try:
        with gzip.open(src, "rb") as f:
            _Budget(limit).copy(f, dest)
    except (OSError, EOFError, zlib.error) as err:
        raise UnpackError(f"not a valid gzip file: {err}") from err


def unzip(src: str, root: str, limit: int = MAX_UNPACKED) -> None:
    import zipfile

    budget = _Budget(limit)
    try:
        with zipfile.ZipFile(src) as z:
            for info in z.infolist():
                target = _target(root, info.filename)
                mode = (info.external_attr >> 16) & 0o170000
                if mode == 0o120000:
                    raise UnpackError(f"member {info.filename!r} is a symbolic link")
                if info.is_dir():
                    os.makedirs(target, exist_ok=True)
                    continue
                with z.open(info) as f:
                    budget.copy(f, target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        raise UnpackError(f"not a valid zip file: {err}") from err


def untar(src: str, root: str, limit: int = MAX_UNPACKED) -> None:
    import tarfile

    budget = _Budget(limit)
    try:
        with tarfile.open(src, "r:*") as t:
            for m in t:
                target = _target(root, m.name)
                if m.isdir():
                    os.makedirs(target, exist_ok=True)
                elif m.isfile():
                    f = t.extractfile(m)
                    assert f is not None
                    budget.copy(f, target)
                elif m.issym() or m.islnk():
                    base = os.path.dirname(target) if m.issym() else root
                    _target(root, os.path.relpath(os.path.join(base, m.linkname), root)
                            if not os.path.isabs(m.linkname) else m.linkname)
                    src_path = _target(root, os.path.relpath(os.path.join(base, m.linkname), root))
                    if not os.path.isfile(src_path):
                        raise UnpackError(f"link {m.name!r} points at {m.linkname!r}, not an unpacked file")
                    budget.left -= os.path.getsize(src_path)
                    if budget.left < 0:
                        raise UnpackError("unpacked content exceeds the size limit")
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copyfile(src_path, target)  # a copy: no link leaves the dataset
                else:
                    raise UnpackError(f"member {m.name!r} is not a file, directory or link")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise UnpackError(f"not a valid tar file: {err}") from err
