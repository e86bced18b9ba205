"""Dependencies: every one bounded below its next major release, the installed
versions inside those bounds, and no private API of any of them used.

The private-API check is a static scan (``ast``) of every module of cloudfiles
and cloudfiles_cli. A *dependency* is any module that is neither the standard
library nor ours. It flags, with file and line:

* importing a private name or module of a dependency (``from urllib3 import _x``,
  ``import fsspec._y``);
* an attribute chain rooted at a dependency's imported name with a private
  segment (``urllib3.util._x``, ``Request()._y``, ``gexc._Z``);
* in a class deriving from a dependency's class (fsspec's ``AbstractFileSystem``,
  ``Transaction``), a private name that the base class has (as a class attribute or
  an instance attribute its source assigns) and that our code does not define itself
  (overriding a hook such as ``_strip_protocol`` or ``_open`` is our own code);
* the well-known private attributes of HTTP client objects (:data:`KNOWN_PRIVATE`:
  ``res._fp``, ``pool._get_conn``, ...), whatever object they are read from — data
  flow is not tracked, so this list is what catches ``res._fp`` on a response
  returned by a call.
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata as md
import inspect
import re
import sys
from pathlib import Path
from typing import Iterator, Optional

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extras install tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cloudfiles", "cloudfiles_cli")

#: private attributes of urllib3 / http.client / requests / botocore / google-auth
#: objects that code has reached for (response file objects, pool internals, ...)
#: (none of them a name our own code defines: see test_known_private_names_are_not_ours)
KNOWN_PRIVATE = frozenset({
    "_fp", "_fp_bytes_read", "_get_conn", "_put_conn", "_new_conn", "_make_request", "_validate_conn",
    "_prepare_proxy", "_original_response", "_connection", "_sock", "_body", "_init_decoder", "_raw",
    "_content_consumed", "_request_signer", "_client_config", "_make_api_call", "_emitter",
    "_refresh_token", "_token_uri", "_signer",
})


# ---------------------------------------------------------------- declared bounds
def _requirements() -> list[tuple[str, Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        out += [(f"[{extra}]", Requirement(r)) for r in reqs]
    return out


def test_every_dependency_has_an_upper_bound():
    unbounded = [f"{where}: {req}" for where, req in _requirements()
                 if not any(s.operator in ("<", "<=", "==", "~=", "===") for s in req.specifier)]
    assert unbounded == [], "bound these below their next major release:\n" + "\n".join(unbounded)


def _installed(name: str) -> Optional[str]:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def test_installed_versions_satisfy_the_declared_bounds():
    """Runtime dependencies must be installed; an extra's only when it is."""
    bad, missing = [], []
    for where, req in _requirements():
        if req.marker is not None and not req.marker.evaluate({"extra": where.strip("[]")}):
            continue
        version = _installed(req.name)
        if version is None:
            if where == "dependencies":
                missing.append(str(req))
            continue
        if not req.specifier.contains(Version(version), prereleases=True):
            bad.append(f"{where}: {req.name} {version} is installed, {req} is declared")
    assert missing == [], f"runtime dependencies not installed: {missing}"
    assert bad == [], "\n".join(bad)


# ---------------------------------------------------------------- the static scan
def _stdlib() -> frozenset:
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:  # Python 3.9: everything importable from the interpreter's own lib directory
        import sysconfig
        lib = Path(sysconfig.get_paths()["stdlib"])
        names = {p.stem if p.suffix else p.name for p in lib.iterdir()} | set(sys.builtin_module_names)
    return frozenset(names)


STDLIB = _stdlib()


def _is_dependency(module: Optional[str]) -> bool:
    if not module:
        return False
    root = module.split(".")[0]
    return root not in STDLIB and root not in PACKAGES and root != "__future__"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def _root(node: ast.AST) -> Optional[str]:
    """The name an attribute chain (through calls and subscripts) starts from."""
    while True:
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _dotted(node: ast.AST) -> Optional[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _dependency_names(tree: ast.Module) -> dict[str, str]:
    """Names this module binds to a dependency's module or object -> what they are."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if _is_dependency(a.name):
                    names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_dependency(node.module):
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _defined_by_us() -> frozenset:
    """Every private name our own code defines: functions, classes, class attributes,
    attributes assigned on any object (``self._x = ...``)."""
    out = set()
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for sub in ast.walk(t):
                        if isinstance(sub, ast.Attribute):
                            out.add(sub.attr)
                        elif isinstance(sub, ast.Name):
                            out.add(sub.id)
            elif isinstance(node, ast.ClassDef):
                out.add(node.name)
        for node in ast.walk(tree):  # __slots__ entries
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                    for t in node.targets):
                for elt in getattr(node.value, "elts", []):
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                        out.add(elt.value)
    return frozenset(n for n in out if _private(n))


def _class_body_names(cls: ast.ClassDef) -> set:
    """Names a class body defines itself: methods and class attributes (not ``self.x = ...``)."""
    out = set()
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                out.update(sub.id for sub in ast.walk(t) if isinstance(sub, ast.Name))
    return out


def _base_private_names(qualname: str) -> set:
    """Private names a dependency's class has: class attributes and instance attributes
    its source (or any base's) assigns on ``self``."""
    module, _, attr = qualname.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        try:
            cls = importlib.import_module(qualname)  # a module imported by name
        except ImportError:  # not installed (the test extras install every optional dependency)
            return set()
    if not inspect.isclass(cls):
        return set()
    names = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        names.update(n for n in vars(klass) if _private(n))
        try:
            names.update(re.findall(r"self\.(_[A-Za-z]\w*)\s*=", inspect.getsource(klass)))
        except (OSError, TypeError):
            pass
    return {n for n in names if _private(n)}


def _violations() -> list[str]:
    found: list[str] = []
    for path, tree in _modules():
        rel = path.relative_to(ROOT)
        deps = _dependency_names(tree)
        inherited: set = set()  # private names of dependency classes ours derive from ...
        overridden: set = set()  # ... minus the ones our subclasses define (hooks such as _open)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    root, dotted = _root(base), _dotted(base)
                    if root in deps and dotted:
                        inherited |= _base_private_names(deps[root] + dotted[len(root):])
                        overridden |= _class_body_names(node)
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_dependency(node.module):
                if any(_private(p) for p in node.module.split(".")):
                    found.append(f"{where}: imports from the private module {node.module}")
                found += [f"{where}: imports the private name {a.name} from {node.module}"
                          for a in node.names if _private(a.name)]
            elif isinstance(node, ast.Import):
                found += [f"{where}: imports the private module {a.name}" for a in node.names
                          if _is_dependency(a.name) and any(_private(p) for p in a.name.split("."))]
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                root = _root(node.value)
                if root in deps:
                    found.append(f"{where}: .{node.attr} on {deps[root]} (a dependency)")
                elif node.attr in inherited and node.attr not in overridden:
                    found.append(f"{where}: .{node.attr} is a private name of a dependency's base class")
                elif node.attr in KNOWN_PRIVATE:
                    found.append(f"{where}: .{node.attr} is a private attribute of HTTP client objects")
    return found


def test_no_private_api_of_any_dependency():
    found = _violations()
    assert found == [], "private APIs of dependencies (use a public API instead):\n" + "\n".join(found)


def test_known_private_names_are_not_ours():
    """The list only means something while our own code defines none of its names."""
    assert sorted(KNOWN_PRIVATE & _defined_by_us()) == []


@pytest.mark.parametrize("code, what", [
    ("def f(pool):\n    return pool.urlopen('GET', '/', preload_content=False)._fp\n", "_fp"),
    ("import urllib3\nurllib3.util._x\n", "urllib3"),
    ("from google.auth.transport.requests import Request\nRequest()._session\n", "google.auth"),
    ("from urllib3 import _collections\n", "private name"),
    ("import fsspec._version\n", "private module"),
    ("from fsspec.spec import AbstractFileSystem\nclass FS(AbstractFileSystem):\n"
     "    def busy(self):\n        return self._intrans\n", "base class"),
])
def test_the_scan_catches(tmp_path, monkeypatch, code, what):
    """The scan fails on each kind of use (a module written to a scratch package)."""
    pkg = tmp_path / "cloudfiles"
    pkg.mkdir()
    (pkg / "bad.py").write_text(code)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = _violations()
    assert len(found) == 1 and what in found[0], found


def test_the_scan_allows_our_own_private_names(tmp_path, monkeypatch):
    pkg = tmp_path / "cloudfiles"
    pkg.mkdir()
    (pkg / "ok.py").write_text(
        "import urllib.parse\nfrom fsspec.spec import AbstractFileSystem\n"
        "class FS(AbstractFileSystem):\n"
        "    @classmethod\n    def _strip_protocol(cls, path):\n        return path\n"
        "    def _split(self, p):\n        return self._strip_protocol(p)\n"
        "def g(x):\n    return urllib.parse.urlsplit(x)._replace(query='')\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations() == []
