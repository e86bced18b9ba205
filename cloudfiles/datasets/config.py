"""Where datasets live: the local store and the remote, from arguments,
environment and ``~/.cloudfiles/config.yaml``, in that order of precedence.

Config file keys (top level, or under a ``datasets:`` section)::

    url: s3://my-bucket/datasets     # the remote (alias: remote)
    home: ~/data/datasets            # the local store
    secrets: ~/.cloudfiles/secrets/aws-secret.json   # or a mapping
    aws_access_key_id: AKIA...       # shorthand for S3 secrets
    aws_secret_access_key: ...
    endpoint: https://s3.example.org # S3-compatible services
    public: true                     # read anonymously (no credentials needed to pull)
    num_threads: 32
    compress: gzip                   # stored encoding for pushed files
    repositories: [~/defs, s3://b/defs]  # dataset definitions (docs/registry.md)

Environment: ``CLOUDFILES_DATASET_REMOTE``, ``CLOUDFILES_DATASET_HOME``,
``CLOUDFILES_CONFIG`` (another config file). With nothing configured the
remote is the local directory ``~/.cloudfiles/remote``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import DatasetError

_KNOWN = {"url", "remote", "home", "secrets", "aws_access_key_id", "aws_secret_access_key",
          "aws_session_token", "region", "endpoint", "public", "num_threads", "compress", "repositories"}


def config_path() -> str:
    """The config file consulted (it need not exist)."""
    return os.environ.get("CLOUDFILES_CONFIG") or os.path.join(os.path.expanduser("~"), ".cloudfiles", "config.yaml")


def _read_file(path: str) -> dict:
    try:
        with open(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise DatasetError(f"cannot read config file {path}: {err}") from err
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise DatasetError(f"config file {path} is not valid YAML: {err}") from err
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DatasetError(f"config file {path} must hold a mapping, not {type(doc).__name__}")
    section = doc.get("datasets", doc)
    if not isinstance(section, dict):
        raise DatasetError(f"config file {path}: 'datasets' must be a mapping")
    unknown = sorted(set(section) - _KNOWN - {"datasets"})
    if unknown:
        raise DatasetError(f"config file {path}: unknown keys {', '.join(map(str, unknown))} "
                           f"(known: {', '.join(sorted(_KNOWN))})")
    return {k: v for k, v in section.items() if k != "datasets"}


@dataclass
class DatasetConfig:
    """Resolved settings: the remote cloudpath, the local store and CloudFiles options."""

    remote: str
    home: str
    cf_kwargs: dict = field(default_factory=dict)
    public: bool = False
    compress: Optional[str] = None
    source: str = "defaults"
    repositories: list = field(default_factory=list)


def load(remote: Optional[str] = None, home: Optional[str] = None, **cf_kwargs: Any) -> DatasetConfig:
    """Resolve the configuration; explicit arguments win over environment over file."""
    path = config_path()
    conf = _read_file(path)
    source = path if conf else "defaults"
    base = os.path.join(os.path.expanduser("~"), ".cloudfiles")
    remote = remote or os.environ.get("CLOUDFILES_DATASET_REMOTE") or conf.get("url") or conf.get("remote") \
        or "file://" + os.path.join(base, "remote")
    home = home or os.environ.get("CLOUDFILES_DATASET_HOME") or conf.get("home") or os.path.join(base, "datasets")
    if not isinstance(remote, str) or not isinstance(home, str):
        raise DatasetError(f"config {source}: url and home must be strings")
    kwargs: dict = {}
    secrets = conf.get("secrets")
    if isinstance(secrets, str):
        secrets = os.path.expanduser(secrets)
    if conf.get("aws_access_key_id") or conf.get("aws_secret_access_key"):
        secrets = dict(secrets or {}) if isinstance(secrets, dict) else {}
        for k in ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region"):
            if conf.get(k):
                secrets[k] = str(conf[k])
    if secrets is not None:
        kwargs["secrets"] = secrets
    if conf.get("endpoint"):
        kwargs["endpoint"] = conf["endpoint"]
    if conf.get("num_threads") is not None:
        kwargs["num_threads"] = conf["num_threads"]
    kwargs.update(cf_kwargs)
    public = bool(conf.get("public", False))
    compress = conf.get("compress")
    repos = conf.get("repositories") or []
    if isinstance(repos, str):
        repos = [repos]
    if not isinstance(repos, list) or not all(isinstance(r, str) for r in repos):
        raise DatasetError(f"config {source}: repositories must be a list of directories or cloudpaths")
    return DatasetConfig(remote=remote, home=os.path.abspath(os.path.expanduser(home)), cf_kwargs=kwargs,
                         public=public, compress=compress, source=source, repositories=repos)
