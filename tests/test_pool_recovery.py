"""A caller's ProcessPoolExecutor whose child is SIGKILLed mid-run: the batches that
did not come back run again in a replacement pool (cloudfiles/pools.py), every file
arrives byte for byte and is counted once; a pool that keeps dying ends in one error.

The source is moto S3 behind tests/faultproxy.py with every object GET delayed, so
batches are still running when the test kills a child (found via ``pool._processes``
or ``multiprocessing.active_children()`` -- only here, in the test).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from urllib.parse import urlsplit

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import WorkersLostError
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.timeout(180)

N = 60
BATCH = 6  # 10 batches


@pytest.fixture
def slow_source(s3_server):
    """(CloudFiles through a proxy that delays each object GET by 0.15 s, {key: bytes})."""
    px = FaultProxy("127.0.0.1", urlsplit(s3_server.endpoint).port, style="s3").start()
    bucket = s3_server.make_bucket()
    files = {f"k/{i:03d}.bin": os.urandom(100 + i) for i in range(N)}
    direct = CloudFiles(s3_server.cloudpath(bucket, "root"), secrets=s3_server.secrets)
    direct.puts(list(files.items()))
    px.delay(0.15, method="GET", path=r"/root/k/", times=None)
    src = CloudFiles(f"s3://{px.url}/{bucket}/root", secrets=s3_server.secrets, num_threads=2)
    yield src, files
    px.stop()


def _kill_one_child_mid_run(pool: ProcessPoolExecutor, dest_dir: str, done: threading.Event) -> dict:
    """Start a thread that SIGKILLs one of the pool's children once some files arrived."""
    seen: dict = {}

    def run() -> None:
        while not done.is_set():
            arrived = sum(len(f) for _, _, f in os.walk(dest_dir)) if os.path.isdir(dest_dir) else 0
            if arrived >= BATCH:
                pid = next(iter(pool._processes))  # the test's only use of the private attribute
                os.kill(pid, signal.SIGKILL)
                seen.update(pid=pid, arrived=arrived, finished=done.is_set())
                return
            time.sleep(0.01)

    threading.Thread(target=run, daemon=True).start()
    return seen


def _new_children(before: set) -> set:
    return {p.pid for p in multiprocessing.active_children()} - before


@pytest.mark.parametrize("op", ["transfer", "sync", "get"])
def test_a_killed_child_is_replaced_and_every_file_counted_once(slow_source, tmp_path, op):
    src, files = slow_source
    dest_dir = str(tmp_path / "dest")
    dest = CloudFiles("file://" + dest_dir)
    before = {p.pid for p in multiprocessing.active_children()}
    pool = ProcessPoolExecutor(2)
    done = threading.Event()
    try:
        if op == "transfer":
            seen = _kill_one_child_mid_run(pool, dest_dir, done)
            res = src.transfer_to(dest, executor=pool, batch_size=BATCH)
            done.set()
            assert (res.transferred, res.skipped, res.failed, res.missing) == (N, 0, {}, [])
            assert res.bytes == sum(len(v) for v in files.values())
            got = dest.get(list(files), return_dict=True)
        elif op == "sync":  # batches of planned copies, results taken in plan order
            import cloudfiles

            seen = _kill_one_child_mid_run(pool, dest_dir, done)
            lines: list = []
            res = cloudfiles.sync(src, dest, executor=pool, batch_size=BATCH, on_action=lines.append)
            done.set()
            assert (res.copied, res.skipped, res.deleted, res.failed) == (N, 0, 0, {})
            assert res.bytes == sum(len(v) for v in files.values())
            assert [a.key for a in lines] == sorted(files)  # each once, in key order
            got = dest.get(list(files), return_dict=True)
        else:
            seen = {}  # get writes nothing to watch: kill about two batches into the run

            def killer() -> None:
                time.sleep(1.0)  # a batch is 6 GETs of 0.15 s on 2 threads; the run ~2.3 s
                pid = next(iter(pool._processes))
                os.kill(pid, signal.SIGKILL)
                seen.update(pid=pid, finished=done.is_set())

            threading.Thread(target=killer, daemon=True).start()
            results = src.get(list(files), executor=pool, batch_size=BATCH)
            done.set()
            assert len(results) == N and [r["path"] for r in results].count("k/000.bin") == 1
            assert all(r["error"] is None for r in results)
            got = {r["path"]: r["content"] for r in results}
        assert got == files  # byte for byte, each file once
        # the kill really hit the run: before it ended, and the caller's pool is broken by it
        assert seen and seen["finished"] is False, seen
        if op != "get":
            assert BATCH <= seen["arrived"] < N, seen
        with pytest.raises(BrokenProcessPool):
            pool.submit(os.getpid)
        # a later call given the broken pool runs in a replacement pool of its own
        assert src.exists(list(files), executor=pool, batch_size=20) == {k: True for k in files}
        # the replacement pool made for the run is shut down again: no new child left alive
        deadline = time.monotonic() + 10
        while _new_children(before) - set(pool._processes) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (_new_children(before) - set(pool._processes))
    finally:
        done.set()
        pool.shutdown(wait=True)


def test_a_pool_that_keeps_dying_ends_in_one_error_naming_the_batches(slow_source, tmp_path):
    src, files = slow_source
    before = {p.pid for p in multiprocessing.active_children()}
    pool = ProcessPoolExecutor(2)
    done = threading.Event()
    killed: set = set()

    def killer() -> None:  # kills every child of this process started for the run, as it appears
        while not done.is_set():
            for pid in _new_children(before) - killed:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                killed.add(pid)
            time.sleep(0.005)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        with pytest.raises(WorkersLostError) as info:
            src.transfer_to(CloudFiles("file://" + str(tmp_path / "d")), executor=pool, batch_size=BATCH)
    finally:
        done.set()
        t.join(5)
        pool.shutdown(wait=True)
    err = info.value
    assert err.replacements == 3 and 1 <= err.incomplete <= 4  # the window: 2 batches per process
    assert f"{err.incomplete} shipped batches were not completed" in str(err)
    from cloudfiles.transfer import TransferResult

    assert isinstance(err.result, TransferResult) and not err.result.failed  # what came back before
    assert err.result.transferred < N
    # at least one child of each pool (the caller's and three replacements): a broken pool
    # terminates its other children itself, sometimes before the killer sees them
    assert len(killed) >= 4
    deadline = time.monotonic() + 10
    while _new_children(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _new_children(before)
