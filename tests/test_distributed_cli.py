"""`cloudfiles cp -r --cluster tcp://...` on a real `dask scheduler` and `dask worker`
processes started here, with a worker SIGKILLed mid-run (file:// -> S3 and
S3 -> S3), then the driver SIGKILLed and the copy finished with `--resume`; and the
scheduler SIGKILLed mid-copy (one error line, `--resume` finishes).

Each copy is checked byte for byte, and the summary line must count every file
exactly once.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(240)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = [sys.executable, "-m", "cloudfiles_cli.main"]
DASK = [shutil.which("dask")] if shutil.which("dask") else [sys.executable, "-m", "dask"]
N = 160
SUMMARY = re.compile(rb"(\d+) copied \((\d+) bytes, (\d+) server-side\), (\d+) skipped, (\d+) missing, (\d+) failed")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(s3_server):
    e = dict(os.environ, AWS_ACCESS_KEY_ID=s3_server.access_key, AWS_SECRET_ACCESS_KEY=s3_server.secret_key,
             AWS_DEFAULT_REGION=s3_server.region)
    e["PYTHONPATH"] = REPO + os.pathsep + e.get("PYTHONPATH", "")
    return e


class Cluster:
    """A `dask scheduler` and its `dask worker` processes (no nanny: SIGKILL ends a worker for good)."""

    def __init__(self, env: dict, tmp):
        self.env, self.tmp = env, tmp
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        port = self.address.rsplit(":", 1)[1]
        self.scheduler = subprocess.Popen(DASK + ["scheduler", "--host", "127.0.0.1", "--port", port,
                                                  "--no-dashboard"], env=env, cwd=tmp,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers: list = []

    def add_worker(self) -> subprocess.Popen:
        w = subprocess.Popen(DASK + ["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                     "--memory-limit", "0", "--local-directory", str(self.tmp)],
                             env=self.env, cwd=self.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers.append(w)
        return w

    def wait_for(self, n: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + 60
        with Client(self.address, timeout=30) as c:
            while len(c.scheduler_info()["workers"]) < n:
                assert time.monotonic() < deadline, "workers did not join"
                time.sleep(0.1)

    def close(self) -> None:
        for p in self.workers + [self.scheduler]:
            if p.poll() is None:
                p.kill()
            p.wait()


@pytest.fixture
def cluster(env, tmp_path):
    c = Cluster(env, tmp_path)
    c.add_worker()
    c.add_worker()
    c.wait_for(2)
    yield c
    c.close()


def _keys(client, bucket: str, prefix: str) -> dict:
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"][len(prefix):]] = (o["ETag"], o["LastModified"])
    return out


def _cp(env, *args) -> subprocess.Popen:
    return subprocess.Popen(CLI + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when(proc, victim, count, at_least: int) -> int:
    """SIGKILL ``victim`` once ``count()`` reaches ``at_least`` while ``proc`` still runs; returns the count."""
    deadline = time.monotonic() + 60
    while True:
        n = count()
        assert proc.poll() is None, f"the copy ended before the kill ({n} arrived): {proc.communicate()}"
        if n >= at_least:
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            return n
        assert time.monotonic() < deadline, "the copy made no progress"
        time.sleep(0.01)


def _summary(stderr: bytes) -> tuple:
    m = SUMMARY.search(stderr)
    assert m, stderr.decode()
    return tuple(int(x) for x in m.groups())


def _tree(root) -> dict:
    """N files of 2-8 KB in five folders under ``root``: {relative name: bytes}."""
    files = {}
    for i in range(N):
        rel = f"d{i % 5}/f{i:04d}.bin"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        files[rel] = os.urandom(2000 + 37 * i)
        (root / rel).write_bytes(files[rel])
    return files


def test_cp_cluster_survives_a_killed_worker_and_a_killed_driver(cluster, env, s3_server, tmp_path):
    client = s3_server.boto3_client()
    src = tmp_path / "src"
    files = _tree(src)

    def arrived(bucket: str, prefix: str) -> int:
        return client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0)

    def verify(bucket: str, prefix: str) -> None:
        got = _keys(client, bucket, prefix)
        assert sorted(got) == sorted(files)
        for rel, data in files.items():
            assert client.get_object(Bucket=bucket, Key=prefix + rel)["Body"].read() == data, rel

    # 1. file:// -> S3, one worker killed mid-run: its batches run again on the other
    b1 = s3_server.make_bucket()
    url1 = s3_server.cloudpath(b1, "data")
    proc = _cp(env, "cp", "-r", "--cluster", cluster.address, "--batch-size", "8", "-b", "1",
               str(src), url1)
    _kill_when(proc, cluster.workers[0], lambda: arrived(b1, "data/"), 30)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert _summary(err) == (N, sum(map(len, files.values())), 0, 0, 0, 0)
    verify(b1, "data/")

    # 2. S3 -> S3 (server-side copies), the other worker killed mid-run
    cluster.add_worker()
    cluster.wait_for(2)
    b2 = s3_server.make_bucket()
    url2 = s3_server.cloudpath(b2, "copy")
    proc = _cp(env, "cp", "-r", "--cluster", cluster.address, "--batch-size", "8", "-b", "1",
               url1, url2)
    _kill_when(proc, cluster.workers[1], lambda: arrived(b2, "copy/"), 30)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    copied, nbytes, server_side, skipped, missing, failed = _summary(err)
    assert (copied, skipped, missing, failed) == (N, 0, 0, 0) and server_side == N
    verify(b2, "copy/")

    # 3. the driver killed mid-run; `--resume` sends only what had not arrived
    b3 = s3_server.make_bucket()
    url3 = s3_server.cloudpath(b3, "again")
    proc = _cp(env, "cp", "-r", "--cluster", cluster.address, "--batch-size", "8", "-b", "1",
               str(src) + "/**", url3 + "/")
    _kill_when(proc, proc, lambda: arrived(b3, "again/"), 30)
    # batches already running on the workers finish; wait until nothing more arrives
    before, stable_since = _keys(client, b3, "again/"), time.monotonic()
    while time.monotonic() - stable_since < 1.5:
        time.sleep(0.3)
        now = _keys(client, b3, "again/")
        if now != before:
            before, stable_since = now, time.monotonic()
    assert 0 < len(before) < N
    proc = _cp(env, "cp", "-r", "--resume", "--cluster", cluster.address, "--batch-size", "8",
               str(src) + "/**", url3 + "/")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    copied, _, _, skipped, missing, failed = _summary(err)
    assert (copied, skipped, missing, failed) == (N - len(before), len(before), 0, 0)
    after = _keys(client, b3, "again/")
    assert all(after[k] == v for k, v in before.items())  # what had arrived was not written again
    verify(b3, "again/")


def test_a_scheduler_killed_mid_copy_is_one_error_line_and_resume_finishes(cluster, env, s3_server, tmp_path):
    client = s3_server.boto3_client()
    src = tmp_path / "src"
    files = _tree(src)
    bucket = s3_server.make_bucket()
    url = s3_server.cloudpath(bucket, "data")
    # the client gives the lost scheduler 5 s to come back before Dask cancels the batches
    proc = _cp(dict(env, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="5s"), "cp", "-r", "--cluster",
               cluster.address, "--batch-size", "8", "-b", "1", str(src), url)
    start = time.monotonic()
    _kill_when(proc, cluster.scheduler, lambda: client.list_objects_v2(Bucket=bucket, Prefix="data/")
               .get("KeyCount", 0), 30)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and b"Traceback" not in err, err.decode()
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "batches were not completed: the Dask cluster" in lines[0], lines
    assert time.monotonic() - start < 90
    p = subprocess.run(CLI + ["cp", "-r", "--resume", str(src), url], env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    got = {rel: client.get_object(Bucket=bucket, Key="data/" + rel)["Body"].read()
           for rel in _keys(client, bucket, "data/")}
    assert got == files


def test_a_lost_scheduler_hands_python_callers_the_finished_part(cluster, s3_server, tmp_path):
    import threading

    import dask
    import distributed

    from cloudfiles import CloudFiles
    from cloudfiles.distributed import ClusterError
    from cloudfiles.transfer import TransferResult

    src = CloudFiles("file://" + str(tmp_path / "src"))
    n = 4 * N
    src.puts([(f"f{i:04d}", os.urandom(500)) for i in range(n)])
    dest = CloudFiles("file://" + str(tmp_path / "dest"))

    def kill_when_some_arrived() -> None:
        deadline = time.monotonic() + 60
        while len(list(dest.list())) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # so that some batch results reach the driver
        cluster.scheduler.kill()

    with dask.config.set({"distributed.comm.timeouts.connect": "5s"}):
        client = distributed.Client(cluster.address, timeout=30)
        try:
            t = threading.Thread(target=kill_when_some_arrived, daemon=True)
            t.start()
            with pytest.raises(ClusterError, match="batches were not completed: the Dask cluster") as err:
                src.transfer_to(dest, executor=client, batch_size=8, block_size=1)
            t.join(10)
        finally:
            client.close(timeout=5)
    part = err.value.result
    assert isinstance(part, TransferResult) and 0 < part.transferred < n and not part.failed
    assert part.transferred <= len(list(dest.list()))


def test_cluster_errors_are_one_line(env, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a").write_bytes(b"x")
    for spec, text in [("tcp://127.0.0.1:9", b"cannot reach the Dask scheduler"),
                       ("nonsense", b"a cluster is 'tcp://HOST:PORT' or 'local:N'")]:
        p = subprocess.run(CLI + ["cp", "-r", "--cluster", spec, str(tmp_path / "in"), str(tmp_path / "out")],
                           env=dict(env, CLOUDFILES_CLUSTER_TIMEOUT="2"), capture_output=True, timeout=60)
        assert p.returncode == 1 and text in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert b"Traceback" not in p.stderr


def test_xfer_execute_and_sync_on_a_local_cluster(env, tmp_path, s3_server):
    src = tmp_path / "src"
    src.mkdir()
    files = {f"f{i:03d}": os.urandom(100 + i) for i in range(40)}
    for k, v in files.items():
        (src / k).write_bytes(v)
    bucket = s3_server.make_bucket()
    db = str(tmp_path / "job.db")
    for args in (["xfer", "init", str(src), s3_server.cloudpath(bucket, "x"), "--db", db],
                 ["xfer", "execute", db, "--cluster", "local:1", "-b", "9"],
                 ["xfer", "status", db]):
        p = subprocess.run(CLI + args, env=env, capture_output=True, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
    assert b"total 40 finished 40 leased 0 available 0" in p.stdout
    client = s3_server.boto3_client()
    for k, v in files.items():
        assert client.get_object(Bucket=bucket, Key="x/" + k)["Body"].read() == v
    # sync --cluster: only the changed file goes
    (src / "f001").write_bytes(b"new content")
    p = subprocess.run(CLI + ["sync", "--cluster", "local:1", str(src), s3_server.cloudpath(bucket, "x")],
                       env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert b"copied 1, skipped 39, deleted 0, failed 0" in p.stdout
    assert client.get_object(Bucket=bucket, Key="x/f001")["Body"].read() == b"new content"
    # --dry-run --checksum --delete on the cluster: same-size changes found by the workers'
    # checks, every action printed here in key order, nothing changed
    for k in ("f030", "f002"):
        (src / k).write_bytes(os.urandom(len(files[k])))
    client.put_object(Bucket=bucket, Key="x/zz-stale", Body=b"old")
    before = {o["Key"]: o["ETag"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    p = subprocess.run(CLI + ["sync", "--cluster", "local:1", "--dry-run", "--checksum", "--delete", str(src),
                              s3_server.cloudpath(bucket, "x")], env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.decode().splitlines() == [
        "copy f002 (content, 102 bytes)", "copy f030 (content, 130 bytes)", "delete zz-stale (absent, 3 bytes)",
        "dry run: copied 2, skipped 38, deleted 1, failed 0, bytes 232"]
    assert {o["Key"]: o["ETag"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]} == before
