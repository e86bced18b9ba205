"""cloudfiles: fast, robust access to GCS, S3, local disk, memory and web servers.

    from cloudfiles import CloudFiles
    cf = CloudFiles("gs://bucket/dir")
    cf.puts([("a", b"..."), ("b", b"...")], compress="gzip")
    cf.get(["a", "b"])
"""
from .backends import register_backend
from .cloudfiles import CloudFile, CloudFiles, dl
from .exceptions import *  # noqa: F401,F403 - the exception hierarchy is public
from .exceptions import __all__ as _exc_all
from .paths import CloudPath

__version__ = "0.1.0"


# Public modules and names imported on first use (``cloudfiles.lib``, ``cloudfiles.ResumableTransfer``
# ... work after a bare ``import cloudfiles``, as with cloud-files 6.4.3) so that ``import
# cloudfiles`` stays light (tests/test_startup.py). ``cloudfiles.sync`` is a module that can be called:
# ``cloudfiles.sync(src, dest, ...)`` runs :func:`cloudfiles.sync.sync`.
_LAZY_MODULES = ("compression", "exceptions", "filters", "interfaces", "lib", "paths", "resumable_tools", "secrets",
                 "sync", "typing")


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "ResumableTransfer":
        from .resumable_tools import ResumableTransfer

        return ResumableTransfer
    if name == "SyncResult":
        from .sync import SyncResult

        return SyncResult
    raise AttributeError(f"module 'cloudfiles' has no attribute {name!r}")


def clear_memory() -> None:
    """Drop every mem:// bucket and its contents (frees the memory they hold)."""
    from .backends import mem

    mem.clear()


def reset_connection_pools() -> None:
    """Forget the shared HTTP connection pools: clients built afterwards open fresh connections."""
    from .connections import reset_connection_pools as reset

    reset()


def dataset(name: str, auto_install: bool = True, **kwargs):
    """Open a dataset from the local store, pulling it first if ``auto_install``."""
    from .datasets import dataset as _dataset

    return _dataset(name, auto_install=auto_install, **kwargs)


__all__ = [
    "CloudFiles", "CloudFile", "CloudPath", "ResumableTransfer", "dl", "dataset", "clear_memory",
    "reset_connection_pools", "register_backend", "sync", "SyncResult", "__version__",
] + list(_exc_all)
