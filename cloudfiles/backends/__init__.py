"""Backend registry: protocol name -> backend class, imported on first use so
that ``import cloudfiles`` never pays for cloud SDKs it will not use."""
from __future__ import annotations

import importlib
from typing import Type

from ..exceptions import UnsupportedProtocolError
from .base import Backend, BackendOptions, Capabilities, Features, GetResult

_REGISTRY = {
    "file": ("file", "FileBackend"),
    "mem": ("mem", "MemBackend"),
    "s3": ("s3", "S3Backend"),
    "gs": ("gcs", "GCSBackend"),
    "http": ("http", "HTTPBackend"),
    "https": ("http", "HTTPBackend"),
    "middleauth+https": ("http", "HTTPBackend"),  # CAVE: bearer token, see http._auth_header
}


def backend_class(protocol: str) -> Type[Backend]:
    """The backend class for ``protocol`` (imports its module on first use)."""
    try:
        module, name = _REGISTRY[protocol]
    except KeyError:
        raise UnsupportedProtocolError(f"no backend for protocol {protocol!r}") from None
    mod = importlib.import_module(f"{__name__}.{module}")
    return getattr(mod, name)


__all__ = ["Backend", "BackendOptions", "Capabilities", "Features", "GetResult", "backend_class"]
