"""Cloudpath parsing: one structure for every form a user may type.

Accepted forms::

    gs://bucket/prefix              s3://bucket/prefix
    s3://https://host[:port]/bucket/prefix   (custom S3 endpoint; http:// too)
    file:///abs/dir  file://rel/dir  /abs/dir  ./rel  rel  ~/dir
    mem://bucket/prefix
    http(s)://host[:port]/prefix
    ALIAS://bucket/prefix           (named endpoints, see ``add_alias``)

Anything else that looks like ``word://`` raises :class:`UnsupportedProtocolError`
instead of silently becoming a local file.
"""
from __future__ import annotations

import os
import posixpath
import re
import threading
from dataclasses import dataclass, replace
from typing import Optional

from .exceptions import CloudPathError, UnsupportedProtocolError

BASE_PROTOCOLS = ("gs", "s3", "file", "mem", "http", "https")
CLOUD_PROTOCOLS = ("gs", "s3")

OFFICIAL_ALIASES = {
    "matrix": "s3://https://s3-hpcrc.rc.princeton.edu/",
    "nokura": "s3://https://c10s.pni.princeton.edu/",
    "tigerdata": "s3://https://td.princeton.edu/",
}

PUBLIC_HTTPS = {
    "gs": "https://storage.googleapis.com",
    "s3": "https://s3.amazonaws.com",
}

_PROTO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_HOST_RE = re.compile(r"^(https?)://([^/?#]+)(/.*)?$", re.DOTALL)

_alias_lock = threading.Lock()
_aliases: Optional[dict[str, str]] = None


@dataclass(frozen=True)
class CloudPath:
    """A parsed cloudpath.

    ``bucket`` is empty for ``file``, ``http`` and ``https``. ``path`` is the key
    prefix inside the bucket (no leading slash), or for ``file`` the absolute
    directory. ``host`` is the endpoint URL for custom S3 endpoints and the
    scheme+authority for ``http(s)``.
    """

    protocol: str
    bucket: str
    path: str
    host: Optional[str] = None
    alias: Optional[str] = None

    @property
    def url(self) -> str:
        """The canonical cloudpath string."""
        return ascloudpath(self)

    def join(self, *keys: str) -> "CloudPath":
        """A new CloudPath with ``keys`` appended to the prefix."""
        if self.protocol == "file":
            return replace(self, path=os.path.join(self.path, *keys))
        return replace(self, path=join(self.path, *keys) if self.path else join(*keys))

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.url


def alias_file() -> str:
    """Where persistent aliases live (``~/.cloudfiles/aliases.json``)."""
    return os.path.join(os.path.expanduser("~"), ".cloudfiles", "aliases.json")


def _load_aliases() -> dict[str, str]:
    global _aliases
    with _alias_lock:
        if _aliases is None:
            merged = dict(OFFICIAL_ALIASES)
            try:
                with open(alias_file(), "rt") as f:
                    import json

                    stored = json.load(f)
                for name, val in stored.items():
                    merged[name] = val["host"] if isinstance(val, dict) else val
            except FileNotFoundError:
                pass
            except (OSError, ValueError) as err:
                raise CloudPathError(f"could not read aliases from {alias_file()}: {err}") from err
            _aliases = merged
        return _aliases


def aliases() -> dict[str, str]:
    """All known aliases: the official ones plus those in the alias file."""
    return dict(_load_aliases())


def _check_alias(name: str, target: str) -> None:
    if name in BASE_PROTOCOLS:
        raise CloudPathError(f"alias {name!r} would shadow a built-in protocol")
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*$", name):
        raise CloudPathError(f"alias name {name!r} must be a protocol-like word (letters, digits, + . -)")
    m = _PROTO_RE.match(target)
    if not m or m.group(1) not in CLOUD_PROTOCOLS + ("http", "https"):
        raise CloudPathError(
            f"alias target {target!r} must start with s3://, gs:// or http(s)://, e.g. s3://https://host/"
        )


def add_alias(name: str, target: str, persist: bool = False) -> None:
    """Make ``name://bucket/path`` mean ``target + 'bucket/path'``.

    With ``persist=True`` the alias is written to the alias file for later sessions.
    """
    _check_alias(name, target)
    if not target.endswith("/"):
        target += "/"
    table = _load_aliases()
    with _alias_lock:
        table[name] = target
    if persist:
        _write_alias_file(lambda stored: stored.__setitem__(name, {"host": target}))


def remove_alias(name: str, persist: bool = False) -> None:
    """Forget an alias (and remove it from the alias file with ``persist=True``)."""
    table = _load_aliases()
    with _alias_lock:
        table.pop(name, None)
        if name in OFFICIAL_ALIASES and not persist:
            return
    if persist:
        _write_alias_file(lambda stored: stored.pop(name, None))


def _write_alias_file(mutate) -> None:
    import json

    path = alias_file()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, "rt") as f:
            stored = json.load(f)
    except FileNotFoundError:
        stored = {}
    mutate(stored)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wt") as f:
        json.dump(stored, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _reset_aliases_for_tests() -> None:
    global _aliases
    with _alias_lock:
        _aliases = None


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


def extract(cloudpath: str, endpoint: Optional[str] = None) -> CloudPath:
    """Parse ``cloudpath`` into a :class:`CloudPath`.

    ``endpoint`` (S3 only) overrides the host of an ``s3://`` path.
    Raises :class:`CloudPathError` for malformed paths and
    :class:`UnsupportedProtocolError` for unknown protocols.
    """
    if isinstance(cloudpath, CloudPath):
        return cloudpath
    if not isinstance(cloudpath, str):
        raise CloudPathError(f"a cloudpath must be a string, got {type(cloudpath).__name__}: {cloudpath!r}")
    if cloudpath == "":
        raise CloudPathError("empty cloudpath")
    if "\x00" in cloudpath:
        raise CloudPathError(f"cloudpath {cloudpath!r} contains a NUL byte")

    m = _PROTO_RE.match(cloudpath)
    if not m:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:/", cloudpath) and not os.path.exists(cloudpath):
            raise CloudPathError(f"malformed cloudpath {cloudpath!r}: expected PROTOCOL://...")
        return CloudPath("file", "", _local_abspath(cloudpath))

    protocol, rest = m.group(1).lower(), m.group(2)
    alias = None
    if protocol not in BASE_PROTOCOLS:
        table = _load_aliases()
        if protocol not in table:
            raise UnsupportedProtocolError(
                f"unknown protocol {protocol!r} in {cloudpath!r}; "
                f"expected one of {', '.join(BASE_PROTOCOLS)} or an alias ({', '.join(sorted(table))})"
            )
        alias = protocol
        resolved = extract(table[protocol] + rest, endpoint=endpoint)
        return replace(resolved, alias=alias)

    if protocol == "file":
        if rest == "":
            raise CloudPathError(f"cloudpath {cloudpath!r} names no directory")
        return CloudPath("file", "", _local_abspath(rest))

    if protocol in ("http", "https"):
        hm = _HOST_RE.match(cloudpath)
        if not hm or not hm.group(2):
            raise CloudPathError(f"malformed URL {cloudpath!r}: expected {protocol}://host/path")
        host = f"{hm.group(1).lower()}://{hm.group(2)}"
        _check_host(host, cloudpath)
        return CloudPath(protocol, "", (hm.group(3) or "").lstrip("/"), host=host)

    host = None
    if protocol == "s3":
        inner = _HOST_RE.match(rest)
        if not inner and re.match(r"^https?:/", rest):
            raise CloudPathError(f"malformed endpoint in {cloudpath!r}: expected s3://https://host[:port]/bucket/path")
        if inner:
            host = f"{inner.group(1).lower()}://{inner.group(2)}"
            _check_host(host, cloudpath)
            rest = (inner.group(3) or "").lstrip("/")
        if endpoint:
            host = endpoint.rstrip("/")
            if not re.match(r"^https?://[^/]+$", host):
                raise CloudPathError(f"endpoint {endpoint!r} must look like https://host[:port]")
            _check_host(host, f"{cloudpath} (endpoint={endpoint})")
    elif endpoint and protocol != "s3":
        raise CloudPathError(f"endpoint= applies to s3:// paths only, not {cloudpath!r}")

    bucket, key = _split_bucket(rest, cloudpath, protocol)
    return CloudPath(protocol, bucket, key, host=host)


def _local_abspath(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def ascloudpath(cp: CloudPath) -> str:
    """The canonical string for a CloudPath (aliases resolved)."""
    if cp.protocol == "file":
        return "file://" + cp.path
    if cp.protocol in ("http", "https"):
        return f"{cp.host}/{cp.path}"
    prefix = f"{cp.protocol}://"
    if cp.host:
        prefix += cp.host + "/"
    return prefix + cp.bucket + ("/" + cp.path if cp.path else "/")


def normalize(cloudpath: str) -> str:
    """Canonical form of ``cloudpath``: bare local paths become ``file:///abs``."""
    return ascloudpath(extract(cloudpath))


def to_https(cp: CloudPath) -> CloudPath:
    """The public HTTPS form of a gs:// or s3:// path (used by ``use_https=True``)."""
    if cp.protocol not in CLOUD_PROTOCOLS:
        return cp
    if cp.protocol == "s3" and cp.host:
        base = cp.host
    else:
        base = PUBLIC_HTTPS[cp.protocol]
    scheme = base.split("://", 1)[0]
    return CloudPath(scheme, "", join(cp.bucket, cp.path) if cp.path else cp.bucket + "/", host=base)


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
    return posixpath.dirname(path)


def basename(path: str) -> str:
    """The last component of a key or cloudpath."""
    return posixpath.basename(path)


def is_cloudpath_like(value: str) -> bool:
    """True if ``value`` starts with ``word://``."""
    return bool(_PROTO_RE.match(value))
