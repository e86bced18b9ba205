"""Where credentials files live and how they are found.

Search order for a secret named ``NAME`` (e.g. ``aws-secret.json``) used for
``BUCKET``: ``BUCKET-NAME`` then ``NAME``, in ``~/.cloudfiles/secrets/`` and
then ``~/.cloudvolume/secrets/`` (the reference library's location). Each
backend turns the file (or ``secrets=``, or the environment, or the
provider's default chain) into credentials itself.
"""
from __future__ import annotations

import json
import os
from typing import Optional

from .exceptions import CredentialsError


def secret_dirs() -> list[str]:
    """Directories searched for secrets files, most specific first."""
    home = os.path.expanduser("~")
    dirs = []
    extra = os.environ.get("CLOUDFILES_SECRETS_DIR")
    if extra:
        dirs.append(extra)
    dirs += [os.path.join(home, ".cloudfiles", "secrets"), os.path.join(home, ".cloudvolume", "secrets")]
    return dirs


def candidate_files(name: str, bucket: Optional[str] = None) -> list[str]:
    """Every path that would be tried for ``name``, in order."""
    out = []
    for d in secret_dirs():
        if bucket:
            out.append(os.path.join(d, f"{bucket}-{name}"))
        out.append(os.path.join(d, name))
    return out


def find_secret_file(name: str, bucket: Optional[str] = None) -> Optional[str]:
    """The first existing secrets file for ``name`` (bucket-prefixed first), or None."""
    for path in candidate_files(name, bucket):
        if os.path.isfile(path):
            return path
    return None


def load_json_secret(path: str) -> dict:
    """Read a JSON secrets file, naming the file in any error."""
    try:
        with open(path, "rt") as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise CredentialsError(f"could not read credentials file {path}: {err}") from err


def searched_description(name: str, bucket: Optional[str] = None, env: tuple[str, ...] = ()) -> str:
    """A sentence listing where credentials were looked for, for error messages."""
    places = candidate_files(name, bucket)
    parts = [", ".join(places)]
    if env:
        parts.append("environment variables " + ", ".join(env))
    return "looked in " + "; ".join(parts)
