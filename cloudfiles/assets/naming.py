"""The naming convention: ``p-cat001_s-raw001_d-calico-jumping_v001_c0000-0005_f0001.png``.

Fields are joined by ``_``; each field is an indicator plus a token; the
extension follows the last ``.``. Every violation is reported, naming the
token and the rule it breaks.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from cloudfiles.exceptions import InvalidInputError

FIELDS = ["project", "specification", "descriptor", "version", "coordinate", "frame", "extension"]
INDICATORS = {"project": "p-", "specification": "s-", "descriptor": "d-", "version": "v",
              "coordinate": "c", "frame": "f", "extension": "."}
_RULES = {
    "project": (r"[a-z]{3,4}\d{1,4}", "projects are 3 or 4 lowercase letters followed by 1 to 4 digits"),
    "specification": (r"[a-z]{3,4}\d{3}", "specifications are 3 or 4 lowercase letters followed by 3 digits"),
    "descriptor": (r"(?!(master|final|last))[a-z0-9][a-z0-9-]*",
                   "descriptors are lowercase letters, digits and hyphens, begin with a letter or digit "
                   "and not with master, final or last"),
    "version": (r"\d{3}", "versions are 3 zero-padded digits greater than 0"),
    "coordinate": (r"\d{4}(-\d{4}){0,2}", "coordinates are 1 to 3 four-digit numbers joined by hyphens"),
    "frame": (r"\d{4}", "frames are 4 zero-padded digits"),
    "extension": (r"[a-zA-Z0-9]+", "extensions are letters and digits"),
}


class NamingError(InvalidInputError):
    """A name breaks the naming convention; ``errors`` lists every violation."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def _value(field: str, token: str) -> Any:
    if field in ("version", "frame"):
        return int(token)
    if field == "coordinate":
        return [int(x) for x in token.split("-")]
    return token


def specification_of(name: str) -> str | None:
    """The specification token of ``name`` (the ``s-`` field), or None."""
    stem = name.split(".", 1)[0]
    for token in stem.split("_"):
        if token.startswith("s-"):
            return token[2:]
    return None


def parse(name: str, fields: Sequence[str]) -> dict:
    """Fields of ``name`` under the field order ``fields``; raises NamingError naming every bad token."""
    bad = [f for f in fields if f not in INDICATORS]
    if bad:
        raise InvalidInputError(f"unknown naming fields {bad}; known: {FIELDS}")
    errors: list[str] = []
    out: dict = {}
    stem = name
    if "extension" in fields:
        if "." not in name:
            errors.append(f"{name!r}: no extension (the extension follows a '.')")
        else:
            stem, ext = name.rsplit(".", 1)
            if not re.fullmatch(_RULES["extension"][0], ext):
                errors.append(f"extension {ext!r} in {name!r}: {_RULES['extension'][1]}")
            out["extension"] = ext
    elif "." in name:
        errors.append(f"{name!r}: '.' is only allowed before an extension")
    ordered = [f for f in fields if f != "extension"]
    tokens = stem.split("_")
    if len(tokens) != len(ordered):
        errors.append(f"{name!r} has {len(tokens)} fields separated by '_', expected {len(ordered)}: "
                      + " ".join(ordered))
    for field, token in zip(ordered, tokens):
        ind = INDICATORS[field]
        if not token.startswith(ind):
            errors.append(f"{field} field {token!r} in {name!r}: must begin with {ind!r}")
            continue
        body = token[len(ind):]
        pattern, rule = _RULES[field]
        if not re.fullmatch(pattern, body) or (field == "version" and int(body) == 0):
            errors.append(f"{field} field {token!r} in {name!r}: {rule}")
            continue
        out[field] = _value(field, body)
    if errors:
        raise NamingError(errors)
    return out


def construct(data: dict, fields: Sequence[str]) -> str:
    """The name for ``data`` under the field order ``fields`` (inverse of :func:`parse`)."""
    parts = []
    for field in fields:
        if field == "extension":
            continue
        v = data[field]
        if field == "version":
            v = f"{v:03d}"
        elif field == "frame":
            v = f"{v:04d}"
        elif field == "coordinate":
            v = "-".join(f"{x:04d}" for x in v)
        parts.append(INDICATORS[field] + str(v))
    name = "_".join(parts)
    return name + "." + data["extension"] if "extension" in fields else name
