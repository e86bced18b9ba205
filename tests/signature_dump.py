"""Describe the public module-level names of cloudfiles modules as JSON.

Run as a script under any interpreter that imports a ``cloudfiles`` (ours, or
the reference cloud-files in its own venv)::

    python -I tests/signature_dump.py [--path DIR] cloudfiles cloudfiles.paths ... < extra.json

For each module it lists the names its *source* binds at top level (``def``,
``class``, assignments; for a package's ``__init__`` also what it imports),
skipping ``_private`` ones, and describes each: ``kind`` (function, class,
module, value), the value's type, and for callables ``inspect.signature`` as
``[name, kind, default-repr-or-null]`` triples. Classes also get their public
methods and properties (those defined by classes of the same package).
``extra.json`` on stdin (``{module: [names]}``) asks for more names, so the
reference's list can be looked up in another implementation.
Prints one JSON object ``{module: {name: description}}``; a missing module or
name is ``{"kind": "missing"}``. Imports nothing but the standard library and
the modules asked for, so it runs unchanged in either environment.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import sys
import types

_EMPTY = inspect.Parameter.empty


def source_names(module: types.ModuleType) -> list[str]:
    """Public names bound at the top level of ``module``'s source."""
    try:
        path = inspect.getsourcefile(module)
        with open(path, encoding="utf8") as f:
            tree = ast.parse(f.read())
    except (TypeError, OSError):
        return [n for n in vars(module) if not n.startswith("_")]
    is_package = path.endswith("__init__.py")
    names: list[str] = []

    def add(name: str) -> None:
        if not name.startswith("_") and name not in names:
            names.append(name)

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        add(n.id)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            add(node.target.id)
        elif is_package and isinstance(node, ast.ImportFrom) and node.level >= 1:
            for alias in node.names:
                if alias.name != "*":
                    add(alias.asname or alias.name)
    return names


def describe_signature(obj) -> list | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [
        [p.name, p.kind.name, None if p.default is _EMPTY else repr(p.default)]
        for p in sig.parameters.values()
    ]


def describe_class(cls: type, package: str) -> dict:
    members: dict[str, dict] = {}
    for klass in reversed(cls.__mro__):
        if not (getattr(klass, "__module__", "") or "").startswith(package):
            continue
        for name, raw in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(raw, property):
                members[name] = {"kind": "property"}
            elif isinstance(raw, (staticmethod, classmethod)):
                members[name] = {"kind": "method", "signature": describe_signature(raw.__func__)}
            elif inspect.isfunction(raw):
                members[name] = {"kind": "method", "signature": describe_signature(raw)}
            else:
                members[name] = {"kind": "attribute", "type": type(raw).__name__}
    return members


def describe(obj, package: str) -> dict:
    if isinstance(obj, types.ModuleType):
        return {"kind": "module"}
    if inspect.isclass(obj):
        return {
            "kind": "class",
            "signature": describe_signature(obj),
            "bases": [b.__name__ for b in obj.__mro__[1:]],
            "members": describe_class(obj, package),
        }
    if type(obj).__module__ in ("typing", "types"):  # type aliases, TypeVars
        return {"kind": "value", "type": "typing", "type_module": "typing"}
    if callable(obj):
        return {"kind": "function", "signature": describe_signature(obj)}
    return {"kind": "value", "type": type(obj).__name__, "type_module": type(obj).__module__}


def dump(modules: list[str], extra: dict[str, list[str]]) -> dict:
    out: dict[str, dict] = {}
    for modname in modules:
        try:
            module = importlib.import_module(modname)
        except ImportError as err:
            out[modname] = {"__error__": {"kind": "missing", "error": str(err)}}
            continue
        package = modname.split(".")[0]
        names = source_names(module) + [n for n in extra.get(modname, []) if n]
        entry: dict[str, dict] = {}
        for name in dict.fromkeys(names):
            if not hasattr(module, name):
                entry[name] = {"kind": "missing"}
                continue
            entry[name] = describe(getattr(module, name), package)
        out[modname] = entry
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    while args and args[0] == "--path":  # put DIR first on sys.path (python -I ignores PYTHONPATH)
        sys.path.insert(0, args[1])
        args = args[2:]
    raw = sys.stdin.read() if not sys.stdin.isatty() else ""
    print(json.dumps(dump(args, json.loads(raw) if raw.strip() else {}), sort_keys=True))
