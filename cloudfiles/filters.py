"""Include/exclude glob patterns on keys: the one rule ``sync`` and ``cp -r`` share.

A pattern is matched against a file's key relative to the root being copied
(always with '/' separators), never against the full cloudpath:

* ``*`` matches any run of characters except '/'; ``?`` one character except
  '/'; ``[abc]``, ``[a-z]`` and ``[!abc]`` one character of (not of) a set,
  never '/'; ``**`` matches any run of characters, '/' included. ``**/`` at
  the start or after a '/' also matches no directory at all, so
  ``**/*.png`` matches ``a.png`` as well as ``x/y/a.png``.
* A pattern without a '/' matches the key's last component at any depth:
  ``*.tmp`` matches ``a.tmp`` and ``x/y/a.tmp``.
* A pattern with a '/' matches the whole key from the root: ``logs/*.txt``
  matches ``logs/a.txt`` but neither ``x/logs/a.txt`` nor ``logs/d/a.txt``.
  A leading '/' only anchors: ``/a.txt`` matches ``a.txt`` at the root alone.
* A trailing '/' names a directory and matches everything below it:
  ``tmp/`` matches ``tmp/a`` and ``x/tmp/b/c`` (no other '/', so any depth);
  ``data/tmp/`` matches ``data/tmp/...`` only.

Selection: a key is selected when it matches at least one include pattern
(or no include pattern was given) **and** no exclude pattern. Exclude wins;
the order in which patterns are given does not matter.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional, Union

from .exceptions import InvalidInputError

Patterns = Union[None, str, Iterable[str]]

MAX_PATTERN = 4096


def _translate(body: str, pattern: str) -> str:
    """Regex source for a glob body (no anchoring decisions here)."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if body.startswith("**", i):
            j = i
            while j < n and body[j] == "*":
                j += 1
            at_segment_start = i == 0 or body[i - 1] == "/"
            if at_segment_start and j < n and body[j] == "/":
                out.append("(?:.*/)?")  # '**/': zero or more whole directories
                i = j + 1
            else:
                out.append(".*")
                i = j
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = body.find("]", i + 1)
            if end < 0:
                raise InvalidInputError(f"filter pattern {pattern!r}: '[' without a closing ']'")
            spec = body[i + 1:end]
            negate = spec.startswith("!")
            if negate:
                spec = spec[1:]
            if not spec:
                raise InvalidInputError(f"filter pattern {pattern!r}: an empty character set []")
            if "/" in spec:
                raise InvalidInputError(f"filter pattern {pattern!r}: a character set cannot hold '/'")
            parts = []
            for ch in spec:
                parts.append("\\" + ch if ch in "\\^[" else ch)
            out.append("[" + ("^/" if negate else "") + "".join(parts) + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_pattern(pattern: str) -> re.Pattern:
    """The regex (for ``fullmatch`` on a relative key) of one glob pattern (rules above)."""
    if not isinstance(pattern, str):
        raise InvalidInputError(f"a filter pattern must be a str, got {type(pattern).__name__}: {pattern!r}")
    if not pattern or pattern in ("/",) or len(pattern) > MAX_PATTERN:
        raise InvalidInputError(f"filter pattern {pattern[:80]!r}: must be 1 to {MAX_PATTERN} characters "
                                "and name something")
    if "\0" in pattern:
        raise InvalidInputError(f"filter pattern {pattern!r}: contains a NUL character")
    body = pattern
    anchored = body.startswith("/")
    body = body.lstrip("/")
    directory = body.endswith("/")
    body = body.rstrip("/")
    if not body:
        raise InvalidInputError(f"filter pattern {pattern!r}: names no file or directory")
    if "/" in body:
        anchored = True
    source = _translate(body, pattern)
    if directory:
        source += "/.*"
    if not anchored:
        source = "(?:.*/)?" + source  # any depth: match the last component(s)
    try:
        return re.compile(source, re.DOTALL)
    except re.error as err:  # a character range such as [z-a]
        raise InvalidInputError(f"filter pattern {pattern!r}: {err}") from None


def _as_list(patterns: Patterns, what: str) -> list[str]:
    if patterns is None:
        return []
    if isinstance(patterns, str):
        return [patterns]
    try:
        items = list(patterns)
    except TypeError:
        raise InvalidInputError(f"{what} must be a str or a list of str, got {type(patterns).__name__}") from None
    return items


class KeyFilter:
    """Selects keys by include/exclude glob patterns (see the module docstring)."""

    def __init__(self, include: Patterns = None, exclude: Patterns = None):
        self.include = _as_list(include, "include")
        self.exclude = _as_list(exclude, "exclude")
        self._inc = [compile_pattern(p) for p in self.include]
        self._exc = [compile_pattern(p) for p in self.exclude]

    @property
    def active(self) -> bool:
        """False when every key is selected (no pattern at all)."""
        return bool(self._inc or self._exc)

    def __call__(self, key: str) -> bool:
        """True when ``key`` (relative to the root) is selected."""
        if self._inc and not any(rx.fullmatch(key) for rx in self._inc):
            return False
        return not any(rx.fullmatch(key) for rx in self._exc)

    def __repr__(self) -> str:
        return f"KeyFilter(include={self.include!r}, exclude={self.exclude!r})"


def key_filter(include: Patterns = None, exclude: Patterns = None) -> Optional[KeyFilter]:
    """A :class:`KeyFilter`, or ``None`` when no pattern was given (everything selected)."""
    f = KeyFilter(include, exclude)
    return f if f.active else None
