"""Field types for specifications, with the ``required=``/``validators=`` shape
of the seed's examples, turned into pydantic annotations."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence


class BaseType:
    python: Any = Any

    def __init__(self, required: bool = False, validators: Optional[Sequence[Callable]] = None):
        self.required = required
        self.validators = list(validators or [])

    def annotation(self) -> Any:
        return self.python


class IntType(BaseType):
    python = int


class StringType(BaseType):
    python = str


class FloatType(BaseType):
    python = float


class BooleanType(BaseType):
    python = bool


class ListType(BaseType):
    """A list of ``field`` values (one per file of the asset)."""

    def __init__(self, field: BaseType, required: bool = False, validators: Optional[Sequence[Callable]] = None):
        super().__init__(required, validators)
        self.field = field

    def annotation(self) -> Any:
        return list[self.field.annotation()]  # type: ignore[misc]
