"""The byte budget is split across ``parallel=N`` child processes (cloudfiles/budget.py).

A real copy runs in its own interpreter with ``CLOUDFILES_MEMORY_BUDGET`` set:
library ``transfer_to(parallel=2)``, the CLI's ``-p 2 cp -r``, and the facade's
``run_chunks`` (``exists(parallel=2)``). Before it starts, the wrapper
registers a multiprocessing after-fork hook, so each child process writes down,
at its orderly exit, the budget it really had (its limit and the most bytes it
ever granted) and its peak RSS. The copies are large
re-encoded files, streamed, each asking for ``(part_threads + 2)`` parts: more
than a child's share (and less than the whole budget), so every child fills
whatever budget it has. Its peak equals its limit, half the budget; without the
split each would have taken its whole ask (22 MiB of a 24 MiB budget, twice over).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloudfiles import budget

MiB = 1024 * 1024
REPO = str(Path(__file__).resolve().parents[1])
LIMIT = 24 * MiB
PART = MiB
FILES, SIZE = 8, 6 * MiB

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

_REPORTER = """\
import json, os, sys
import multiprocessing.util as mu
OUT = sys.argv[1]

def _final():
    from cloudfiles import budget
    b = budget._budget
    hwm = 0
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                hwm = int(line.split()[1]) * 1024
    with open(os.path.join(OUT, 'child-%d.json' % os.getpid()), 'w') as f:
        json.dump({'limit': b and b.limit, 'peak': b and b.peak, 'hwm': hwm}, f)

class _Hook:
    pass

_hook = _Hook()
# In each multiprocessing child: at its orderly exit, write down the budget it had.
mu.register_after_fork(_hook, lambda _: mu.Finalize(None, _final, exitpriority=10))
"""

_LIB = _REPORTER + """\
from cloudfiles import CloudFiles, budget
kw = dict(part_size=%d, part_threads=20, large_threshold=%d, num_threads=20)
src, dest = CloudFiles(sys.argv[2], **kw), CloudFiles(sys.argv[3], **kw)
r = src.transfer_to(dest, reencode='zstd', parallel=2)
assert r.transferred == %d, r
assert all(src.exists([f'f{i}' for i in range(%d)], parallel=2).values())
print(json.dumps({'limit': budget.get().limit}))
""" % (PART, 2 * PART, FILES, FILES)

_CLI = _REPORTER + """\
from cloudfiles_cli.main import main
sys.argv = ['cloudfiles'] + sys.argv[2:]
main()
"""


def _tree(root: Path) -> dict[str, bytes]:
    root.mkdir()
    out = {}
    for i in range(FILES):
        data = os.urandom(SIZE)
        (root / f"f{i}").write_bytes(data)
        out[f"f{i}"] = data
    return out


def _run(code: str, reports: Path, *args) -> str:
    reports.mkdir()
    env = dict(os.environ, PYTHONPATH=REPO, CLOUDFILES_MEMORY_BUDGET=str(LIMIT))
    proc = subprocess.run([sys.executable, "-c", code, str(reports)] + [str(a) for a in args], env=env,
                          capture_output=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return proc.stdout.decode()


def _children(reports: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(reports.glob("child-*.json"))]


def _decoded(root: Path) -> dict[str, bytes]:
    import io

    import zstandard

    out = {}
    for p in root.iterdir():
        assert p.name.endswith(".zstd"), p
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(p.read_bytes())) as r:
            out[p.name[:-len(".zstd")]] = r.read()
    return out


def test_transfer_and_run_chunks_children_each_hold_half_the_budget(tmp_path):
    data = _tree(tmp_path / "src")
    out = _run(_LIB, tmp_path / "reports", "file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dest"))
    assert json.loads(out)["limit"] == LIMIT  # the parent's own budget is untouched
    children = _children(tmp_path / "reports")
    # two children for the transfer, two for exists(parallel=2)
    assert len(children) == 4, children
    assert all(c["limit"] == LIMIT // 2 for c in children), children
    movers = [c for c in children if c["peak"] > 0]
    assert len(movers) == 2, children  # exists() holds no bytes; the copies do
    # each streamed file asks for 22 parts (part_threads + 2) of 1 MiB, more than the share: it gets the share
    assert all(c["peak"] == LIMIT // 2 for c in movers), movers
    assert sum(c["peak"] for c in movers) <= LIMIT
    assert _decoded(tmp_path / "dest") == data


def test_cli_parallel_children_each_hold_half_the_budget(tmp_path):
    data = _tree(tmp_path / "src")
    _run(_CLI, tmp_path / "reports", "-p", "2", "cp", "-r", "-c", "zstd", "--part-bytes", str(2 * PART),
         str(tmp_path / "src"), str(tmp_path / "dest"))
    children = _children(tmp_path / "reports")
    assert len(children) == 2, children
    assert all(c["limit"] == LIMIT // 2 for c in children), children
    assert all(c["peak"] == LIMIT // 2 for c in children), children
    assert _decoded(tmp_path / "dest") == data


def test_child_share_splits_and_keeps_a_floor_of_three_parts():
    budget.set_limit(128 * MiB)
    try:
        assert budget.child_share(1) == 128 * MiB
        assert budget.child_share(2) == 64 * MiB
        assert budget.child_share(4, part_size=8 * MiB) == 32 * MiB
        assert budget.child_share(16, part_size=8 * MiB) == 24 * MiB  # the floor: three parts
        assert budget.child_share(16, part_size=64 * MiB) == 128 * MiB  # never more than the whole limit
    finally:
        budget.set_limit(budget.DEFAULT_LIMIT)


def test_local_cluster_workers_each_hold_their_share():
    """``--cluster local:N`` workers are processes of their own: they split the budget too."""
    pytest.importorskip("distributed")
    from cloudfiles.distributed import cluster_client

    budget.set_limit(96 * MiB)  # above the floor of three default (8 MiB) parts per worker
    try:
        with cluster_client("local:2") as client:
            limits = client.run(lambda: __import__("cloudfiles.budget").budget.get().limit)
    finally:
        budget.set_limit(budget.DEFAULT_LIMIT)
    assert sorted(limits.values()) == [48 * MiB, 48 * MiB], limits
