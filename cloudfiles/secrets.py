"""Where credentials files live and how they are found.

Directories (read at each look-up, so a changed ``$HOME`` or environment takes
effect): ``$CLOUDFILES_SECRETS_DIR`` if set, then ``$CLOUD_VOLUME_DIR/secrets``
(default ``~/.cloudvolume/secrets``), then ``$CLOUD_FILES_DIR/secrets``
(default ``~/.cloudfiles/secrets``) -- cloud-files 6.4.3's order. A secret
named ``NAME`` (e.g. ``aws-secret.json``) used for ``BUCKET`` is looked up as
``BUCKET-NAME`` in every directory, then as ``NAME``. Each backend turns the
file (or ``secrets=``, or the environment, or the provider's default chain)
into credentials itself.

A secrets file that group or others may read gets a one-line warning (once
per file), as ssh warns about an unprotected private key.

The reference's module-level names (``secretpath``, ``aws_credentials``,
``google_credentials``, ``cave_credentials``, ``http_credentials``, the
``CLOUD_*_DIR`` constants and the credential caches) are kept for client code.
"""
from __future__ import annotations

import os
import stat
import threading
from collections import defaultdict
from typing import Any, Dict, Optional, Union

from .exceptions import CredentialsError



def _log():
    import logging  # imported when first needed: `import cloudfiles` stays light

    return logging.getLogger(__name__)

# Import-time values, as cloud-files 6.4.3 exposes them. The look-ups below
# re-read the environment instead (see cloudfiles_dir / cloudvolume_dir).
HOME = os.path.expanduser("~")
CV_HOME = os.path.join(HOME, ".cloudvolume")
CLOUD_VOLUME_DIR = os.environ.get("CLOUD_VOLUME_DIR", CV_HOME)
CLOUD_VOLUME_SECRETS_DIR = os.path.join(CLOUD_VOLUME_DIR, "secrets")
CF_HOME = os.path.join(HOME, ".cloudfiles")
CLOUD_FILES_DIR = os.environ.get("CLOUD_FILES_DIR", CF_HOME)
CLOUD_FILES_SECRETS_DIR = os.path.join(CLOUD_FILES_DIR, "secrets")
CLOUD_FILES_LOCK_DIR = os.environ.get("CLOUD_FILES_LOCK_DIR", None)

CredentialType = Dict[str, Union[str, int]]
CredentialCacheType = Dict[str, CredentialType]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def cloudfiles_dir() -> str:
    """``$CLOUD_FILES_DIR``, else ``~/.cloudfiles`` (aliases, locks and secrets live here)."""
    return os.environ.get("CLOUD_FILES_DIR") or os.path.join(os.path.expanduser("~"), ".cloudfiles")


def cloudvolume_dir() -> str:
    """``$CLOUD_VOLUME_DIR``, else ``~/.cloudvolume``."""
    return os.environ.get("CLOUD_VOLUME_DIR") or os.path.join(os.path.expanduser("~"), ".cloudvolume")


def secret_dirs() -> list[str]:
    """Directories searched for secrets files, most preferred first."""
    dirs = []
    extra = os.environ.get("CLOUDFILES_SECRETS_DIR")
    if extra:
        dirs.append(extra)
    dirs += [os.path.join(cloudvolume_dir(), "secrets"), os.path.join(cloudfiles_dir(), "secrets")]
    return dirs


def candidate_files(name: str, bucket: Optional[str] = None) -> list[str]:
    """Every path that would be tried for ``name``, in order (bucket-specific ones first)."""
    names = ([f"{bucket}-{name}"] if bucket else []) + [name]
    return [os.path.join(d, n) for n in names for d in secret_dirs()]


def find_secret_file(name: str, bucket: Optional[str] = None) -> Optional[str]:
    """The first existing secrets file for ``name`` (bucket-prefixed first), or None."""
    for path in candidate_files(name, bucket):
        if os.path.isfile(path):
            return path
    return None


def warn_if_exposed(path: str) -> bool:
    """Log one warning line if ``path`` is readable by group or others; True if it is."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if os.name == "nt" or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return False
    real = os.path.realpath(path)
    with _warned_lock:
        if real in _warned:
            return True
        _warned.add(real)
    _log().warning(
        "secrets file %s is readable by others (mode %03o); run: chmod 600 %s",
        path, stat.S_IMODE(mode), path,
    )
    return True


def load_json_secret(path: str) -> dict:
    """Read a JSON secrets file, naming the file in any error (and warning if others may read it)."""
    import json

    try:
        with open(path, "rt") as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise CredentialsError(f"could not read credentials file {path}: {err}") from err
    warn_if_exposed(path)
    return data


def searched_description(name: str, bucket: Optional[str] = None, env: tuple[str, ...] = ()) -> str:
    """A sentence listing where credentials were looked for, for error messages."""
    places = candidate_files(name, bucket)
    parts = [", ".join(places)]
    if env:
        parts.append("environment variables " + ", ".join(env))
    return "looked in " + "; ".join(parts)


# ------------------------------------------- cloud-files 6.4.3's interface

def secretpath(filepath: str) -> str:
    """Where secrets file ``filepath`` is: the first directory that has it, else the preferred one."""
    for d in secret_dirs():
        candidate = os.path.join(d, filepath)
        if os.path.exists(candidate):
            return candidate
    return os.path.join(secret_dirs()[0], filepath)


def _project_id(path: str) -> Optional[str]:
    return load_json_secret(path).get("project_id")


def default_google_project_name() -> Optional[str]:
    """The ``project_id`` of ``google-secret.json`` if there is one."""
    path = secretpath("google-secret.json")
    if os.path.exists(path):
        return _project_id(path)
    return None


try:
    PROJECT_NAME = default_google_project_name()
except CredentialsError as _err:  # an unreadable file must not break ``import cloudfiles``
    _log().warning("%s", _err)
    PROJECT_NAME = None
GOOGLE_CREDENTIALS_CACHE: CredentialCacheType = {}
google_credentials_path = secretpath("google-secret.json")


def find_secret(kind: str, prefix: str = "") -> Optional[str]:
    """Path of ``PREFIX-KIND-secret.json`` or else ``KIND-secret.json`` (the first that
    exists, in :func:`secretpath`'s directories); None when neither does."""
    names = ([f"{prefix}-{kind}-secret.json"] if prefix else []) + [f"{kind}-secret.json"]
    for name in names:
        path = secretpath(name)
        if os.path.exists(path):
            return path
    return None


def google_credentials(bucket: str = "") -> tuple[Optional[str], Any]:
    """``(project_id, service-account credentials)`` from ``[BUCKET-]google-secret.json``.

    Without a file: ``(PROJECT_NAME, None)``, i.e. Google's default credentials
    apply. Found credentials are cached per bucket.
    """
    if bucket in GOOGLE_CREDENTIALS_CACHE:
        return GOOGLE_CREDENTIALS_CACHE[bucket]
    path = find_secret("google", bucket)
    if path is not None:
        from google.oauth2 import service_account

        info = load_json_secret(path)
        creds = service_account.Credentials.from_service_account_info(info)
        GOOGLE_CREDENTIALS_CACHE[bucket] = (info.get("project_id"), creds)
        return GOOGLE_CREDENTIALS_CACHE[bucket]
    _log().info("no google-secret.json in %s: Google's default credentials apply", ", ".join(secret_dirs()))
    return PROJECT_NAME, None


AWS_CREDENTIALS_CACHE: Dict[str, Dict[str, CredentialType]] = defaultdict(dict)
aws_credentials_path = secretpath("aws-secret.json")


def aws_credentials(bucket: str = "", service: str = "aws", skip_files: bool = False) -> CredentialType:
    """S3-style credentials for ``bucket`` as a dict of ``AWS_*`` keys.

    From ``[BUCKET-]SERVICE-secret.json`` (``service`` 's3' means 'aws'; an
    alias such as 'matrix' reads ``matrix-secret.json``) unless ``skip_files``,
    else from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
    ``AWS_SESSION_TOKEN`` / ``AWS_DEFAULT_REGION`` in the environment; ``{}``
    when there are none. File results are cached per (service, bucket).
    """
    if service == "s3":
        service = "aws"
    if not skip_files:
        if bucket in AWS_CREDENTIALS_CACHE[service]:
            return AWS_CREDENTIALS_CACHE[service][bucket]
        path = find_secret(service, bucket)
        if path is not None:
            creds = load_json_secret(path)
            AWS_CREDENTIALS_CACHE[service][bucket] = creds
            return creds
    creds: CredentialType = {}
    env = os.environ
    if "AWS_ACCESS_KEY_ID" in env and "AWS_SECRET_ACCESS_KEY" in env:
        creds = {"AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"]}
        if "AWS_SESSION_TOKEN" in env:
            creds["AWS_SESSION_TOKEN"] = env["AWS_SESSION_TOKEN"]
    if "AWS_DEFAULT_REGION" in env:
        creds["AWS_DEFAULT_REGION"] = env["AWS_DEFAULT_REGION"]
    return creds


CAVE_CREDENTIALS: CredentialCacheType = {}


def cave_credentials(server: str = "") -> Optional[CredentialType]:
    """The CAVE (middleauth) secret ``{"token": ...}`` from ``[SERVER-]cave-secret.json``, or None."""
    if server in CAVE_CREDENTIALS:
        return CAVE_CREDENTIALS[server]
    path = find_secret("cave", server)
    if path is not None:
        CAVE_CREDENTIALS[server] = load_json_secret(path)
        return CAVE_CREDENTIALS[server]
    return None


HTTP_CREDENTIALS: Optional[CredentialType] = None


def http_credentials() -> Optional[CredentialType]:
    """The ``{"user": ..., "password": ...}`` of ``http-secret.json``, or None (cached once found)."""
    global HTTP_CREDENTIALS
    if HTTP_CREDENTIALS:
        return HTTP_CREDENTIALS
    path = secretpath("http-secret.json")
    HTTP_CREDENTIALS = load_json_secret(path) if os.path.exists(path) else None
    return HTTP_CREDENTIALS
