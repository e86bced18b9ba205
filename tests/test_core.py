"""The object core and the runner seam: layering, pickling, and fan-out honouring green=/executor=."""
from __future__ import annotations

import ast
import os
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cloudfiles import CloudFiles
from cloudfiles.objects import ObjectCore
from cloudfiles.runner import Runner

PKG = Path(__file__).resolve().parents[1] / "cloudfiles"

# Modules beneath the facade: the facade calls them, so they must not import it.
BENEATH = ["objects.py", "streaming.py", "transfer.py", "runner.py", "cleanup.py", "retry.py",
           "compression.py", "integrity.py", "meta.py", "paths.py", "inputs.py", "datasets/conditional.py"]
BENEATH += [f"backends/{p.name}" for p in (PKG / "backends").glob("*.py")]


def _imports_facade(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if mod.endswith("cloudfiles") and node.level > 0 or mod in ("cloudfiles.cloudfiles",):
                hits.append(f"line {node.lineno}: from {'.' * node.level}{mod} import ...")
            if node.level > 0 and mod == "" and any(a.name == "cloudfiles" for a in node.names):
                hits.append(f"line {node.lineno}: from . import cloudfiles")
            if mod == "cloudfiles" and node.level == 0 and any(a.name in ("CloudFiles", "CloudFile")
                                                                for a in node.names):
                hits.append(f"line {node.lineno}: from cloudfiles import CloudFiles")
    return hits


@pytest.mark.parametrize("name", sorted(set(BENEATH)))
def test_nothing_beneath_the_facade_imports_it(name):
    path = PKG / name
    assert path.exists(), name
    assert _imports_facade(path) == []


def _import_graph() -> dict[str, set[str]]:
    """Module -> modules of this package it imports anywhere (functions too), TYPE_CHECKING aside."""
    mods = {}
    for path in PKG.rglob("*.py"):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    graph: dict[str, set[str]] = {}

    class Visitor(ast.NodeVisitor):
        def __init__(self, pkg: str):
            self.pkg, self.deps = pkg, set()

        def visit_If(self, node):
            t = node.test
            if getattr(t, "id", None) == "TYPE_CHECKING" or getattr(t, "attr", None) == "TYPE_CHECKING":
                for n in node.orelse:
                    self.visit(n)
                return
            self.generic_visit(node)

        def visit_ImportFrom(self, node):
            if node.level:
                base = self.pkg.split(".")[: len(self.pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = {f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in mods}
            self.deps |= subs or ({mod} if mod in mods else set())

        def visit_Import(self, node):
            self.deps |= {a.name for a in node.names if a.name in mods}

    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        v = Visitor(pkg)
        v.visit(ast.parse(path.read_text()))
        graph[name] = v.deps - {name}
    return graph


@pytest.mark.parametrize("name", ["objects", "streaming", "transfer", "runner", "cleanup", "backends.s3",
                                  "backends.gcs", "backends.file", "backends.http", "backends.mem"])
def test_no_import_path_leads_from_beneath_the_facade_back_to_it(name):
    """Lazy imports count: a chain such as transfer -> dispatch -> cloudfiles is a cycle too."""
    graph = _import_graph()
    start = f"cloudfiles.{name}"
    parent = {start: None}
    todo = [start]
    while todo:
        mod = todo.pop()
        for dep in graph.get(mod, ()):
            if dep not in parent:
                parent[dep] = mod
                todo.append(dep)
    if "cloudfiles.cloudfiles" in parent:
        chain = ["cloudfiles.cloudfiles"]
        while parent[chain[-1]] is not None:
            chain.append(parent[chain[-1]])
        pytest.fail(" <- ".join(chain))


def test_core_pickles_as_its_cloudpath_and_options(tmp_path):
    cf = CloudFiles(f"file://{tmp_path}", max_decompressed_size="1M", part_size=1 << 20)
    cf.put("a/b.txt", b"hello", compress="gzip")
    core = pickle.loads(pickle.dumps(cf.core))
    assert isinstance(core, ObjectCore) and core is not cf.core
    assert core.cloudpath == cf.cloudpath
    assert core.max_decompressed_size == 1 << 20
    assert core.stream_settings.part_size == 1 << 20
    assert core.read("a/b.txt") == (b"hello", "gzip")


def test_core_options_name_the_cores_and_the_facades_keywords():
    import inspect

    from cloudfiles.objects import CORE_OPTIONS

    core = {n for n, p in inspect.signature(ObjectCore).parameters.items() if p.kind is p.KEYWORD_ONLY}
    facade = set(inspect.signature(CloudFiles).parameters)
    assert set(CORE_OPTIONS) == core
    assert core <= facade


def test_core_rejects_keys_outside_its_root(tmp_path):
    from cloudfiles.exceptions import InvalidInputError

    core = CloudFiles(f"file://{tmp_path}/inner").core
    assert core.key(f"file://{tmp_path}/inner/x") == "x"
    with pytest.raises(InvalidInputError, match="not under"):
        core.key(f"file://{tmp_path}/other/x")


def test_runner_map_limits_concurrency_and_yields_all():
    running = 0
    peak = 0
    lock = threading.Lock()

    def work(i):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.01)
        with lock:
            running -= 1
        return i * 2

    out = sorted(Runner(3).map(work, range(20)))
    assert out == [i * 2 for i in range(20)]
    assert 1 < peak <= 3


def test_green_runner_executor_runs_greenlets():
    gevent = pytest.importorskip("gevent")
    main = gevent.getcurrent()
    with Runner(4, green=True).executor() as pool:
        futures = [pool.submit(lambda: gevent.getcurrent() is not main) for _ in range(8)]
        assert all(f.result() for f in futures)
        assert list(pool.map(lambda x: x + 1, [1, 2, 3])) == [2, 3, 4]


class CountingPool(ThreadPoolExecutor):
    """A caller's executor that counts the work handed to it."""

    def __init__(self, n):
        super().__init__(n)
        self.submitted = 0
        self._count_lock = threading.Lock()

    def submit(self, fn, *args, **kwargs):
        with self._count_lock:
            self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_large_object_parts_run_on_the_callers_executor(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    with CountingPool(4) as pool:
        cf = CloudFiles(f"mem://core-exec-{os.getpid()}", executor=pool, part_size=512 * 1024,
                        large_threshold=1024 * 1024)
        cf.upload_file(str(src), "big.bin")
        after_upload = pool.submitted
        assert after_upload >= 6  # the upload's parts went through the caller's pool
        out = tmp_path / "out.bin"
        cf.download_file("big.bin", str(out))
        assert pool.submitted > after_upload  # and so did the download's
    assert out.read_bytes() == data
    pool.shutdown()


def test_transfer_runs_on_the_callers_executor(tmp_path):
    src = CloudFiles(f"file://{tmp_path}/src")
    src.puts([(f"k{i}", b"x" * i) for i in range(30)])
    with CountingPool(4) as pool:
        res = CloudFiles(f"file://{tmp_path}/src", executor=pool, num_threads=4).transfer_to(
            f"file://{tmp_path}/dest")
        assert pool.submitted >= 30
    assert res.transferred == 30
    assert sorted(CloudFiles(f"file://{tmp_path}/dest").list()) == sorted(f"k{i}" for i in range(30))


def test_green_transfer_and_large_download(tmp_path):
    pytest.importorskip("gevent")
    data = os.urandom(2 * 1024 * 1024 + 5)
    cf = CloudFiles(f"file://{tmp_path}/g", green=True, part_size=256 * 1024, large_threshold=512 * 1024)
    cf.put("big", data)
    cf.download_file("big", str(tmp_path / "big.out"))
    assert (tmp_path / "big.out").read_bytes() == data
    res = cf.transfer_to(f"file://{tmp_path}/g2")
    assert res.transferred == 1
    assert CloudFiles(f"file://{tmp_path}/g2").get("big") == data
