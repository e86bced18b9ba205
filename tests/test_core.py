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


def test_core_pickles_as_its_cloudpath_and_options(tmp_path):
    cf = CloudFiles(f"file://{tmp_path}", max_decompressed_size="1M", part_size=1 << 20)
    cf.put("a/b.txt", b"hello", compress="gzip")
    core = pickle.loads(pickle.dumps(cf.core))
    assert isinstance(core, ObjectCore) and core is not cf.core
    assert core.cloudpath == cf.cloudpath
    assert core.max_decompressed_size == 1 << 20
    assert core.stream_settings.part_size == 1 << 20
    assert core.read("a/b.txt") == (b"hello", "gzip")


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
