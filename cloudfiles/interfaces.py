"""cloud-files 6.4.3's ``cloudfiles.interfaces`` names that client code reads.

The reference's storage interface classes (``FileInterface``,
``S3Interface`` ...) wrap its private connection objects; this library's
backends live in :mod:`cloudfiles.backends` instead (docs/migrating.md).
"""
from __future__ import annotations

from .compression import SUFFIXES as _SUFFIXES

#: File-name suffixes of compressed copies (``info.gz`` ...), in the reference's order.
COMPRESSION_EXTENSIONS = tuple(_SUFFIXES[e] for e in ("gzip", "br", "zstd", "bzip2", "xz"))
#: ``compress=`` values that mean gzip.
GZIP_TYPES = (True, "gzip", 1)
