"""The job ledger in a bucket (``xfer --db <cloudpath>``, ``BucketTransfer``): real moto
S3 server and file://; racing clients, SIGKILLed clients, garbage ledger objects.

The destination bucket is versioned where copies are counted: every PUT of a key makes
one version, so ``versions[key]`` is how many times some client copied that file.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cloudfiles.exceptions import InvalidInputError
from cloudfiles.resumable_tools import BucketLedger, BucketTransfer, ResumableTransfer

from .test_cli import CLI, run

ROOT = Path(__file__).resolve().parents[1]


def make_files(root: Path, n: int, size: int = 50) -> dict:
    files = {}
    for i in range(n):
        name = f"d{i % 4}/f{i:04d}.bin"
        data = os.urandom(size + i)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        files[name] = data
    return files


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The moto server, its credentials in the environment (the copies build their own clients)."""
    for k, v in s3_server.secrets.items():
        monkeypatch.setenv(k, v)
    return s3_server


def versioned_bucket(s3_server) -> str:
    bucket = s3_server.make_bucket()
    s3_server.boto3_client().put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def versions(s3_server, bucket: str, prefix: str) -> dict:
    """{key: number of versions} under ``prefix`` (boto3's listing: an independent witness)."""
    counts: dict = {}
    for page in s3_server.boto3_client().get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            counts[v["Key"]] = counts.get(v["Key"], 0) + 1
    return counts


def s3_bytes(s3_server, bucket: str, prefix: str) -> dict:
    client = s3_server.boto3_client()
    return {k[len(prefix):]: client.get_object(Bucket=bucket, Key=k)["Body"].read()
            for k in s3_server.keys(bucket) if k.startswith(prefix)}


def env(s3_server=None) -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    if s3_server is not None:
        e.update(s3_server.secrets)
    return e


def test_moto_enforces_conditional_puts(s3_server):
    """The S3 tests below mean something only if the server refuses stale conditional PUTs."""
    import botocore

    client = s3_server.boto3_client()
    bucket = s3_server.make_bucket()
    etag = client.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    client.put_object(Bucket=bucket, Key="k", Body=b"3", IfMatch=etag)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.put_object(Bucket=bucket, Key="k", Body=b"4", IfMatch=etag)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"3"


def test_init_execute_status_on_s3(tmp_path, s3):
    files = make_files(tmp_path / "src", 23)
    bucket = s3.make_bucket()
    db = s3.cloudpath(bucket, "jobs/first")
    rt = BucketTransfer(db, lease_msec=5000)
    meta = rt.init(str(tmp_path / "src"), s3.cloudpath(bucket, "data"), chunk_size=5)
    assert (meta["chunks"], meta["files"]) == (5, 23)
    assert sorted(k for k in s3.keys(bucket) if k.startswith("jobs/first/chunks/")) == \
        [f"jobs/first/chunks/{i:06d}.json" for i in range(5)]
    st = rt.rfs.status()
    assert (st["total"], st["finished"], st["leased"], st["available"]) == (23, 0, 0, 23)
    other = BucketLedger(db, lease_msec=5000)
    assert other.try_lease(4) and other.try_lease(4) is None  # the last chunk: 3 files
    st = rt.rfs.status()
    assert (st["leased"], st["available"], st["chunks_leased"]) == (3, 20, 1)
    with pytest.raises(InvalidInputError, match="already exists"):
        BucketTransfer(db).init(str(tmp_path / "src"), s3.cloudpath(bucket, "data"))
    other.release()
    done = rt.execute()
    assert sorted(done.done) == [0, 1, 2, 3, 4] and done.files == 23 and not done.taken_over
    assert s3_bytes(s3, bucket, "data/") == files
    st = rt.rfs.status()
    assert (st["total"], st["finished"], st["leased"], st["available"], st["chunks_done"]) == (23, 23, 0, 0, 5)
    assert len(rt) == 0
    again = rt.execute()  # nothing left: a re-run copies nothing
    assert again.done == [] and again.files == 0
    rt.close()
    assert not [k for k in s3.keys(bucket) if k.startswith("jobs/")]


def test_racing_clients_lease_each_chunk_once(tmp_path, s3):
    """Eight threads creating one lease: one wins. Eight taking over one expired lease
    with the same token: one wins. Three executors on one ledger: every chunk copied by
    exactly one of them, every file written exactly once (destination versions)."""
    bucket = versioned_bucket(s3)
    files = make_files(tmp_path / "src", 60)
    db = s3.cloudpath(bucket, "jobs/race")
    BucketTransfer(db).init(str(tmp_path / "src"), s3.cloudpath(bucket, "data"), chunk_size=4)

    ledgers = [BucketLedger(db, lease_msec=1000) for _ in range(8)]
    barrier = threading.Barrier(8)
    won: list = []

    def create(led):
        barrier.wait()
        won.append(led.try_lease(0))

    threads = [threading.Thread(target=create, args=(led,)) for led in ledgers]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len([t for t in won if t]) == 1
    token, left = ledgers[0].expired_lease(0, ledgers[0].service_now())
    assert token is None and left > 0  # live
    time.sleep(2.3)  # lease 1 s + 1 s margin, Last-Modified in whole seconds
    token, left = ledgers[0].expired_lease(0, ledgers[0].service_now())
    assert token is not None
    taken: list = []

    def take(led):
        barrier.wait()
        taken.append(led.take_over(0, token))

    threads = [threading.Thread(target=take, args=(led,)) for led in ledgers]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len([t for t in taken if t]) == 1
    ledgers[0].release()

    runs: list = []
    errors: list = []

    def execute():
        try:
            runs.append(BucketTransfer(db, lease_msec=60000).execute())
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=execute) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    chunks = [i for r in runs for i in r.done]
    assert sorted(chunks) == list(range(15))  # each of the 15 chunks done by exactly one client
    assert not any(r.taken_over or r.lost for r in runs)
    assert versions(s3, bucket, "data/") == {f"data/{k}": 1 for k in files}
    assert s3_bytes(s3, bucket, "data/") == files


def _summary(out: bytes) -> tuple[int, int]:
    """(chunks copied, taken over) from `xfer execute`'s summary line."""
    line = out.decode().strip().splitlines()[-1]
    words = line.split()
    return int(words[3]), int(words[7])


def test_two_cli_clients_share_an_s3_ledger(tmp_path, s3_server):
    bucket = versioned_bucket(s3_server)
    files = make_files(tmp_path / "src", 120)
    db = s3_server.cloudpath(bucket, "jobs/cli")
    run("xfer", "init", tmp_path / "src", s3_server.cloudpath(bucket, "data"), "--db", db, "--chunk-size", "6",
        env=s3_server.secrets)
    assert b"total 120 finished 0 leased 0 available 120" in run("xfer", "status", db, env=s3_server.secrets).stdout
    clients = [subprocess.Popen(CLI + ["xfer", "execute", db, "--lease-msec", "60000"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env(s3_server)) for _ in range(2)]
    outs = []
    for c in clients:
        out, err = c.communicate(timeout=120)
        assert c.returncode == 0, err.decode()
        outs.append(_summary(out))
    assert sum(n for n, _ in outs) == 20 and all(t == 0 for _, t in outs)
    assert versions(s3_server, bucket, "data/") == {f"data/{k}": 1 for k in files}
    assert s3_bytes(s3_server, bucket, "data/") == files
    out = run("xfer", "status", db, env=s3_server.secrets).stdout
    assert b"total 120 finished 120 leased 0 available 0" in out and b"chunks 20 done 20" in out


def test_sigkilled_clients_leases_are_taken_over(tmp_path, s3_server):
    """A process that leased a chunk and a real `xfer execute` are both SIGKILLed; a later
    client waits for their leases to expire (by the service's clock), takes them over and
    finishes. Only chunks whose lease was taken over may have files copied twice."""
    bucket = versioned_bucket(s3_server)
    files = make_files(tmp_path / "src", 150, size=100_000)  # copying a chunk takes a while
    db = s3_server.cloudpath(bucket, "jobs/killed")
    run("xfer", "init", tmp_path / "src", s3_server.cloudpath(bucket, "data"), "--db", db, "--chunk-size", "3",
        env=s3_server.secrets)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom cloudfiles.resumable_tools import BucketLedger\n"
         "led = BucketLedger(sys.argv[1], lease_msec=2000)\n"
         "print(led.try_lease(49) is not None, flush=True)\ntime.sleep(600)\n", db],
        stdout=subprocess.PIPE, env=env(s3_server))
    assert holder.stdout.readline().strip() == b"True"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    victim = subprocess.Popen(CLI + ["xfer", "execute", db, "--lease-msec", "2000"], env=env(s3_server),
                              stdout=subprocess.DEVNULL)
    client = s3_server.boto3_client()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it mid-chunk: stopped while it holds a lease on a chunk not done
        time.sleep(0.005)
        victim.send_signal(signal.SIGSTOP)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="jobs/killed/").get("Contents", [])]
        done = {k.rsplit("/", 1)[-1] for k in keys if "/done/" in k}
        held = {k.rsplit("/", 1)[-1] for k in keys if "/leases/" in k} - done - {"000049"}
        if len(done) >= 5 and held:
            break
        victim.send_signal(signal.SIGCONT)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.monotonic()
    leases = {k.rsplit("/", 1)[-1] for k in s3_server.keys(bucket) if k.startswith("jobs/killed/leases/")}
    done = {k.rsplit("/", 1)[-1] for k in s3_server.keys(bucket) if k.startswith("jobs/killed/done/")}
    orphans = leases - done
    assert "000049" in orphans and len(orphans) >= 2 and 5 <= len(done) < 50  # the holder's and the victim's
    proc = run("xfer", "execute", db, "--lease-msec", "2000", env=s3_server.secrets)
    copied, taken = _summary(proc.stdout)
    assert copied == 50 - len(done) and taken == len(orphans)
    assert time.monotonic() - killed_at >= 1.0  # the orphans waited for their leases
    assert s3_bytes(s3_server, bucket, "data/") == files
    twice = {k for k, n in versions(s3_server, bucket, "data/").items() if n > 1}
    names = sorted(files)
    orphan_files = {f"data/{names[j]}" for c in orphans for j in range(int(c) * 3, int(c) * 3 + 3)}
    assert twice <= orphan_files
    assert all(n <= 2 for n in versions(s3_server, bucket, "data/").values())
    assert b"total 150 finished 150 leased 0 available 0" in run("xfer", "status", db, env=s3_server.secrets).stdout


def test_file_ledger_with_a_process_pool(tmp_path):
    """file:// ledger, chunks shipped as transfer batches to worker processes."""
    from concurrent.futures import ProcessPoolExecutor

    files = make_files(tmp_path / "src", 40)
    db = "file://" + str(tmp_path / "jobs" / "pool")
    rt = BucketTransfer(db, lease_msec=5000)
    rt.init("file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"), chunk_size=7)
    with ProcessPoolExecutor(2) as pool:
        done = rt.execute(executor=pool)
    assert sorted(done.done) == list(range(6)) and done.files == 40
    got = {str(p.relative_to(tmp_path / "dst")): p.read_bytes() for p in (tmp_path / "dst").rglob("*") if p.is_file()}
    assert got == files
    assert rt.rfs.status()["finished"] == 40


def test_garbage_in_the_ledger_is_one_clear_error(tmp_path):
    make_files(tmp_path / "src", 10)
    db = "file://" + str(tmp_path / "jobs" / "g")
    rt = BucketTransfer(db, lease_msec=5000)
    rt.init("file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"), chunk_size=2)
    leases = tmp_path / "jobs" / "g" / "leases"
    leases.mkdir()
    (leases / "000000").write_bytes(b"\x00garbage{")
    with pytest.raises(InvalidInputError, match="leases/000000: not a cloudfiles job ledger object"):
        BucketTransfer(db, lease_msec=5000).execute()
    proc = run("xfer", "execute", db, ok=False)
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1 and b"leases/000000" in proc.stderr
    (leases / "000000").write_text(json.dumps({"chunk": 0, "client": "../../x", "lease_msec": 5000, "nonce": "a"}))
    with pytest.raises(InvalidInputError, match="a lease needs"):
        BucketTransfer(db, lease_msec=5000).execute()
    (leases / "000000").unlink()
    (leases / "999999").write_text("{}")  # not a chunk of this job
    with pytest.raises(InvalidInputError, match="chunk number below 5"):
        BucketTransfer(db).rfs.status()
    (leases / "999999").unlink()
    chunk = tmp_path / "jobs" / "g" / "chunks" / "000001.json"
    doc = json.loads(chunk.read_text())
    chunk.write_text(json.dumps(dict(doc, names=[doc["names"][0], 7])))
    with pytest.raises(InvalidInputError, match="000001.json"):
        BucketTransfer(db).rfs.names(1)
    chunk.write_text(json.dumps(dict(doc, names=["a"] * 3)))
    with pytest.raises(InvalidInputError, match="3 names"):
        BucketTransfer(db).rfs.names(1)
    meta = tmp_path / "jobs" / "g" / "meta.json"
    meta.write_bytes(b" " * (70 * 1024))
    with pytest.raises(InvalidInputError, match="more than a ledger object may hold"):
        BucketTransfer(db).rfs.metadata()
    meta.write_text(json.dumps({"format": "cloudfiles-ledger/1", "source": "file:///a", "dest": "file:///b",
                                "init": "x", "reencode": None, "created": 0, "chunks": 9, "files": 10,
                                "chunk_size": 2}))
    with pytest.raises(InvalidInputError, match="do not make 9 chunks"):
        BucketTransfer(db).rfs.metadata()
    proc = run("xfer", "status", db, ok=False)
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1


def test_refusals(tmp_path):
    with pytest.raises(InvalidInputError, match="job name"):
        BucketLedger("file://" + str(tmp_path / "jobs" / "bad name!"))
    with pytest.raises(InvalidInputError, match="no conditional writes"):
        BucketLedger("file://" + str(tmp_path / "jobs" / "j"), features={"conditional_writes": False})
    with pytest.raises(InvalidInputError, match="no transfer job here"):
        BucketTransfer("file://" + str(tmp_path / "jobs" / "none")).execute()
    proc = run("xfer", "execute", "https://example.invalid/jobs/j", ok=False)
    assert proc.returncode == 1 and b"no conditional writes" in proc.stderr
    (tmp_path / "src").mkdir()
    with pytest.raises(InvalidInputError, match="under the listed source"):
        BucketTransfer("file://" + str(tmp_path / "src" / "jobs" / "j")).init(
            "file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"))


def test_sqlite_path_still_means_sqlite(tmp_path):
    make_files(tmp_path / "src", 5)
    db = tmp_path / "job.db"
    run("xfer", "init", tmp_path / "src", tmp_path / "dst", "--db", db)
    assert db.read_bytes().startswith(b"SQLite format 3")
    run("xfer", "execute", db)
    assert ResumableTransfer(str(db)).rfs.finished() == 5
    with pytest.raises(InvalidInputError, match="BucketTransfer"):
        ResumableTransfer("s3://bucket/jobs/j")


def test_cluster_client_and_plain_client_share_a_ledger(tmp_path, s3_server):
    """`xfer execute --cluster local:2` (chunks shipped to Dask workers as transfer batches)
    and a plain client on the same S3 ledger: every chunk by one of them, every file once."""
    pytest.importorskip("distributed")
    bucket = versioned_bucket(s3_server)
    files = make_files(tmp_path / "src", 240)
    db = s3_server.cloudpath(bucket, "jobs/dask")
    run("xfer", "init", tmp_path / "src", s3_server.cloudpath(bucket, "data"), "--db", db, "--chunk-size", "5",
        env=s3_server.secrets)
    def start(extra):
        return subprocess.Popen(CLI + ["xfer", "execute", db, "--lease-msec", "60000"] + extra,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(s3_server))

    clients = [start(["--cluster", "local:2"])]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(k.startswith("jobs/dask/done/") for k in s3_server.keys(bucket)):
            break
        time.sleep(0.05)
    clients.append(start([]))  # joins once the cluster is copying
    outs = []
    for c in clients:
        out, err = c.communicate(timeout=180)
        assert c.returncode == 0, err.decode()
        outs.append(_summary(out))
    assert sum(n for n, _ in outs) == 48 and outs[0][0] > 0, outs
    assert versions(s3_server, bucket, "data/") == {f"data/{k}": 1 for k in files}
    assert s3_bytes(s3_server, bucket, "data/") == files


def test_gcs_ledger(tmp_path, gcs_server, monkeypatch):
    """The same ledger on the GCS emulator (ifGenerationMatch=0 / =<generation>)."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    bucket = gcs_server.create_bucket()
    files = make_files(tmp_path / "src", 25)
    db = f"gs://{bucket}/jobs/g"
    rt = BucketTransfer(db, lease_msec=1000)
    rt.init("file://" + str(tmp_path / "src"), f"gs://{bucket}/data", chunk_size=4)
    ledgers = [BucketLedger(db, lease_msec=1000) for _ in range(4)]
    assert len([t for t in (led.try_lease(3) for led in ledgers) if t]) == 1
    assert ledgers[0].expired_lease(3, ledgers[0].service_now())[0] is None
    time.sleep(2.3)
    token = ledgers[1].expired_lease(3, ledgers[1].service_now())[0]
    assert token is not None
    assert ledgers[1].take_over(3, token) and ledgers[2].take_over(3, token) is None
    ledgers[0].release()
    assert sorted(rt.execute().done) == list(range(7))
    from cloudfiles import CloudFiles

    cf = CloudFiles(f"gs://{bucket}/data")
    assert {k: cf.get(k) for k in cf.list()} == files
    assert rt.rfs.status()["finished"] == 25


def test_init_and_close_refuse_a_prefix_holding_other_data(tmp_path):
    """Pointed at someone's data by mistake, the ledger neither uses nor deletes it."""
    make_files(tmp_path / "src", 3)
    (tmp_path / "jobs" / "j").mkdir(parents=True)
    (tmp_path / "jobs" / "j" / "precious.txt").write_bytes(b"keep me")
    db = "file://" + str(tmp_path / "jobs" / "j")
    with pytest.raises(InvalidInputError, match="precious.txt, which is not part"):
        BucketTransfer(db).init("file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"))
    (tmp_path / "jobs" / "j" / "precious.txt").unlink()
    rt = BucketTransfer(db)
    rt.init("file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"))
    (tmp_path / "jobs" / "j" / "chunks" / "notes.txt").write_bytes(b"keep me too")
    with pytest.raises(InvalidInputError, match="notes.txt"):
        rt.close()
    assert (tmp_path / "jobs" / "j" / "meta.json").exists()


def test_expiry_ignores_the_local_clock(tmp_path, monkeypatch):
    """A client whose wall clock runs an hour ahead (or behind) judges leases by the
    service's Last-Modified times only: a live lease stays live, an expired one expires."""
    make_files(tmp_path / "src", 4)
    db = "file://" + str(tmp_path / "jobs" / "clock")
    BucketTransfer(db).init("file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"), chunk_size=2)
    holder = BucketLedger(db, lease_msec=1500)
    token = holder.try_lease(0)
    real = time.time
    for skew in (3600, -3600):
        monkeypatch.setattr(time, "time", lambda: real() + skew)
        other = BucketLedger(db, lease_msec=1500)
        assert other.expired_lease(0, other.service_now())[0] is None
        assert other.status()["chunks_leased"] == 1
    monkeypatch.setattr(time, "time", real)
    time.sleep(2.7)
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    other = BucketLedger(db, lease_msec=1500)
    stale = other.expired_lease(0, other.service_now())[0]
    assert stale == token and other.take_over(0, stale)
    assert holder.renew(0, token, 1) is None  # the old holder's renewal is refused: its lease is lost


def test_a_failed_file_leaves_its_chunk_unfinished(tmp_path):
    from cloudfiles.exceptions import MissingSourceError

    make_files(tmp_path / "src", 2)
    db = "file://" + str(tmp_path / "jobs" / "fail")
    rt = BucketTransfer(db, lease_msec=1000)
    rt.init("file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"),
            paths=["d0/f0000.bin", "gone.bin", "d1/f0001.bin"], chunk_size=1)
    with pytest.raises(MissingSourceError):
        while True:
            rt.execute()
    assert 1 not in rt.rfs.done()
    proc = run("xfer", "execute", db, "--lease-msec", "1000", ok=False)
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1 and b"gone.bin" in proc.stderr
    assert rt.rfs.status()["finished"] == 2 and rt.rfs.remaining() == 1


def test_mem_ledger_threads(tmp_path):
    """mem:// (the bucket's lock makes put_if atomic): four threads execute one job."""
    import uuid

    from cloudfiles import CloudFiles

    files = make_files(tmp_path / "src", 30)
    name = f"m{uuid.uuid4().hex[:8]}"
    db = f"mem://{name}/jobs/j"
    BucketTransfer(db).init("file://" + str(tmp_path / "src"), f"mem://{name}/data", chunk_size=3)
    runs: list = []
    threads = [threading.Thread(target=lambda: runs.append(BucketTransfer(db, lease_msec=60000).execute()))
               for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(i for r in runs for i in r.done) == list(range(10))
    cf = CloudFiles(f"mem://{name}/data")
    assert {k: cf.get(k) for k in cf.list()} == files


def test_a_service_that_ignores_conditional_writes_is_refused(tmp_path, s3):
    """Through a proxy that strips If-None-Match/If-Match (as some S3-compatible stores
    ignore them), init and execute refuse instead of handing one chunk to many clients."""
    from urllib.parse import urlsplit

    from .faultproxy import FaultProxy

    make_files(tmp_path / "src", 4)
    bucket = s3.make_bucket()
    up = urlsplit(s3.endpoint)
    with FaultProxy(up.hostname, up.port, style="s3") as px:
        via = f"s3://{px.url}/{bucket}/"
        BucketTransfer(via + "jobs/ok").init("file://" + str(tmp_path / "src"), via + "data")  # headers intact
        px.strip_headers("if-none-match", "if-match", method="PUT", times=None)
        with pytest.raises(InvalidInputError, match="ignores conditional writes"):
            BucketTransfer(via + "jobs/ok").execute()
        with pytest.raises(InvalidInputError, match="ignores conditional writes"):
            BucketTransfer(via + "jobs/new").init("file://" + str(tmp_path / "src"), via + "data")
    assert not [k for k in s3.keys(bucket) if k.startswith("data/")]


def probes(s3_server, bucket: str, job: str) -> list:
    return [k for k in s3_server.keys(bucket) if k.startswith(f"{job}/clients/")]


def test_status_and_execute_leave_no_clock_probe_and_release_frees_leases(tmp_path, s3):
    """`xfer status` reads the service's clock through a probe it deletes again; an executor
    removes its probe when it stops; `xfer release` drops a dead client's live lease."""
    files = make_files(tmp_path / "src", 9)
    bucket = s3.make_bucket()
    db = s3.cloudpath(bucket, "jobs/probe")
    run("xfer", "init", tmp_path / "src", s3.cloudpath(bucket, "data"), "--db", db, "--chunk-size", "3",
        env=env(s3))
    dead = BucketLedger(db, lease_msec=3_600_000)
    assert dead.try_lease(1)  # a client that then died, holding chunk 1 for an hour
    out = run("xfer", "status", db, env=env(s3)).stdout.decode()
    assert "total 9 finished 0 leased 3 available 6" in out and "chunks 3 done 0 leased 1" in out
    assert "this machine's clock" not in out
    assert probes(s3, bucket, "jobs/probe") == []
    assert run("xfer", "release", db, env=env(s3)).stdout.strip() == b"released 1 chunk lease"
    assert "leased 0 available 9" in run("xfer", "status", db, env=env(s3)).stdout.decode()
    run("xfer", "execute", db, "--lease-msec", "5000", env=env(s3))
    assert s3_bytes(s3, bucket, "data/") == files
    assert probes(s3, bucket, "jobs/probe") == []


def test_status_without_write_access_judges_leases_by_the_local_clock(tmp_path):
    """A read-only view of the ledger (here: features writable=False) still counts live leases."""
    make_files(tmp_path / "src", 4)
    db = (tmp_path / "ledger" / "job").as_uri()
    BucketTransfer(db).init(str(tmp_path / "src"), str(tmp_path / "dst"), chunk_size=2)
    assert BucketLedger(db, lease_msec=3_600_000).try_lease(0)
    st = BucketLedger(db, features={"writable": False}).status()
    assert (st["leased"], st["available"], st["clock"]) == (2, 2, "local")
    assert not (tmp_path / "ledger" / "job" / "clients").exists() or \
        not [p for p in (tmp_path / "ledger" / "job" / "clients").iterdir() if not p.name.startswith(".")]
