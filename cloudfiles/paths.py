"""Cloudpath parsing: one structure for every form a user may type.

Accepted forms::

    gs://bucket/prefix              s3://bucket/prefix
    s3://https://host[:port]/bucket/prefix   (custom S3 endpoint; http:// too)
    file:///abs/dir  file://rel/dir  /abs/dir  ./rel  rel  ~/dir  C:\\dir
    mem://bucket/prefix
    http(s)://host[:port]/prefix    middleauth+https://host/prefix (CAVE token)
    ALIAS://bucket/prefix           (named endpoints, see ``add_alias``)
    NAME://bucket/prefix            (a protocol added with ``cloudfiles.register_backend``)
    FORMAT://any of the above       (precomputed://, zarr3:// ...: format kept)
    any of the above|FORMAT:        (suffix form, e.g. gs://b/x|zarr2:)

Two views of a path:

* :func:`parse` gives a :class:`CloudPath`, the structure the backends use
  (aliases resolved, local paths absolute, the format set aside);
* :func:`extract` gives the reference library's :data:`ExtractedPath`
  ``(format, protocol, bucket, path, host, alias)`` with cloud-files 6.4.3's
  field values, for client code written against it. The other reference
  helpers (``ascloudpath``, ``asbucketpath``, ``to_https_protocol``,
  ``find_common_buckets`` ...) take and give that form.

Anything else that looks like ``word://`` raises :class:`UnsupportedProtocolError`
instead of silently becoming a local file.
"""
from __future__ import annotations

import os
import posixpath
import re
import sys
import threading
from collections import defaultdict, namedtuple
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional, Union

from .exceptions import CloudPathError, UnsupportedProtocolError
from .lib import toabs, toiter, yellow
from .secrets import CLOUD_FILES_DIR, cloudfiles_dir

ExtractedPath = namedtuple("ExtractedPath", ("format", "protocol", "bucket", "path", "host", "alias"))

PRECOMPUTED_SUFFIX = "|neuroglancer-precomputed:"

ALIAS_FILE = os.path.join(CLOUD_FILES_DIR, "aliases.json")
_IMPORT_ALIAS_FILE = ALIAS_FILE

OFFICIAL_ALIASES = {
    "nokura": "s3://https://c10s.pni.princeton.edu/",
    "matrix": "s3://https://s3-hpcrc.rc.princeton.edu/",
    "tigerdata": "s3://https://td.princeton.edu/",
}

#: Protocols that can be spoken (plus every alias, see ALLOWED_PROTOCOLS).
BASE_ALLOWED_PROTOCOLS = [
    "gs", "file", "s3",
    "http", "https", "mem",
    "middleauth+https", "ngauth+https",
]
BASE_PROTOCOLS = ("gs", "s3", "file", "mem", "http", "https", "middleauth+https")
#: Protocols served by backends added with ``cloudfiles.register_backend``: ``NAME://BUCKET/prefix``.
REGISTERED_PROTOCOLS: set[str] = set()
#: Every protocol word accepted now: the base ones and the known aliases (kept up to date in place).
ALLOWED_PROTOCOLS = list(BASE_ALLOWED_PROTOCOLS)
#: Data formats that may prefix a cloudpath (``precomputed://gs://...``); the format is kept, the storage path used.
ALLOWED_FORMATS = [
    "graphene", "precomputed", "boss",
    "n5", "zarr", "zarr2", "zarr3",
    "brainmaps", "deepzoom", "nggraph",
    "render", "vtk", "nifti", "dvid",
]
#: Protocols with buckets that are object stores (the official aliases are S3 endpoints).
CLOUD_PROTOCOLS = ["gs", "s3"] + list(OFFICIAL_ALIASES)
_OBJECT_STORES = ("gs", "s3")

#: name -> target (with trailing '/') of every alias known now, official ones included.
ALIASES: dict[str, str] = {}
#: The alias file's entries ({name: {"host": target}}) once read; None before.
ALIASES_FROM_FILE: Optional[dict] = None

PUBLIC_HTTPS = {
    "gs": "https://storage.googleapis.com",
    "s3": "https://s3.amazonaws.com",
}
_AUTH_PREFIXES = ("middleauth+", "ngauth+")

_PROTO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_HOST_RE = re.compile(r"^(https?)://([^/?#]+)(/.*)?$", re.DOTALL)
_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")
#: The reference's bucket rule for ``extract``: a name (optionally ``:port``) then '/' or the end.
BUCKET_RE = re.compile(r"^(/?[~\d\w_\.\-]+(?::\d+)?)(?:/|$)")
#: ``|neuroglancer-precomputed:`` / ``|zarr2:`` style format suffixes.
TAIL_FORMAT_REGEXP = re.compile(r"\|(?P<fmt>[\w\d-]+):$")

_alias_lock = threading.RLock()


@dataclass(frozen=True)
class CloudPath:
    """A parsed cloudpath, as the backends use it.

    ``bucket`` is empty for ``file``, ``http`` and ``https``. ``path`` is the key
    prefix inside the bucket (no leading slash), or for ``file`` the absolute
    directory. ``host`` is the endpoint URL for custom S3 endpoints and the
    scheme+authority for ``http(s)``. ``format`` is a data-format prefix the
    path was given with (``precomputed``, ``zarr3`` ...), else None.
    """

    protocol: str
    bucket: str
    path: str
    host: Optional[str] = None
    alias: Optional[str] = None
    format: Optional[str] = None

    @property
    def url(self) -> str:
        """The canonical cloudpath string (storage path, without the format)."""
        return ascloudpath(self)

    def join(self, *keys: str) -> "CloudPath":
        """A new CloudPath with ``keys`` appended to the prefix."""
        if self.protocol == "file":
            return replace(self, path=os.path.join(self.path, *keys))
        return replace(self, path=join(self.path, *keys) if self.path else join(*keys))

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.url


# ---------------------------------------------------------------- aliases

def alias_file() -> str:
    """Where persistent aliases live (``$CLOUD_FILES_DIR/aliases.json``, default ``~/.cloudfiles``).

    Assigning ``paths.ALIAS_FILE`` (as reference-era code may) redirects it.
    """
    if ALIAS_FILE != _IMPORT_ALIAS_FILE:
        return ALIAS_FILE
    return os.path.join(cloudfiles_dir(), "aliases.json")


def mkregexp() -> str:
    """The pattern (a string) matching an optional ``FORMAT://`` then an optional ``PROTOCOL://``."""
    fmts = "|".join(re.escape(f) for f in ALLOWED_FORMATS)
    protos = "|".join(re.escape(p) for p in sorted(ALLOWED_PROTOCOLS, key=len, reverse=True))
    return f"(?:(?P<fmt>{fmts})://)?(?:(?P<proto>{protos})://)?"


CLOUDPATH_REGEXP = re.compile(mkregexp())


def _refresh_protocols() -> None:
    global CLOUDPATH_REGEXP
    ALLOWED_PROTOCOLS[:] = BASE_ALLOWED_PROTOCOLS + [a for a in ALIASES if a not in BASE_ALLOWED_PROTOCOLS] \
        + sorted(REGISTERED_PROTOCOLS)
    CLOUDPATH_REGEXP = re.compile(mkregexp())


def register_protocol(name: str) -> None:
    """Accept ``name://BUCKET/prefix`` cloudpaths (called by ``cloudfiles.register_backend``)."""
    with _alias_lock:
        if name in ALIASES:
            raise CloudPathError(f"protocol {name!r} is already an alias")
        REGISTERED_PROTOCOLS.add(name)
        _refresh_protocols()


def unregister_protocol(name: str) -> None:
    with _alias_lock:
        REGISTERED_PROTOCOLS.discard(name)
        _refresh_protocols()


def _check_alias(name: str, target: str) -> None:
    if name in BASE_ALLOWED_PROTOCOLS or name in REGISTERED_PROTOCOLS:
        raise CloudPathError(f"alias {name!r} would shadow a built-in or registered protocol")
    if name in ALLOWED_FORMATS:
        raise CloudPathError(f"alias {name!r} collides with the data format of the same name")
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*$", name):
        raise CloudPathError(f"alias name {name!r} must be a protocol-like word (letters, digits, + . -)")
    m = _PROTO_RE.match(target)
    if not m or m.group(1) not in BASE_PROTOCOLS:
        raise CloudPathError(
            f"alias target {target!r} must start with s3://, gs://, http(s)://, mem:// or file://, "
            "e.g. s3://https://host/"
        )


def update_aliases_from_file() -> None:
    """Read the alias file once (later calls do nothing) and add its aliases."""
    global ALIASES_FROM_FILE
    with _alias_lock:
        if ALIASES_FROM_FILE is not None:
            return
        path = alias_file()
        stored: dict = {}
        import json  # imported here: `import cloudfiles` stays light (tests/test_startup.py)

        try:
            if os.path.getsize(path) > 0:
                with open(path, "rt") as f:
                    stored = json.load(f)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as err:
            raise CloudPathError(f"could not read aliases from {path}: {err}") from err
        if not isinstance(stored, dict):
            raise CloudPathError(f"could not read aliases from {path}: expected a JSON object")
        ALIASES_FROM_FILE = {}
        for name, val in stored.items():
            target = val["host"] if isinstance(val, dict) else val
            ALIASES_FROM_FILE[name] = {"host": target}
            _set_alias(name, target)


def _set_alias(name: str, target: str) -> None:
    if not target.endswith("/"):
        target += "/"
    ALIASES[name] = target
    _refresh_protocols()


def aliases() -> dict[str, str]:
    """All known aliases: the official ones plus those in the alias file."""
    update_aliases_from_file()
    return dict(ALIASES)


def add_alias(alias: str, host: str, persist: bool = False) -> None:
    """Make ``alias://bucket/path`` mean ``host + 'bucket/path'``.

    With ``persist=True`` the alias is also written to the alias file for later sessions.
    """
    _check_alias(alias, host)
    with _alias_lock:
        if persist:
            update_aliases_from_file()
        _set_alias(alias, host)
        if persist:
            ALIASES_FROM_FILE[alias] = {"host": ALIASES[alias]}
            update_persistent_aliases()


def remove_alias(alias: str, persist: bool = False) -> None:
    """Forget an alias (and remove it from the alias file with ``persist=True``)."""
    with _alias_lock:
        if persist:
            update_aliases_from_file()
        ALIASES.pop(alias, None)
        _refresh_protocols()
        if persist:
            ALIASES_FROM_FILE.pop(alias, None)
            update_persistent_aliases()


def add_persistent_alias(alias: str, host: str) -> None:
    """Add an alias and record it in the alias file."""
    add_alias(alias, host, persist=True)


def remove_persistent_alias(alias: str) -> None:
    """Remove an alias and drop it from the alias file."""
    remove_alias(alias, persist=True)


def update_persistent_aliases() -> None:
    """Write the file-backed aliases (``ALIASES_FROM_FILE``) to the alias file atomically."""
    with _alias_lock:
        update_aliases_from_file()
        path = alias_file()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        import json

        with open(tmp, "wt") as f:
            json.dump(ALIASES_FROM_FILE, f, indent=2, sort_keys=True)
        os.replace(tmp, path)


def resolve_alias(cloudpath: str) -> tuple[Optional[str], str]:
    """``(alias, path with the alias replaced by its target)``, or ``(None, cloudpath)``."""
    proto = get_protocol(cloudpath)
    if proto not in ALIASES:
        return None, cloudpath
    return proto, cloudpath.replace(f"{proto}://", ALIASES[proto], 1)


def _reset_aliases_for_tests() -> None:
    global ALIASES_FROM_FILE
    with _alias_lock:
        ALIASES.clear()
        ALIASES.update(OFFICIAL_ALIASES)
        ALIASES_FROM_FILE = None
        _refresh_protocols()


_reset_aliases_for_tests()


# ------------------------------------------------------ parse -> CloudPath

def _split_format(cloudpath: str) -> tuple[Optional[str], str]:
    """Set aside a ``FORMAT://`` prefix or ``|FORMAT:`` suffix: ``(format, storage path)``."""
    if cloudpath.endswith(PRECOMPUTED_SUFFIX):
        return "precomputed", cloudpath[: -len(PRECOMPUTED_SUFFIX)]
    m = TAIL_FORMAT_REGEXP.search(cloudpath)
    if m and m.group("fmt") in ALLOWED_FORMATS:
        return m.group("fmt"), cloudpath[: m.start()]
    m = _PROTO_RE.match(cloudpath)
    if m and m.group(1).lower() in ALLOWED_FORMATS:
        return m.group(1).lower(), m.group(2)
    return None, cloudpath


def _split_bucket(rest: str, cloudpath: str, protocol: str) -> tuple[str, str]:
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise CloudPathError(f"cloudpath {cloudpath!r} has no bucket: expected {protocol}://BUCKET/path")
    if not _BUCKET_RE.match(bucket):
        raise CloudPathError(f"cloudpath {cloudpath!r} has an invalid bucket name {bucket!r}")
    return bucket, key


def _check_host(host: str, cloudpath: str) -> None:
    """Refuse a host whose authority is empty, has whitespace or a port that is
    not a number from 1 to 65535 (errors name the cloudpath, password redacted)."""
    authority = host.split("://", 1)[1]
    if not authority or any(c in authority for c in " \t\n"):
        raise CloudPathError(f"cloudpath {cloudpath!r} has an invalid host {authority!r}")
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):  # [IPv6]:port
        end = hostport.find("]")
        if end < 0:
            raise CloudPathError(f"cloudpath {cloudpath!r} has an unclosed IPv6 address {hostport!r}")
        name, _, port = hostport[1:end], "", hostport[end + 1:].removeprefix(":")
    else:
        name, _, port = hostport.partition(":")
    if not name:
        raise CloudPathError(f"cloudpath {cloudpath!r} has no host name")
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535) or hostport.endswith(":"):
        raise CloudPathError(f"cloudpath {cloudpath!r} has an invalid port {port!r} (expected 1-65535)")


def parse(cloudpath: Union[str, CloudPath], endpoint: Optional[str] = None) -> CloudPath:
    """Parse ``cloudpath`` into a :class:`CloudPath` (the form the backends use).

    Bare local paths are allowed, aliases are resolved and a format prefix
    or suffix is kept in ``.format``. ``endpoint`` (S3 only) overrides the
    host of an ``s3://`` path. Raises :class:`CloudPathError` for malformed
    paths and :class:`UnsupportedProtocolError` for unknown protocols.
    """
    if isinstance(cloudpath, CloudPath):
        return cloudpath
    if not isinstance(cloudpath, str):
        raise CloudPathError(f"a cloudpath must be a string, got {type(cloudpath).__name__}: {cloudpath!r}")
    if cloudpath == "":
        raise CloudPathError("empty cloudpath")
    if "\x00" in cloudpath:
        raise CloudPathError(f"cloudpath {cloudpath!r} contains a NUL byte")
    fmt, storage = _split_format(cloudpath)
    if fmt is not None:
        if storage == "":
            raise CloudPathError(f"cloudpath {cloudpath!r} names a format ({fmt}) but no storage path")
        return replace(_parse_storage(storage, endpoint, cloudpath), format=fmt)
    return _parse_storage(cloudpath, endpoint, cloudpath)


def _parse_storage(cloudpath: str, endpoint: Optional[str], original: str) -> CloudPath:
    m = _PROTO_RE.match(cloudpath)
    if not m:
        if (
            re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:/", cloudpath)
            and not _DRIVE_RE.match(cloudpath)
            and not os.path.exists(cloudpath)
        ):
            raise CloudPathError(f"malformed cloudpath {original!r}: expected PROTOCOL://...")
        return CloudPath("file", "", _local_abspath(cloudpath))

    protocol, rest = m.group(1).lower(), m.group(2)
    if protocol not in BASE_PROTOCOLS and protocol not in REGISTERED_PROTOCOLS:
        if protocol not in ALIASES:
            update_aliases_from_file()
        if protocol not in ALIASES:
            raise UnsupportedProtocolError(
                f"unknown protocol {protocol!r} in {original!r}; expected one of "
                f"{', '.join(BASE_PROTOCOLS)}, an alias ({', '.join(sorted(ALIASES))}) "
                f"or a format prefix ({', '.join(ALLOWED_FORMATS)})"
            )
        resolved = _parse_storage(ALIASES[protocol] + rest, endpoint, original)
        return replace(resolved, alias=protocol)

    if protocol == "file":
        if rest == "":
            raise CloudPathError(f"cloudpath {original!r} names no directory")
        return CloudPath("file", "", _local_abspath(rest))

    if protocol in ("http", "https", "middleauth+https"):
        url = "https://" + rest if protocol == "middleauth+https" else cloudpath
        hm = _HOST_RE.match(url)
        if not hm or not hm.group(2):
            raise CloudPathError(f"malformed URL {original!r}: expected {protocol}://host/path")
        host = f"{hm.group(1).lower()}://{hm.group(2)}"
        _check_host(host, original)
        return CloudPath(protocol, "", (hm.group(3) or "").lstrip("/"), host=host)

    host = None
    if protocol == "s3":
        inner = _HOST_RE.match(rest)
        if not inner and re.match(r"^https?:/", rest):
            raise CloudPathError(f"malformed endpoint in {original!r}: expected s3://https://host[:port]/bucket/path")
        if inner:
            host = f"{inner.group(1).lower()}://{inner.group(2)}"
            _check_host(host, original)
            rest = (inner.group(3) or "").lstrip("/")
        if endpoint:
            host = endpoint.rstrip("/")
            if not re.match(r"^https?://[^/]+$", host):
                raise CloudPathError(f"endpoint {endpoint!r} must look like https://host[:port]")
            _check_host(host, f"{original} (endpoint={endpoint})")
    elif endpoint:
        raise CloudPathError(f"endpoint= applies to s3:// paths only, not {original!r}")

    bucket, key = _split_bucket(rest, original, protocol)
    return CloudPath(protocol, bucket, key, host=host)


def _local_abspath(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def _canonical(cp: CloudPath) -> str:
    if cp.protocol == "file":
        return "file://" + cp.path
    if cp.protocol in ("http", "https"):
        return f"{cp.host}/{cp.path}"
    if cp.protocol == "middleauth+https":
        return f"middleauth+{cp.host}/{cp.path}"
    prefix = f"{cp.protocol}://"
    if cp.host:
        prefix += cp.host + "/"
    return prefix + cp.bucket + ("/" + cp.path if cp.path else "/")


def normalize(path: str) -> str:
    """Canonical form of ``path``: bare local paths become ``file:///abs``.

    A format prefix is kept (``precomputed://gs://b/x`` stays so); the suffix
    form becomes a prefix (``gs://b/x|zarr2:`` -> ``zarr2://gs://b/x``,
    ``|neuroglancer-precomputed:`` is dropped). Aliases are resolved.
    """
    if isinstance(path, str) and path.endswith(PRECOMPUTED_SUFFIX):
        path = path[: -len(PRECOMPUTED_SUFFIX)]
    cp = parse(path)
    canonical = _canonical(cp)
    return f"{cp.format}://{canonical}" if cp.format else canonical


def to_https(cp: Union[CloudPath, str]) -> Union[CloudPath, str]:
    """The public HTTPS form of a gs:// or s3:// path (used by ``use_https=True``).

    A CloudPath gives a CloudPath; a string gives a string (as :func:`to_https_protocol`).
    """
    if isinstance(cp, str):
        return to_https_protocol(cp)
    if cp.protocol not in _OBJECT_STORES:
        return cp
    base = cp.host if (cp.protocol == "s3" and cp.host) else PUBLIC_HTTPS[cp.protocol]
    scheme = base.split("://", 1)[0]
    return CloudPath(scheme, "", join(cp.bucket, cp.path) if cp.path else cp.bucket + "/", host=base, format=cp.format)


def join(*parts: str) -> str:
    """Join key parts with '/', collapsing duplicate separators between parts."""
    parts = [p for p in parts if p]
    if not parts:
        return ""
    out = parts[0]
    for p in parts[1:]:
        if out.endswith("/"):
            out += p.lstrip("/")
        else:
            out += "/" + p.lstrip("/")
    return out


def dirname(path: str) -> str:
    """The parent of a key or cloudpath (``gs://b/a/c`` -> ``gs://b/a``)."""
    m = _PROTO_RE.match(path)
    if m:
        proto = m.group(1)
        return f"{proto}://" + posixpath.dirname(m.group(2))
    return os.path.dirname(path)


def basename(path: str) -> str:
    """The last component of a key or cloudpath."""
    if _PROTO_RE.match(path):
        return posixpath.basename(path)
    return os.path.basename(path)


def is_cloudpath_like(value: str) -> bool:
    """True if ``value`` starts with ``word://``."""
    return bool(_PROTO_RE.match(value))


# ---------------------------------- the reference's ExtractedPath helpers

def _explain(cloudpath: str) -> str:
    return (
        f"cloudpath {cloudpath!r} is not of the form [FORMAT://]PROTOCOL://PATH or PROTOCOL://PATH|FORMAT: "
        f"(formats: {', '.join(ALLOWED_FORMATS)}; protocols: {', '.join(ALLOWED_PROTOCOLS)}), "
        "e.g. gs://bucket/dir, precomputed://s3://bucket/dir, gs://bucket/dir|zarr2:"
    )


def cloudpath_error(cloudpath: str) -> str:
    """A (yellow) description of the accepted cloudpath forms, naming ``cloudpath``."""
    return yellow(_explain(cloudpath))


def get_any_protocol(cloudpath: str) -> Optional[str]:
    """The word before a leading ``://`` even if it is no known protocol, else None."""
    m = re.match(r"(?P<proto>[\w\d]+)://", cloudpath)
    return m.group("proto") if m else None


def get_protocol(cloudpath: str) -> Optional[str]:
    """The protocol (or alias) of ``cloudpath`` after any format prefix, or None for a bare path.

    An unknown protocol word makes the alias file be read once before giving up.
    """
    proto = re.match(CLOUDPATH_REGEXP, cloudpath).group("proto")
    if proto is None and ALIASES_FROM_FILE is None and get_any_protocol(cloudpath) is not None:
        update_aliases_from_file()
        proto = re.match(CLOUDPATH_REGEXP, cloudpath).group("proto")
    return proto


def pop_protocol(cloudpath: str) -> tuple[Optional[str], str]:
    """``(protocol word, the rest)`` for ``word://rest``, else ``(None, cloudpath)``."""
    m = re.match(r"(\w+)://", cloudpath)
    if not m:
        return None, cloudpath
    return m.group(1), cloudpath[m.end():]


def extract_format_protocol(cloudpath: str, allow_defaults: bool = True) -> tuple:
    """``(format, protocol, endpoint, rest, alias)`` of ``cloudpath``, as cloud-files 6.4.3 splits it.

    The format defaults to ``'precomputed'`` when ``allow_defaults``. ``endpoint``
    is ``scheme://host`` for http(s) paths and custom S3 endpoints.
    """
    if not isinstance(cloudpath, str):
        raise UnsupportedProtocolError(_explain(repr(cloudpath)))
    original = cloudpath
    cloudpath = cloudpath.removesuffix(PRECOMPUTED_SUFFIX)
    m = TAIL_FORMAT_REGEXP.search(cloudpath)
    if m is not None:
        cloudpath = f"{m.group('fmt')}://{cloudpath[: m.start()]}"

    alias, cloudpath = resolve_alias(cloudpath)
    m = re.match(CLOUDPATH_REGEXP, cloudpath)
    if m is None:  # pragma: no cover - every group is optional
        raise UnsupportedProtocolError(_explain(original))
    cloudpath = cloudpath[m.end():]
    fmt = m.group("fmt")
    if not fmt and allow_defaults:
        fmt = "precomputed"
    proto = m.group("proto")
    endpoint = None

    bare = proto
    for prefix in _AUTH_PREFIXES:
        if bare:
            bare = bare.removeprefix(prefix)
    if bare in ("http", "https") or (proto == "s3" and cloudpath[:4] == "http"):
        import urllib.parse

        url = f"{bare}://{cloudpath}" if bare in ("http", "https") else cloudpath
        parsed = urllib.parse.urlparse(url)
        endpoint = f"{parsed.scheme}://{parsed.netloc}"
        cloudpath = url[len(endpoint):].removeprefix("/")
    return fmt, proto, endpoint, cloudpath, alias


def extract(cloudpath: str, windows: Optional[bool] = None) -> ExtractedPath:
    """Split a cloudpath with an explicit protocol into an :data:`ExtractedPath`.

    ``format://protocol://bucket/path`` -> ``(format, protocol, bucket, path,
    host, alias)`` with cloud-files 6.4.3's values: format defaults to
    ``'precomputed'``; bucket is None for file and http(s); file paths are made
    absolute unless ``windows`` (default: running on Windows), where
    ``C:\\dir`` is kept as typed. Raises :class:`UnsupportedProtocolError` for
    a missing or unknown protocol or a missing bucket. For the structure the
    backends use (bare local paths allowed) see :func:`parse`.
    """
    if not isinstance(cloudpath, str) or cloudpath == "":
        raise UnsupportedProtocolError(_explain(cloudpath if isinstance(cloudpath, str) else repr(cloudpath)))
    fmt, protocol, host, rest, alias = extract_format_protocol(cloudpath)
    if windows is None:
        windows = sys.platform == "win32"
    if protocol is None:
        raise UnsupportedProtocolError(_explain(cloudpath))
    if protocol == "file" and not windows:
        rest = toabs(rest)

    bucket = None
    if protocol in CLOUD_PROTOCOLS + ["mem"]:
        m = BUCKET_RE.match(rest)
        if not m:
            raise UnsupportedProtocolError(_explain(cloudpath))
        bucket = m.group(1)
        rest = rest.replace(bucket, "", 1).removeprefix("/")
        bucket = bucket.replace("/", "")

    if pop_protocol(rest)[0] is not None:
        raise UnsupportedProtocolError(_explain(cloudpath))
    return ExtractedPath(fmt, protocol, bucket, rest, host, alias)


def _as_extracted(value: Any, what: str) -> ExtractedPath:
    if isinstance(value, str):
        return extract(value)
    if isinstance(value, ExtractedPath):
        return value
    if isinstance(value, CloudPath):
        return extract(_canonical(value))._replace(format=value.format or "precomputed")
    raise TypeError(f"{what} takes a str or ExtractedPath, got {type(value).__name__}: {value!r}")


def asfilepath(epath: Union[str, ExtractedPath]) -> str:
    """The local filesystem path of a file:// path."""
    epath = _as_extracted(epath, "asfilepath")
    if epath.protocol != "file":
        raise CloudPathError(f'{epath.protocol} protocol must be "file".')
    parts = [p for p in (epath.bucket, epath.path) if p]
    return os.path.join(*parts) if parts else ""


def asprotocolpath(epath: ExtractedPath) -> str:
    """``protocol://[host/]bucket/path`` of an ExtractedPath (no format; an alias stays an alias)."""
    host = None if epath.alias else epath.host
    pth = ""
    for part in (host, epath.bucket, epath.path):
        if part:
            pth = posixpath.join(pth, part)
    if epath.alias:
        return f"{epath.alias}://{pth}"
    if epath.protocol in ("http", "https") and pth[:4] == "http":
        return pth
    if epath.protocol.startswith(_AUTH_PREFIXES) and pth[:4] == "http":
        return epath.protocol.split("+", 1)[0] + "+" + pth
    return f"{epath.protocol}://{pth}"


def ascloudpath(epath: Union[ExtractedPath, CloudPath]) -> str:
    """The cloudpath string.

    An ExtractedPath gives ``[format://]protocol://...`` as cloud-files 6.4.3
    builds it; a :class:`CloudPath` gives this library's canonical form
    (aliases resolved, no format).
    """
    if isinstance(epath, CloudPath):
        return _canonical(epath)
    pth = asprotocolpath(epath)
    return f"{epath.format}://{pth}" if epath.format else pth


def asbucketpath(cloudpath: Union[str, ExtractedPath]) -> str:
    """The cloudpath of the bucket (host, bucket, format and alias kept; the sub-path dropped)."""
    epath = _as_extracted(cloudpath, "asbucketpath")
    return ascloudpath(epath._replace(path=None))


def service_provider(epath: ExtractedPath) -> Optional[str]:
    """The alias if there is one, else the protocol."""
    return epath.alias if epath.alias is not None else epath.protocol


def to_https_protocol(cloudpath: Union[str, ExtractedPath]) -> Union[str, ExtractedPath]:
    """gs://, s3:// and alias paths rewritten to their public https:// URL.

    ``gs://b/x`` -> ``https://storage.googleapis.com/b/x``, ``s3://b/x`` ->
    ``https://s3.amazonaws.com/b/x``, ``s3://https://host/b/x`` and S3
    aliases -> ``https://host/b/x``. A format prefix is kept; other
    protocols are returned unchanged. An ExtractedPath gives an ExtractedPath.
    """
    if isinstance(cloudpath, ExtractedPath):
        if cloudpath.protocol in CLOUD_PROTOCOLS:
            return extract(to_https_protocol(ascloudpath(cloudpath)))
        return cloudpath
    if isinstance(cloudpath, CloudPath):
        return to_https(cloudpath)
    fmt = ""
    m = _PROTO_RE.match(cloudpath)
    if m and m.group(1) in ALLOWED_FORMATS:
        fmt, cloudpath = m.group(1) + "://", m.group(2)
    proto = get_protocol(cloudpath)  # reads the alias file if the word is unknown
    if proto in ALIASES:
        cloudpath = ALIASES[proto] + cloudpath[len(proto) + 3:]
    if cloudpath.startswith(("s3://http://", "s3://https://")):
        cloudpath = cloudpath[len("s3://"):]
    elif cloudpath.startswith("gs://"):
        cloudpath = PUBLIC_HTTPS["gs"] + "/" + cloudpath[len("gs://"):]
    elif cloudpath.startswith("s3://"):
        cloudpath = PUBLIC_HTTPS["s3"] + "/" + cloudpath[len("s3://"):]
    return fmt + cloudpath


def find_common_buckets(cloudpaths: Any) -> dict[str, list[dict]]:
    """Group full cloudpaths by bucket: ``{bucketpath: [{"path", "start", "end"}, ...]}``.

    Items may be strings or ``{"path": ..., "byte_range": (start, end)}``.
    A local path's "bucket" is its first directory (``file:///tmp`` for ``/tmp/a/b``).
    """
    items = toiter(cloudpaths)
    clustered: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        pth, byte_range = item, None
        if isinstance(item, dict):
            pth, byte_range = item["path"], item.get("byte_range")
        epath = extract(pth)
        if epath.protocol == "file":
            parts = asfilepath(epath).split(os.sep)
            key = os.sep.join(parts[2:])
            bucketpath = "file://" + os.sep.join(parts[:2])
        else:
            key = epath.path
            bucketpath = asbucketpath(epath)
        clustered[bucketpath].append({
            "path": key,
            "start": byte_range[0] if byte_range else None,
            "end": byte_range[1] if byte_range else None,
        })
    return clustered
