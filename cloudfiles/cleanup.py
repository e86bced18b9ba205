"""Finding and removing what interrupted writers leave behind.

A writer killed mid-way (kill -9, power loss) can leave:

* file://: temporary files named ``*.cftmp-*`` beside their targets (and
  ``*.cfpart-*`` from dataset installs);
* s3://: incomplete multipart uploads, which are invisible to listings but
  stored (and billed) until aborted;
* gs://: temporary part objects of composite uploads under
  ``gs://BUCKET/_cloudfiles_tmp/``.

:func:`cleanup` finds those older than a threshold under a cloudpath and, unless
``dry_run``, removes them. Writers also remove their own stale temporaries on
file:// the first time a process writes in a directory (see
:mod:`cloudfiles.backends.localwrite`).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Optional, Union

from .exceptions import InvalidInputError, UnsupportedOperationError

if TYPE_CHECKING:
    from .objects import ObjectCore

DEFAULT_OLDER_THAN = 24 * 3600.0  # seconds: a temporary untouched this long is abandoned
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class Leftover:
    """One abandoned temporary: what it is, where, how old (seconds) and how big (bytes, if known)."""

    kind: str  # "temporary file", "multipart upload", "composite part"
    where: str  # a cloudpath, shown to the user
    age: float
    size: Optional[int] = None
    handle: Any = field(default=None, repr=False)  # what the backend needs to remove it


def parse_age(value: Union[str, int, float]) -> float:
    """Seconds from ``90``, ``"90s"``, ``"30m"``, ``"1h"``, ``"2d"`` or ``"1w"``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(value).lower())
        if not m:
            raise InvalidInputError(f"age {value!r} is not a number with an optional unit s, m, h, d or w (e.g. 2d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds < 0:
        raise InvalidInputError(f"age must not be negative, got {value!r}")
    return seconds


def find(cf: "ObjectCore", older_than: Union[str, float] = DEFAULT_OLDER_THAN) -> Iterator[Leftover]:
    """Leftovers under ``cf``'s cloudpath older than ``older_than`` (seconds or ``"2d"``)."""
    if not cf.backend.features.leftovers:
        raise UnsupportedOperationError(f"{cf.protocol}:// keeps no temporaries to clean up")
    finder = cf.backend.leftovers
    cutoff = time.time() - parse_age(older_than)
    return finder(cutoff)


def cleanup(cf: "ObjectCore", older_than: Union[str, float] = DEFAULT_OLDER_THAN,
            dry_run: bool = True) -> list[Leftover]:
    """Find leftovers (see :func:`find`) and, unless ``dry_run``, remove each; returns them."""
    found = list(find(cf, older_than))
    if not dry_run:
        for item in found:
            cf.call(cf.backend.remove_leftover, item)
    return found


def human_age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
