"""cloudfiles: fast, robust access to GCS, S3, local disk, memory and web servers.

    from cloudfiles import CloudFiles
    cf = CloudFiles("gs://bucket/dir")
    cf.puts([("a", b"..."), ("b", b"...")], compress="gzip")
    cf.get(["a", "b"])
"""
from . import compression, exceptions, interfaces, lib, paths, secrets, typing  # noqa: F401 - public modules
from .cloudfiles import CloudFile, CloudFiles, dl
from .exceptions import *  # noqa: F401,F403 - the exception hierarchy is public
from .exceptions import __all__ as _exc_all
from .paths import CloudPath
from .resumable_tools import ResumableTransfer

__version__ = "0.1.0"


def clear_memory() -> None:
    """Drop every mem:// bucket and its contents (frees the memory they hold)."""
    from .backends import mem

    mem.clear()


def dataset(name: str, auto_install: bool = True, **kwargs):
    """Open a dataset from the local store, pulling it first if ``auto_install``."""
    from .datasets import dataset as _dataset

    return _dataset(name, auto_install=auto_install, **kwargs)


__all__ = [
    "CloudFiles", "CloudFile", "CloudPath", "ResumableTransfer", "dl", "dataset", "clear_memory", "__version__",
] + list(_exc_all)
