"""S3 request signing (AWS Signature Version 4) and credential discovery.

Signing keys are derived with ``hmac`` and cached per secret, day and region;
timestamps are formatted once per second. Credentials are found in the
order the S3 backend documents; botocore is imported only for its default
credential chain, the last resort.
"""
from __future__ import annotations

import hmac
import os
import time
from typing import Any, Optional
from urllib.parse import quote

from .. import secrets as _secrets
from ..exceptions import CredentialsError, InvalidInputError

ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_ENV_KEYS = ENV_KEYS

# Derived SigV4 signing keys: (secret, yyyymmdd, region) -> key.
_signing_keys: dict[tuple[str, str, str], bytes] = {}
_amz_date_cache: list = [0, "", ""]


def _amz_now() -> tuple[str, str]:
    """``(YYYYMMDDTHHMMSSZ, YYYYMMDD)`` for now, recomputed once per second."""
    now = int(time.time())
    cached = _amz_date_cache
    if cached[0] != now:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        cached[:] = [now, stamp, stamp[:8]]
        return stamp, stamp[:8]
    return cached[1], cached[2]


def _signing_key(secret: str, day: str, region: str) -> bytes:
    k = (secret, day, region)
    key = _signing_keys.get(k)
    if key is None:
        key = hmac.digest(("AWS4" + secret).encode(), day.encode(), "sha256")
        for part in (region, "s3", "aws4_request"):
            key = hmac.digest(key, part.encode(), "sha256")
        if len(_signing_keys) > 256:
            _signing_keys.clear()
        _signing_keys[k] = key
    return key


def _q(value: str) -> str:
    """URI-encode a query name or value the way SigV4 canonicalises it."""
    return quote(value, safe="-_.~")


def _canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(params.items()))


class _Credentials:
    """Access key, secret and token; ``provider`` refreshes them (botocore chain)."""

    __slots__ = ("access_key", "secret_key", "token", "region", "source", "provider")

    def __init__(self, access_key: str, secret_key: str, token: Optional[str], region: Optional[str],
                 source: str, provider: Any = None):
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token or None
        self.region = region
        self.source = source
        self.provider = provider

    def current(self) -> tuple[str, str, Optional[str]]:
        if self.provider is None:
            return self.access_key, self.secret_key, self.token
        frozen = self.provider.get_frozen_credentials()
        return frozen.access_key, frozen.secret_key, frozen.token or None


def _from_mapping(data: Any, source: str) -> _Credentials:
    if not isinstance(data, dict):
        raise CredentialsError(f"S3 credentials from {source} must be a JSON object, got {type(data).__name__}")

    def pick(*names: str) -> Optional[str]:
        for n in names:
            if data.get(n):
                return str(data[n])
        return None

    ak = pick("AWS_ACCESS_KEY_ID", "aws_access_key_id", "access_key")
    sk = pick("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key", "secret_key")
    missing = [n for n, v in (("AWS_ACCESS_KEY_ID", ak), ("AWS_SECRET_ACCESS_KEY", sk)) if not v]
    if missing:
        raise CredentialsError(f"S3 credentials from {source} lack {' and '.join(missing)}")
    return _Credentials(ak, sk, pick("AWS_SESSION_TOKEN", "aws_session_token", "token"),
                        pick("AWS_DEFAULT_REGION", "AWS_REGION", "region"), source)


def secret_name(alias: Optional[str]) -> str:
    """The secrets-file name for an endpoint: ``aws-secret.json`` or ``ALIAS-secret.json``."""
    return f"{alias}-secret.json" if alias else "aws-secret.json"


def resolve_credentials(bucket: str, secrets: Any = None, alias: Optional[str] = None) -> _Credentials:
    """Find credentials for ``bucket`` in the documented order, or raise :class:`CredentialsError`."""
    if secrets is not None:
        if isinstance(secrets, (str, os.PathLike)):
            path = os.fspath(secrets)
            return _from_mapping(_secrets.load_json_secret(path), f"secrets file {path}")
        if isinstance(secrets, dict):
            return _from_mapping(secrets, "secrets=")
        raise InvalidInputError(
            f"secrets= for s3:// must be a dict or a path to a JSON file, got {type(secrets).__name__}"
        )
    name = secret_name(alias)
    path = _secrets.find_secret_file(name, bucket)
    if path:
        return _from_mapping(_secrets.load_json_secret(path), f"secrets file {path}")
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return _Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                            env.get("AWS_SESSION_TOKEN"), None, "environment")
    try:
        import botocore.session

        found = botocore.session.get_session().get_credentials()
    except Exception as err:  # botocore raises many kinds for broken profiles
        raise CredentialsError(
            f"no usable S3 credentials for bucket {bucket!r}: botocore's credential chain failed: {err}; "
            + _secrets.searched_description(name, bucket, _ENV_KEYS)
        ) from err
    if found is None:
        raise CredentialsError(
            f"no S3 credentials found for bucket {bucket!r}: "
            + _secrets.searched_description(name, bucket, _ENV_KEYS)
            + ", and botocore's default chain (~/.aws, SSO, instance metadata). "
            "Pass secrets=, or no_sign_request=True for a public bucket."
        )
    frozen = found.get_frozen_credentials()
    refreshable = hasattr(found, "refresh_needed")
    return _Credentials(frozen.access_key, frozen.secret_key, frozen.token, None,
                        f"botocore ({getattr(found, 'method', 'default chain')})",
                        provider=found if refreshable else None)
