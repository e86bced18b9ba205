"""Validators for specification fields. Each takes a value or a list of values
(a field is a list over an asset's files) and raises :class:`ValidationError`
naming every bad item."""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable


class ValidationError(ValueError):
    """A field value breaks a rule."""


def _each(value: Any, ok: Callable[[Any], bool], message: str) -> bool:
    items = value if isinstance(value, (list, tuple)) else [value]
    bad = [x for x in items if not ok(x)]
    if bad:
        raise ValidationError("; ".join(message.format(x) for x in bad))
    return True


def is_eq(value: Any, expected: Any) -> bool:
    """Every item equals ``expected``."""
    return _each(value, lambda x: x == expected, f"{{!r}} is not equal to {expected!r}")


def is_in(value: Any, options: Iterable) -> bool:
    """Every item is one of ``options``."""
    opts = list(options)
    return _each(value, lambda x: x in opts, f"{{!r}} is not in {opts!r}")


def is_lt(value: Any, limit: Any) -> bool:
    return _each(value, lambda x: x < limit, f"{{!r}} is not less than {limit!r}")


def is_gt(value: Any, limit: Any) -> bool:
    return _each(value, lambda x: x > limit, f"{{!r}} is not greater than {limit!r}")


def is_frame(value: Any) -> bool:
    """Every item is a frame number 0..9999."""
    return _each(value, lambda x: isinstance(x, int) and 0 <= x <= 9999, "{!r} is not a frame between 0 and 9999")


def is_extension(value: Any) -> bool:
    """Every item is a file extension (letters and digits)."""
    return _each(value, lambda x: isinstance(x, str) and re.fullmatch(r"[a-zA-Z0-9]+", x) is not None,
                 "{!r} is not a valid extension")


def is_descriptor(value: Any) -> bool:
    return _each(value, lambda x: isinstance(x, str) and re.fullmatch(r"(?!(master|final|last))[a-z0-9][a-z0-9-]*", x)
                 is not None, "{!r} is not a valid descriptor")


def is_version(value: Any) -> bool:
    return _each(value, lambda x: isinstance(x, int) and 1 <= x <= 999, "{!r} is not a version between 1 and 999")
