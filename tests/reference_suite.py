"""Fetch cloud-files' own test suite from PyPI and adapt it to run against this package.

The reference's ``automated_test.py`` is downloaded at test time (never stored
in the repository) from the ``cloud-files`` source distribution and cached
under ``$CLOUDFILES_COMPAT_CACHE`` (default ``~/.cache/cloudfiles-compat``).
:func:`adapt` removes only what reads the reference's private internals:

* statements using ``_get_connection`` and every later statement of the same
  function that uses a name they bound (then empty ``if`` blocks);
* tests that drive the private CLI helpers ``_rm_many`` / ``_mv_single``;
* the ``cloudfiles.monitoring`` import and the tests of that module;
* the in-process ``moto.mock_aws`` s3 fixture, replaced by one (in the
  generated conftest) that points plain ``s3://`` paths at the local moto
  server through ``AWS_ENDPOINT_URL_S3``.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import tarfile
from typing import Optional

REF_VERSION = "6.4.3"
PRIVATE_HELPERS = ("_rm_many", "_mv_single")


def cache_dir() -> str:
    d = os.environ.get("CLOUDFILES_COMPAT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cloudfiles-compat")
    os.makedirs(d, exist_ok=True)
    return d


def fetch_sdist(version: str = REF_VERSION) -> Optional[str]:
    """Path of the cached ``cloud_files-VERSION.tar.gz``, downloading it with pip if needed; None if unreachable."""
    d = os.path.join(cache_dir(), "sdist")
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.endswith(f"-{version}.tar.gz"):
            return os.path.join(d, name)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "-d", d, f"cloud-files=={version}"],
        capture_output=True, text=True, timeout=300,
    )
    if proc.returncode != 0:
        return None
    for name in os.listdir(d):
        if name.endswith(f"-{version}.tar.gz"):
            return os.path.join(d, name)
    return None


def read_member(sdist: str, filename: str) -> str:
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.split("/", 1)[-1] == filename:
                return tar.extractfile(member).read().decode("utf8")
    raise FileNotFoundError(f"{filename} not in {sdist}")


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _mentions(node: ast.AST, words) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and n.attr in words:
            return True
        if isinstance(n, ast.Name) and n.id in words:
            return True
        if isinstance(n, ast.alias) and n.name in words:
            return True
    return False


def _bound(stmt: ast.stmt) -> set[str]:
    out: set[str] = set()
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    for t in targets:
        out |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def _prune(body: list[ast.stmt], tainted: set[str]) -> list[ast.stmt]:
    out = []
    for stmt in body:
        if _mentions(stmt, ("_get_connection",)) and not isinstance(stmt, (ast.If, ast.For, ast.With, ast.Try)):
            tainted |= _bound(stmt)
            continue
        if tainted & _names(stmt) and not isinstance(stmt, (ast.If, ast.For, ast.With, ast.Try)):
            tainted |= _bound(stmt)
            continue
        for field in ("body", "orelse", "finalbody"):
            if hasattr(stmt, field) and isinstance(getattr(stmt, field), list):
                setattr(stmt, field, _prune(getattr(stmt, field), tainted))
        if isinstance(stmt, (ast.If, ast.For, ast.With)) and not stmt.body:
            if isinstance(stmt, ast.If) and stmt.orelse:
                stmt.body = [ast.Pass()]
            else:
                continue
        out.append(stmt)
    return out


def adapt(source: str) -> str:
    """The reference suite minus its assertions on private internals (see module doc)."""
    tree = ast.parse(source)
    body = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in ("cloudfiles.monitoring", "moto"):
            continue
        if isinstance(node, ast.ClassDef) and _mentions(node, ("TransmissionMonitor", "IOSampler")):
            continue
        if isinstance(node, ast.FunctionDef):
            if node.name == "s3":
                continue  # provided by the generated conftest
            if _mentions(node, PRIVATE_HELPERS):
                continue
            node.body = _prune(node.body, set()) or [ast.Pass()]
        body.append(node)
    tree.body = body
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


CONFTEST = '''\
import os, sys
sys.path.insert(0, {repo!r})
import pytest
pytest_plugins = ["tests.stores.s3"]

BUCKETS = ("cloudfiles", "cloudfiles_src", "cloudfiles_dest")

@pytest.fixture(scope="session")
def _compat_buckets(s3_server):
    client = s3_server.boto3_client()
    for b in BUCKETS:
        client.create_bucket(Bucket=b)
    return client

@pytest.fixture
def s3(s3_server, _compat_buckets, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    client = _compat_buckets
    for b in BUCKETS:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=b):
            keys = [{{"Key": o["Key"]}} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=b, Delete={{"Objects": keys}})
    yield client

@pytest.fixture(autouse=True)
def _compat_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    from cloudfiles import paths
    reset = getattr(paths, "_reset_aliases_for_tests", None)
    if reset:
        reset()
'''


def write_suite(dest: str, repo: str, version: str = REF_VERSION) -> Optional[str]:
    """Write the adapted suite and its conftest into ``dest``; return the test file or None if PyPI is unreachable."""
    sdist = fetch_sdist(version)
    if sdist is None:
        return None
    os.makedirs(dest, exist_ok=True)
    path = os.path.join(dest, "test_reference_automated.py")
    with open(path, "w") as f:
        f.write(adapt(read_member(sdist, "automated_test.py")))
    with open(os.path.join(dest, "conftest.py"), "w") as f:
        f.write(CONFTEST.format(repo=repo))
    return path
