"""Backend registry: protocol name -> backend class.

The built-in backends are imported on first use, so that ``import cloudfiles``
never pays for cloud SDKs it will not use; :func:`register_backend` adds a
new service (one module with a :class:`Backend` subclass) under a new
protocol name (docs/backends.md, "Adding a backend").
"""
from __future__ import annotations

import dataclasses
import importlib
import re
import threading
from typing import Optional, Type

from ..exceptions import InvalidInputError, UnsupportedProtocolError
from .base import Backend, BackendOptions, Capabilities, Features, GetResult

_BUILTIN = {
    "file": ("file", "FileBackend"),
    "mem": ("mem", "MemBackend"),
    "s3": ("s3", "S3Backend"),
    "gs": ("gcs", "GCSBackend"),
    "http": ("http", "HTTPBackend"),
    "https": ("http", "HTTPBackend"),
    "middleauth+https": ("http", "HTTPBackend"),  # CAVE: bearer token, see http._auth_header
}
#: Backends added with register_backend (a built-in name here replaces the built-in).
_REGISTERED: dict[str, Type[Backend]] = {}
_lock = threading.Lock()
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[+.\-][a-z0-9]+)*$")


def backend_class(protocol: str) -> Type[Backend]:
    """The backend class for ``protocol`` (imports a built-in module on first use)."""
    cls = _REGISTERED.get(protocol)
    if cls is not None:
        return cls
    try:
        module, name = _BUILTIN[protocol]
    except KeyError:
        raise UnsupportedProtocolError(f"no backend for protocol {protocol!r}") from None
    mod = importlib.import_module(f"{__name__}.{module}")
    return getattr(mod, name)


def register_backend(protocol: str, backend_class: Type[Backend], options_type: Optional[type] = None,
                     *, replace: bool = False) -> None:
    """Serve ``protocol://BUCKET/prefix`` cloudpaths with ``backend_class``.

    ``protocol`` is a lower-case word (letters, digits, ``+ . -`` between them,
    at most 32 characters) that is not a data format (``precomputed`` ...) or an
    alias. ``backend_class`` must subclass :class:`Backend` and declare its
    :class:`Features`. ``options_type`` is the dataclass of options the backend
    takes (a :class:`BackendOptions` subclass; default: the class's own
    ``options_type``, else :class:`BackendOptions`). Taking a name that is
    already served (a built-in such as ``s3``, or an earlier registration)
    raises :class:`InvalidInputError` unless ``replace=True``.

    The registration lives in this process (and children forked after it).
    """
    from .. import paths

    if not isinstance(protocol, str) or len(protocol) > 32 or not _NAME.match(protocol):
        raise InvalidInputError(
            f"protocol {protocol!r} must be a lower-case word of at most 32 characters "
            "(letters and digits, '+', '.' or '-' between them), e.g. 'mystore'")
    if protocol in paths.ALLOWED_FORMATS:
        raise InvalidInputError(f"protocol {protocol!r} is a data format name (precomputed://gs://... style)")
    if protocol in paths.ALIASES or protocol in paths.BASE_ALLOWED_PROTOCOLS and protocol not in _BUILTIN:
        raise InvalidInputError(f"protocol {protocol!r} is already a cloudpath alias or reserved word")
    if not isinstance(backend_class, type) or not issubclass(backend_class, Backend) or backend_class is Backend:
        raise InvalidInputError(f"backend_class must be a subclass of cloudfiles.backends.Backend, got {backend_class!r}")
    if not isinstance(backend_class.features, Features):
        raise InvalidInputError(f"{backend_class.__name__}.features must be a cloudfiles.backends.Features")
    if options_type is not None:
        if not (isinstance(options_type, type) and dataclasses.is_dataclass(options_type)
                and issubclass(options_type, BackendOptions)):
            raise InvalidInputError(
                f"options_type must be a dataclass subclassing cloudfiles.backends.BackendOptions, got {options_type!r}")
    with _lock:
        taken = protocol in _BUILTIN or protocol in _REGISTERED
        if taken and not replace:
            what = "a built-in backend" if protocol in _BUILTIN else f"{_REGISTERED[protocol].__name__}"
            raise InvalidInputError(
                f"protocol {protocol!r} is already served by {what}; pass replace=True to replace it")
        if options_type is not None:
            backend_class.options_type = options_type
        _REGISTERED[protocol] = backend_class
        if protocol not in _BUILTIN:
            paths.register_protocol(protocol)


def unregister_backend(protocol: str) -> None:
    """Undo :func:`register_backend` (a replaced built-in is served by its own backend again)."""
    from .. import paths

    with _lock:
        if _REGISTERED.pop(protocol, None) is None:
            raise InvalidInputError(f"protocol {protocol!r} was not registered")
        if protocol not in _BUILTIN:
            paths.unregister_protocol(protocol)


def registered_protocols() -> list[str]:
    """Every protocol a backend serves now, built-in and registered."""
    return sorted(set(_BUILTIN) | set(_REGISTERED))


__all__ = ["Backend", "BackendOptions", "Capabilities", "Features", "GetResult", "backend_class",
           "register_backend", "unregister_backend", "registered_protocols"]
