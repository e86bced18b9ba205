"""The assets configuration file, validated with pydantic; errors name the key."""
from __future__ import annotations

import os
from typing import Any, Literal, Optional, Union

import yaml

from cloudfiles.exceptions import InvalidInputError

ENV = "CLOUDFILES_ASSETS_CONFIG"


class AssetsConfigError(InvalidInputError):
    """The assets configuration is invalid."""


def _models():
    from pydantic import BaseModel, ConfigDict, Field

    class _Base(BaseModel):
        model_config = ConfigDict(extra="forbid")

    MT = list[Literal["asset", "file"]]

    class Disk(_Base):
        name: Literal["disk"]
        target_directory: str
        metadata_types: MT = ["asset", "file"]

    class Cloud(_Base):
        name: Literal["cloudpath"]
        target: str
        secrets: Optional[Union[str, dict]] = None
        metadata_types: MT = ["asset", "file"]

    class Dataset(_Base):
        name: Literal["dataset"]
        dataset: str
        remote: Optional[str] = None
        home: Optional[str] = None
        metadata_types: MT = ["asset", "file"]

    class Webhook(_Base):
        url: str = Field(pattern=r"^https?://")
        method: Literal["get", "post", "put", "patch", "delete"] = "post"
        timeout: float = 60
        params: Optional[dict] = None
        json_: Optional[Any] = Field(None, alias="json")
        data: Optional[Any] = None
        headers: Optional[dict] = None

    class Config(_Base):
        ingress_directory: str
        staging_directory: str
        specification_files: list[str] = []
        include_regex: str = ""
        exclude_regex: str = r"\.DS_Store"
        write_mode: Literal["copy", "move"] = "copy"
        workflow: list[Literal["update", "create", "export", "delete"]] = ["update", "create", "export", "delete"]
        exporters: list[Union[Disk, Cloud, Dataset]] = Field(default_factory=list, discriminator=None)
        webhooks: list[Webhook] = []

    return Config


def load_config(config: Union[str, dict, None] = None):
    """A validated config from a dict, a YAML file path, or ``$CLOUDFILES_ASSETS_CONFIG``."""
    from pydantic import ValidationError

    source = "config"
    if config is None:
        config = os.environ.get(ENV)
        if not config:
            raise AssetsConfigError(f"no config given and ${ENV} is not set")
    if isinstance(config, (str, os.PathLike)):
        source = os.fspath(config)
        try:
            with open(source) as f:
                config = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as err:
            raise AssetsConfigError(f"{source}: cannot read config: {' '.join(str(err).split())}") from None
    if not isinstance(config, dict):
        raise AssetsConfigError(f"{source}: config must be a mapping")
    try:
        return _models()(**config)
    except ValidationError as err:
        msgs = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise AssetsConfigError(f"{source}: " + "; ".join(msgs)) from None
