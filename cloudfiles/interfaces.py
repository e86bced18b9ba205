"""Names client code imports from cloud-files 6.4.3's ``cloudfiles.interfaces``.

The reference keeps its storage drivers here; ours live in
``cloudfiles.backends``. This module provides the module-level constants
other libraries read from it (``COMPRESSION_EXTENSIONS`` above all: the
filename suffixes file:// uses for each stored encoding), derived from
:mod:`cloudfiles.compression` so there is one source for each rule.
"""
from __future__ import annotations

import re

from .compression import COMPRESSION_TYPES, FILE_VARIANTS, SUFFIXES  # noqa: F401 - re-exported as in the reference

# Suffixes a local file may carry for its encoding, in the reference's order.
COMPRESSION_EXTENSIONS = tuple(SUFFIXES[e] for e in ("gzip", "br", "zstd", "bzip2", "xz"))

# ``compress=`` values that mean gzip.
GZIP_TYPES = (True, "gzip", 1)

# The order file:// probes a key's variants in: (suffix, encoding).
EXT_TEST_SEQUENCE = list(FILE_VARIANTS)

# An ETag ending in ``<digits>-`` (what some NFS-backed servers emit).
NFS_ETAG_REGEXP = re.compile(r"\d+\-$")


def reset_connection_pools() -> None:
    """Forget the shared HTTP connection pools (``cloudfiles.reset_connection_pools``)."""
    from .connections import reset_connection_pools as reset

    reset()


def __getattr__(name: str):
    # Clients (and the reference's tests) reach the lock library as
    # ``cloudfiles.interfaces.fasteners``; import it only when asked.
    if name == "fasteners":
        import fasteners

        return fasteners
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["COMPRESSION_EXTENSIONS", "COMPRESSION_TYPES", "EXT_TEST_SEQUENCE", "GZIP_TYPES", "NFS_ETAG_REGEXP",
           "reset_connection_pools"]
