"""Concurrent writers of one file:// key in different encodings, and puts interrupted by its input.

The rule under test (cloudfiles/backends/localwrite.py): a write installs its
file by rename before any other name of the key is removed, removals happen
only under a lock by a writer whose own version is still installed, and
readers take the first name in a fixed order. So a key being rewritten is
never missing, and after the writers return it reads as one of their writes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from cloudfiles import CloudFiles
from cloudfiles.backends import localwrite

pytestmark = pytest.mark.timeout(120)

NAMES = ("k", "k.gz", "k.br", "k.zstd", "k.xz", "k.bz2")


def _names(root) -> list[str]:
    return sorted(n for n in os.listdir(root) if n in NAMES)


def test_two_encodings_never_missing_threads(tmp_path):
    """Writers of 'k' in gzip and plain race N times while readers read: the key is never
    missing, each read is one of the writes, and one name remains after both return."""
    root = tmp_path / "r"
    trials = 150
    initial = b"initial"
    cf = CloudFiles(f"file://{root}")
    cf.put("k", initial)
    stop = threading.Event()
    misses: list[int] = []
    wrong: list[bytes] = []
    reads = [0]
    valid = {initial} | {f"{enc}-{t}".encode() for t in range(trials) for enc in ("gz", "plain")}

    def reader() -> None:
        rcf = CloudFiles(f"file://{root}")
        while not stop.is_set():
            got = rcf.get("k")
            reads[0] += 1
            if got is None:
                misses.append(reads[0])
            elif got not in valid:
                wrong.append(got)
            if not rcf.exists("k"):
                misses.append(-reads[0])

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    after_both: list[str] = []
    try:
        for t in range(trials):
            gate = threading.Barrier(2)
            a, b = f"gz-{t}".encode(), f"plain-{t}".encode()

            def write(content, compress):
                w = CloudFiles(f"file://{root}")
                gate.wait()
                w.put("k", content, compress=compress)

            ws = [threading.Thread(target=write, args=(a, "gzip")),
                  threading.Thread(target=write, args=(b, None))]
            for w in ws:
                w.start()
            for w in ws:
                w.join()
            got = cf.get("k")
            if got not in (a, b) or len(_names(root)) != 1:
                after_both.append(f"trial {t}: read {got!r}, names {_names(root)}")
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not after_both, after_both[:5]
    assert not misses, f"readers saw the key missing {len(misses)} times in {reads[0]} reads"
    assert not wrong, wrong[:3]
    assert reads[0] > trials


_WRITER = textwrap.dedent("""
    import sys
    from cloudfiles import CloudFiles
    root, enc, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cf = CloudFiles("file://" + root)
    for i in range(n):
        cf.put("k", f"{enc}-{i}".encode(), compress=None if enc == "plain" else enc)
""")


def test_two_encodings_never_missing_processes(tmp_path):
    """Two processes rewrite 'k' as gzip and plain while this one reads: never missing
    (the directory flock keeps their removals apart)."""
    root = tmp_path / "r"
    CloudFiles(f"file://{root}").put("k", b"initial")
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, str(script), str(root), enc, "400"], env=env)
             for enc in ("gzip", "plain")]
    cf = CloudFiles(f"file://{root}")
    reads = misses = 0
    deadline = time.monotonic() + 90
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        got = cf.get("k")
        reads += 1
        if got is None:
            misses += 1
        else:
            assert got == b"initial" or got.split(b"-")[0] in (b"gzip", b"plain"), got
    for p in procs:
        assert p.wait(timeout=30) == 0
    assert misses == 0, f"the key was missing in {misses} of {reads} reads"
    final = cf.get("k")
    assert final is not None and final.split(b"-")[0] in (b"gzip", b"plain")


def test_read_rule_is_fixed_order(tmp_path):
    """With two names present (another process's shadowed leftover), every read takes the
    first in the documented order, whatever was read before."""
    root = tmp_path / "r"
    root.mkdir()
    (root / "k.gz").write_bytes(__import__("gzip").compress(b"old gz"))
    (root / "k").write_bytes(b"plain")
    cf = CloudFiles(f"file://{root}")
    for _ in range(3):
        assert cf.get("k") == b"plain"
        assert cf.head("k")["Content-Encoding"] is None
        assert cf.size("k") == 5


def test_rewrite_in_other_encoding_retires_the_old_name(tmp_path):
    root = tmp_path / "r"
    cf = CloudFiles(f"file://{root}")
    cf.put("k", b"one", compress="gzip")
    cf.put("k", b"two")
    assert _names(root) == ["k"] and cf.get("k") == b"two"
    cf.put("k", b"three", compress="br")
    assert _names(root) == ["k.br"] and cf.get("k") == b"three"
    # a leftover that existed before this process first wrote in the directory is found
    localwrite.forget_directories()
    (root / "k.zstd").write_bytes(b"stale")
    cf.put("k", b"four")
    assert _names(root) == ["k"] and cf.get("k") == b"four"


def test_stale_temporaries_removed_on_next_write(tmp_path):
    """A writer's first write in a directory removes temporaries there older than a day
    (a killed writer's), and leaves fresh ones (a live writer's) alone."""
    root = tmp_path / "r"
    root.mkdir()
    old = root / "a.cftmp-99999-1"
    fresh = root / "b.cftmp-99999-2"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_days = time.time() - 2 * 86400
    os.utime(old, (two_days, two_days))
    localwrite.forget_directories()
    CloudFiles(f"file://{root}").put("c", b"z")
    assert not old.exists() and fresh.exists()


class _InputBroke(RuntimeError):
    pass


def _raising_after(n: int, size: int):
    for i in range(n):
        yield f"f{i:04d}", bytes([i % 256]) * size
    raise _InputBroke(f"generator gave up after {n} items")


def _check_interrupted_puts(cf: CloudFiles, listing) -> None:
    with pytest.raises(_InputBroke) as info:  # the caller's own exception type, unchanged
        cf.puts(_raising_after(80, 256 * 1024))
    err = info.value
    written = sorted(err.written)
    assert len(written) == len(set(written)) <= 80 and written, written
    assert any("puts stopped after writing" in n for n in getattr(err, "__notes__", []))
    at_raise = sorted(listing())
    time.sleep(1.0)
    later = sorted(listing())
    assert later == at_raise, f"{len(later) - len(at_raise)} files landed after the raise"
    assert later == written, "the exception's .written list is not what was written"


def test_puts_generator_raising_file(tmp_path):
    root = tmp_path / "r"
    cf = CloudFiles(f"file://{root}", num_threads=20)
    _check_interrupted_puts(cf, lambda: [n for n in os.listdir(root) if ".cftmp-" not in n]
                            if root.exists() else [])


def test_puts_generator_raising_green(tmp_path):
    pytest.importorskip("gevent")
    root = tmp_path / "r"
    cf = CloudFiles(f"file://{root}", num_threads=20, green=True)
    _check_interrupted_puts(cf, lambda: [n for n in os.listdir(root) if ".cftmp-" not in n]
                            if root.exists() else [])


def test_puts_generator_raising_s3(s3_server):
    """Over the network many writes are in flight when the input raises: they finish
    (and are listed in .written) before the exception reaches the caller."""
    bucket = s3_server.make_bucket()
    cf = CloudFiles(s3_server.cloudpath(bucket, "p/"), secrets=s3_server.secrets, num_threads=20)
    _check_interrupted_puts(cf, lambda: list(cf.list()))


# -- durability: counted with strace, the real syscalls -------------------------------
_FSYNC_SCRIPT = textwrap.dedent("""
    import os, sys
    from cloudfiles import CloudFiles
    mode, root = sys.argv[1], sys.argv[2]
    kwargs = {"fsync": True} if mode == "arg" else {}
    cf = CloudFiles("file://" + root, **kwargs)
    os.write(2, b"--START--\\n")
    if mode == "manifest":
        from cloudfiles.datasets.store import _write_atomic
        _write_atomic(os.path.join(root, "manifest.json"), b"{}")
    else:
        cf.put("d/k", b"x" * 1000)
        cf.put("d/k", b"y" * 1000, compress="gzip")
""")


def _fsyncs(tmp_path, mode: str, env_extra: dict) -> int:
    import shutil

    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    script = tmp_path / "w.py"
    script.write_text(_FSYNC_SCRIPT)
    root = tmp_path / f"root-{mode}-{len(env_extra)}"
    root.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **env_extra)
    if not env_extra:
        env.pop("CLOUDFILES_FSYNC", None)
    proc = subprocess.run(["strace", "-f", "-e", "trace=fsync,fdatasync", sys.executable, str(script), mode,
                           str(root)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = proc.stderr.split("--START--", 1)[1]
    return sum(1 for line in after.splitlines() if "fsync(" in line and "= 0" in line)


def test_fsync_option_syncs_file_and_directory(tmp_path):
    assert _fsyncs(tmp_path, "plain", {}) == 0  # off by default
    # two writes, each: the file, its directory (+ the new directory's parent on the first)
    assert _fsyncs(tmp_path, "arg", {}) >= 4
    assert _fsyncs(tmp_path, "plain", {"CLOUDFILES_FSYNC": "1"}) >= 4


def test_dataset_manifests_always_fsync(tmp_path):
    assert _fsyncs(tmp_path, "manifest", {}) >= 2  # the file and its directory


def test_fsync_setting_is_checked(monkeypatch, tmp_path):
    from cloudfiles.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError):
        CloudFiles(f"file://{tmp_path}", fsync="yes")
    monkeypatch.setenv("CLOUDFILES_FSYNC", "maybe")
    with pytest.raises(InvalidInputError, match="CLOUDFILES_FSYNC"):
        CloudFiles(f"file://{tmp_path}")
