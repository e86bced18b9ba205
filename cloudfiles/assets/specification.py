"""Specification base classes. A specification validates one asset: a dict whose
values are lists over the asset's files. Validation is done by a pydantic model
built from the class's typed fields; every error of every field is returned."""
from __future__ import annotations

import os
from typing import Any, Callable, ClassVar, Optional

from . import naming
from .types import BaseType


class SpecificationBase:
    """Common base: naming fields, file traits and validation."""

    asset_type: ClassVar[str] = "file"
    asset_name_fields: ClassVar[list] = ["project", "specification", "descriptor", "version"]
    filename_fields: ClassVar[list] = ["project", "specification", "descriptor", "version", "extension"]
    file_traits: ClassVar[dict] = {}

    @classmethod
    def name(cls) -> str:
        return cls.__name__.lower()

    @classmethod
    def fields(cls) -> dict[str, tuple[Any, bool, list]]:
        """``{name: (annotation, required, validators)}`` from typed attributes and annotations."""
        out: dict = {}
        for klass in reversed(cls.__mro__):
            for key, ann in getattr(klass, "__annotations__", {}).items():
                if not key.startswith("_") and "ClassVar" not in str(ann):
                    out[key] = (ann, True, [])
            for key, val in vars(klass).items():
                if isinstance(val, BaseType):
                    out[key] = (val.annotation(), val.required, val.validators)
        return out

    @classmethod
    def model(cls):
        from pydantic import ConfigDict, create_model

        defs = {}
        for key, (ann, required, _) in cls.fields().items():
            defs[key] = (ann, ...) if required else (Optional[ann], None)
        return create_model(f"{cls.__name__}Model", __config__=ConfigDict(extra="ignore"), **defs)

    @classmethod
    def validate_asset(cls, data: dict) -> list[str]:
        """Every error of ``data`` (field lists over the asset's files); empty when valid."""
        from pydantic import ValidationError as PydanticError

        errors: list[str] = []
        values = dict(data)
        try:
            values = cls.model()(**data).model_dump()
        except PydanticError as err:
            for e in err.errors():
                loc = ".".join(str(x) for x in e["loc"])
                errors.append(f"{loc}: {e['msg']}")
        failed = {str(e.split(":", 1)[0]).split(".")[0] for e in errors}
        for key, (_, _, validators) in cls.fields().items():
            if key in failed or values.get(key) is None:
                continue
            for fn in validators:
                errors.extend(_run(fn, key, values[key]))
        return errors

    @classmethod
    def get_asset_path(cls, filepath: str) -> str:
        return filepath

    @classmethod
    def get_traits(cls, local_path: str) -> tuple[dict, list[str]]:
        out, errors = {}, []
        for key, fn in cls.file_traits.items():
            try:
                out[key] = fn(local_path)
            except Exception as err:  # a trait that fails is an error of that file
                out[key] = None
                errors.append(f"{key}: {type(err).__name__}: {err}")
        return out, errors


def _run(fn: Callable, key: str, value: Any) -> list[str]:
    try:
        if fn(value) is False:
            return [f"{key}: {value!r} failed {getattr(fn, '__name__', 'validator')}"]
    except Exception as err:
        return [f"{key}: {err}"]
    return []


class FileSpecificationBase(SpecificationBase):
    """An asset that is one file."""

    asset_type: ClassVar[str] = "file"


class SequenceSpecificationBase(SpecificationBase):
    """An asset that is one directory of files."""

    asset_type: ClassVar[str] = "sequence"

    @classmethod
    def get_asset_path(cls, filepath: str) -> str:
        return os.path.dirname(filepath)


class ComplexSpecificationBase(SpecificationBase):
    """An asset that is a tree of files: the nearest ancestor named as an asset of this specification."""

    asset_type: ClassVar[str] = "complex"

    @classmethod
    def get_asset_path(cls, filepath: str) -> str:
        parts = filepath.split("/")[:-1]
        for i in range(len(parts), 0, -1):
            try:
                if naming.parse(parts[i - 1], cls.asset_name_fields).get("specification") == cls.name():
                    return "/".join(parts[:i])
            except naming.NamingError:
                continue
        return os.path.dirname(filepath)
