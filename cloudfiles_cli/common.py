"""What every command shares: path resolution, wildcards, expressions, errors.

A user path resolves to a *base* directory (a cloudpath ending in '/') and a
*key* under it. "Directory" means: an existing local directory, a cloudpath
ending in '/', or (for cloud paths, when it matters) a prefix with objects
below it (``prefix/``). Wildcards ``*`` (within one path segment), ``**``
(across segments) and ``?`` are matched against one listing of the longest
literal prefix before the first wildcard.
"""
from __future__ import annotations

import itertools
import os
import re
import sys
from dataclasses import dataclass
from typing import Iterable, Iterator, NoReturn, Optional

import click

from cloudfiles import CloudFiles, paths
from cloudfiles.compression import SUFFIX_TO_ENCODING
from cloudfiles.exceptions import CloudFilesError, TransferError, UnsafeKeyError

MAX_ERROR_LINES = 20


class CLIError(Exception):
    """A failure to report as one line on stderr (exit status 1)."""


def one_line(text: object) -> str:
    """Collapse whitespace so an error always fits on one line."""
    return " ".join(str(text).split())


# Library messages advise Python arguments; on the command line the flag is the advice.
_ADVICE = [
    (re.compile(r"Pass secrets=, add a secrets file, or use no_sign_request=True"),
     "Add a secrets file, or use --no-sign-request"),
    (re.compile(r"Pass secrets=, or no_sign_request=True"), "Add a secrets file, or use --no-sign-request"),
    (re.compile(r"\bno_sign_request=True\b"), "--no-sign-request"),
    (re.compile(r"\buse --trust / trust=True\b"), "use --trust"),
    (re.compile(r"\btrust=True\b"), "--trust"),
    (re.compile(r"\buse force\b"), "use --force"),
]


def cli_advice(text: str) -> str:
    """Rewrite advice that names Python arguments so it names this CLI's flags."""
    for pattern, flag in _ADVICE:
        text = pattern.sub(flag, text)
    return text


def error(command: str, message: str) -> None:
    from cloudfiles.redact import redact

    click.echo(redact(f"cloudfiles: {command}: {cli_advice(one_line(message))}"), err=True)


no_sign_option = click.option(
    "--no-sign-request", is_flag=True,
    help="Anonymous access to the source (unsigned s3:// requests, gs:// without credentials).")


def read_options(no_sign_request: bool = False, no_auth: bool = False) -> dict:
    """:class:`CloudFiles` keywords for reading the source: ``{}`` or anonymous access."""
    return {"no_sign_request": True} if (no_sign_request or no_auth) else {}


def fail(message: str) -> NoReturn:
    raise CLIError(message)


def report_transfer_error(command: str, err: TransferError, where=None) -> None:
    """One stderr line per failed path (the first MAX_ERROR_LINES), then a count."""
    items = list(err.errors.items())
    for key, cause in items[:MAX_ERROR_LINES]:
        name = where(key) if where else key
        if isinstance(cause, UnsafeKeyError):
            name = where("") if where else ""  # joining an unsafe key to a path would misname it
        text = str(cause)
        error(command, text if name in text else f"{name}: {text}")
    if len(items) > MAX_ERROR_LINES:
        error(command, f"... and {len(items) - MAX_ERROR_LINES} more files failed")


# ------------------------------------------------------------------ paths
@dataclass
class Loc:
    """A resolved user path: ``base`` directory cloudpath (ends in '/') + ``key``."""

    raw: str
    url: str
    base: str
    key: str
    protocol: str

    @property
    def local_path(self) -> Optional[str]:
        return self.url[len("file://"):] if self.protocol == "file" else None

    @property
    def name(self) -> str:
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    def as_dir(self) -> str:
        """This location as a directory cloudpath (ends in '/')."""
        return self.url if self.url.endswith("/") else self.url + "/"


def resolve(path: str) -> Loc:
    """Parse a user path (bare local paths allowed) into a :class:`Loc`.

    ``key`` is the last path component ('' for a bucket or filesystem root);
    a path typed with a trailing '/' keeps it (``dir/``).
    """
    if path == "":
        fail("empty path")
    trailing = path.endswith("/") or path.endswith(os.sep)
    cp = paths.parse(path)
    url = paths.ascloudpath(cp)
    if trailing and not url.endswith("/"):
        url += "/"
    root = (cp.protocol == "file" and cp.path in ("/", "")) or (cp.protocol != "file" and not cp.path)
    if root:
        url = url if url.endswith("/") else url + "/"
        return Loc(path, url, url, "", cp.protocol)
    head, _, name = url.rstrip("/").rpartition("/")
    key = name + ("/" if url.endswith("/") else "")
    return Loc(path, url, head + "/", key, cp.protocol)


def is_local_dir(loc: Loc) -> bool:
    return loc.protocol == "file" and os.path.isdir(loc.local_path or "")


def is_dir(loc: Loc, probe_cloud: bool = True, **options) -> bool:
    """True for local directories, paths ending in '/', bucket roots, and (with
    ``probe_cloud``) cloud prefixes that have objects below ``prefix/``.
    ``options`` are extra :class:`CloudFiles` keywords for the probe."""
    if loc.protocol == "file":
        return os.path.isdir(loc.local_path or "")
    if loc.url.endswith("/") or loc.key == "":
        return True
    if not probe_cloud:
        return False
    return CloudFiles(loc.base, **options).isdir(loc.key)


def strip_local_suffix(loc: Loc) -> tuple[str, Optional[str]]:
    """For an on-disk ``name.gz`` (etc.) return ``(name, '.gz')``: the key the file
    backend knows it by; other keys come back unchanged with ``None``."""
    if loc.protocol != "file":
        return loc.key, None
    stem, ext = os.path.splitext(loc.key)
    if ext in SUFFIX_TO_ENCODING and stem and os.path.isfile(loc.local_path or ""):
        if not os.path.exists((loc.local_path or "")[: -len(ext)]):
            return stem, ext
    return loc.key, None


# -------------------------------------------------------------- wildcards
_WILD = re.compile(r"[*?]")


def has_wildcard(path: str) -> bool:
    return bool(_WILD.search(path))


def glob_regex(pattern: str) -> re.Pattern:
    """``**`` matches across '/', ``*`` within one segment, ``?`` one character."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


@dataclass
class Glob:
    """A wildcard path: list ``base`` at ``prefix`` once, keep keys matching ``regex``."""

    base: str
    prefix: str
    regex: re.Pattern
    recursive: bool

    def matches(self, cf: CloudFiles, files_only: bool = True, sizes: bool = False) -> Iterator:
        """Matching keys (or ``(key, size)`` pairs) relative to ``base``."""
        listing = cf.list_sizes(self.prefix, flat=not self.recursive) if sizes else \
            ((k, None) for k in cf.list(self.prefix, flat=not self.recursive))
        for key, size in listing:
            is_dirent = key.endswith("/")
            if is_dirent and files_only:
                continue
            if self.regex.fullmatch(key.rstrip("/") if is_dirent else key):
                yield (key, size) if sizes else key


def parse_glob(path: str) -> Glob:
    """Split a wildcard path at the last '/' before its first wildcard."""
    url = paths.normalize(path)
    m = _WILD.search(url)
    assert m is not None
    literal = url[: m.start()]
    cut = literal.rfind("/") + 1
    base = url[:cut]
    pattern = url[cut:]
    prefix = literal[cut:]
    recursive = "**" in pattern or "/" in pattern
    return Glob(base, prefix, glob_regex(pattern), recursive)


# ------------------------------------------------------------ expressions
_EXPR = re.compile(r"\[([^\[\]]+)\](?:\{(\d+)\})?")


def _charset(spec: str) -> list[str]:
    chars: list[str] = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            lo, hi = spec[i], spec[i + 2]
            if ord(hi) < ord(lo):
                fail(f"bad range {lo}-{hi} in expression [{spec}]")
            chars.extend(chr(c) for c in range(ord(lo), ord(hi) + 1))
            i += 3
        else:
            chars.append(spec[i])
            i += 1
    return list(dict.fromkeys(chars))


def expand_expression(path: str, limit: int = 100_000) -> list[str]:
    """``prefix[ab][0-2]`` -> every combination (``[ab]{2}`` repeats a set twice)."""
    parts: list[list[str]] = []
    last = 0
    for m in _EXPR.finditer(path):
        parts.append([path[last:m.start()]])
        chars = _charset(m.group(1))
        reps = int(m.group(2) or 1)
        for _ in range(reps):
            parts.append(chars)
        last = m.end()
    parts.append([path[last:]])
    count = 1
    for p in parts:
        count *= len(p)
    if count > limit:
        fail(f"expression {path!r} expands to {count} prefixes (limit {limit})")
    return ["".join(combo) for combo in itertools.product(*parts)]


# ---------------------------------------------------------------- stdin
def read_stdin_paths() -> list[str]:
    """Paths from stdin, one per line (blank lines ignored)."""
    data = sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    return [line.rstrip("\r") for line in data.split("\n") if line.strip()]


def expand_stdin(sources: Iterable[str]) -> list[str]:
    out: list[str] = []
    for s in sources:
        if s == "-":
            out.extend(read_stdin_paths())
        else:
            out.append(s)
    return out


# ------------------------------------------------------------- numbers
def human(n: int) -> str:
    """Bytes in binary units: 1023 B, 1.0 KiB, 3.4 MiB ..."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    value = float(n)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def parse_range(spec: str) -> tuple[Optional[int], Optional[int]]:
    """``A-B`` -> bytes [A, B) (end exclusive); ``A-`` from A to the end; ``-B`` the first B bytes."""
    m = re.fullmatch(r"(\d*)-(\d*)", spec.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        fail(f"bad byte range {spec!r}: expected START-END, START- or -END (end exclusive)")
    start = int(m.group(1)) if m.group(1) else 0
    end = int(m.group(2)) if m.group(2) else None
    if end is not None and end < start:
        fail(f"bad byte range {spec!r}: end is before start")
    return start, end


def ctx_parallel(ctx: click.Context, local: Optional[int]) -> int:
    """The process count: the command's ``-p`` wins over the global one."""
    n = local if local is not None else (ctx.obj or {}).get("parallel", 1)
    if n is None:
        return 1
    if n <= 0:
        return os.cpu_count() or 1
    return n


def ctx_progress(ctx: click.Context, local: bool) -> bool:
    return bool(local or (ctx.obj or {}).get("progress"))


def wrap_errors(exc: BaseException) -> str:
    """A one-line description of an unexpected library/OS error."""
    if isinstance(exc, CloudFilesError):
        return one_line(exc)
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return one_line(f"{where}{exc.strerror or exc}")
    return one_line(f"{type(exc).__name__}: {exc}")
