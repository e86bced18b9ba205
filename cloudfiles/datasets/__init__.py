"""Datasets shared through a bucket: register, push, pull, ls, verify, tag.

    import cloudfiles
    ds = cloudfiles.dataset("flowers")        # pulls the latest version if not installed
    ds.keys()                                 # partitions: {'train', 'test'}
    for path in ds["train"].iterdir(): ...

Every push makes an immutable version described by a manifest (size and
sha256 of every file's decoded content), written last; pulls verify every
file and install atomically. The module functions use a :class:`Datasets`
store configured from arguments, the environment and
``~/.cloudfiles/config.yaml``; see docs/datasets.md.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from .errors import (
    DatasetError,
    DatasetExistsError,
    DatasetIntegrityError,
    DatasetLayoutError,
    DatasetNotFoundError,
)
from .store import Dataset, Datasets


def _store(kwargs: dict) -> Datasets:
    return Datasets(**kwargs)


def dataset(name: str, auto_install: bool = True, partitions: Optional[Iterable[str]] = None,
            force: bool = False, **kwargs: Any) -> Dataset:
    """The installed dataset ``NAME[@VERSION]``, pulled first if missing and ``auto_install``.

    Extra keyword arguments (``remote``, ``home``, ``secrets``...) configure the store.
    """
    return _store(kwargs).dataset(name, auto_install=auto_install, partitions=partitions, force=force)


def register(local_dir: str, name: str, force: bool = False, **kwargs: Any) -> Dataset:
    """Validate ``local_dir`` and copy it into the local store as ``name``."""
    return _store(kwargs).register(local_dir, name, force=force)


def push(name: str, force: bool = False, tag: Optional[str] = None, compress: Any = None,
         progress: bool = False, **kwargs: Any) -> dict:
    """Upload the local dataset ``name`` as a new version; see :meth:`Datasets.push`."""
    return _store(kwargs).push(name, force=force, tag=tag, compress=compress, progress=progress)


def pull(name: str, force: bool = False, partitions: Optional[Iterable[str]] = None,
         progress: bool = False, **kwargs: Any) -> Dataset:
    """Download, verify and install ``NAME[@VERSION]``; see :meth:`Datasets.pull`."""
    return _store(kwargs).pull(name, force=force, partitions=partitions, progress=progress)


def ls(remote: bool = False, **kwargs: Any) -> list[dict]:
    """Local datasets, or with ``remote=True`` the datasets on the remote."""
    return _store(kwargs).ls(remote=remote)


def verify(name: str, local: bool = True, remote: bool = True, raise_on_error: bool = True,
           **kwargs: Any) -> dict:
    """Check the installed copy and the remote version against the manifest."""
    return _store(kwargs).verify(name, local=local, remote=remote, raise_on_error=raise_on_error)


def tag(name: str, version: str, tag: str, force: bool = False, expect: Optional[str] = "any",
        **kwargs: Any) -> dict:
    """Point ``tag`` at ``version`` of ``name`` (a conditional write); see :meth:`Datasets.tag`."""
    return _store(kwargs).tag(name, version, tag, force=force, expect=expect)


def info(name: str, auto_install: bool = True, **kwargs: Any) -> dict:
    """Local paths of each partition, version and meta of ``NAME[@VERSION]``."""
    return _store(kwargs).info(name, auto_install=auto_install)


def versions(name: str, **kwargs: Any) -> list[dict]:
    """Pushed versions of ``name``, oldest first."""
    return _store(kwargs).versions(name)


def prepare(did: str, trust: bool = False, push: bool = False, force: bool = False, **kwargs: Any) -> Dataset:
    """Download, verify, unpack and install dataset ``did`` from its definition; see docs/registry.md."""
    from .provision import prepare as _prepare

    return _prepare(did, trust=trust, push=push, force=force, **kwargs)


def search(terms: Iterable[str], **kwargs: Any) -> list[dict]:
    """Definitions and remote datasets matching every term, best first."""
    from .provision import search as _search

    return _search([terms] if isinstance(terms, str) else list(terms), **kwargs)


__all__ = ["prepare", "search", "Dataset", "Datasets", "DatasetError", "DatasetExistsError", "DatasetIntegrityError",
           "DatasetLayoutError", "DatasetNotFoundError", "dataset", "info", "ls", "pull", "push",
           "register", "tag", "verify", "versions"]
