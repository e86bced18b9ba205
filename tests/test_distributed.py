"""Work shipped as batch specs to other processes: a real Dask LocalCluster
(processes=True, two workers) and a ProcessPoolExecutor, on file:// and moto S3.

Each test checks the user-visible result (contents byte for byte, counts) and
that the work really ran as shipped batches (Dask's task stream names them).
"""
from __future__ import annotations

import gzip
import os
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import InvalidInputError, TransferError
from cloudfiles.jobs import BatchSpec, run_batch, ship, ships_specs

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None, silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def process_pool():
    with ProcessPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(params=["dask", "pool"])
def executor(request):
    return request.getfixturevalue("dask_client" if request.param == "dask" else "process_pool")


@pytest.fixture(params=["file", "s3"])
def place(request, tmp_path):
    """(cloudpath, CloudFiles kwargs) of a fresh, empty place."""
    if request.param == "file":
        return "file://" + str(tmp_path / "place"), {}
    server = request.getfixturevalue("s3_server")
    return server.cloudpath(server.make_bucket(), "pre"), {"secrets": server.secrets}


def _files(n: int) -> dict:
    return {f"d{i % 7}/f{i}.bin": os.urandom(i % 300) + b"%d" % i for i in range(n)}


class _Keys:
    """Task keys Dask ran during the block (empty for other executors)."""

    def __init__(self, executor):
        self.executor, self.keys = executor, []

    def __enter__(self):
        if hasattr(self.executor, "scheduler_info"):
            self._ts = distributed.get_task_stream(self.executor)
            self._ts.__enter__()
        return self

    def __exit__(self, *exc):
        if hasattr(self.executor, "scheduler_info"):
            self._ts.__exit__(*exc)
            self.keys = [t["key"] for t in self._ts.data]


def _check_shipped(rec: _Keys, op: str, batches: int) -> None:
    if hasattr(rec.executor, "scheduler_info"):
        mine = [k for k in rec.keys if str(k).startswith(f"cloudfiles-{op}-")]
        assert len(mine) == batches, rec.keys


def test_bulk_ops_run_as_shipped_batches(executor, place):
    url, kw = place
    cf = CloudFiles(url, **kw)
    files = _files(120)
    with _Keys(executor) as rec:
        assert cf.puts(list(files.items()), executor=executor, batch_size=25) == 120
    _check_shipped(rec, "puts", 5)
    # every byte arrived, written by the workers
    assert {k: cf.get(k) for k in files} == files

    reqs = list(files) + ["nope/missing.bin", {"path": "d1/f1.bin", "start": 1, "end": 3, "tags": {"t": 1}}]
    with _Keys(executor) as rec:
        res = cf.get(reqs, executor=executor, batch_size=30)
    _check_shipped(rec, "get", 5)
    assert len(res) == len(reqs)
    whole = {r["path"]: r["content"] for r in res if r["byte_range"] == (None, None)}
    assert {k: whole[k] for k in files} == files
    assert whole["nope/missing.bin"] is None and all(r["error"] is None for r in res)
    ranged = [r for r in res if r["byte_range"] == (1, 3)]
    assert ranged[0]["content"] == files["d1/f1.bin"][1:3] and ranged[0]["tags"] == {"t": 1}

    names = list(files) + ["nope/missing.bin"]
    assert cf.exists(names, executor=executor, batch_size=40) == {k: k in files for k in names}

    doomed = sorted(files)[:70]
    cf.delete(doomed, executor=executor, batch_size=16)
    left = cf.exists(list(files), executor=executor)
    assert {k for k, v in left.items() if v} == set(files) - set(doomed)


def test_compressed_puts_and_raw_gets(executor, tmp_path):
    cf = CloudFiles("file://" + str(tmp_path / "z"))
    data = {f"z{i}": b"abc" * (100 + i) for i in range(20)}
    cf.puts([{"path": k, "content": v, "compress": "gzip"} for k, v in data.items()], executor=executor,
            batch_size=6)
    raw = {r["path"]: r for r in cf.get(list(data), raw=True, executor=executor, batch_size=6)}
    for k, v in data.items():
        assert raw[k]["compress"] == "gzip" and gzip.decompress(raw[k]["content"]) == v
    assert cf.get(list(data), return_dict=True, executor=executor) == data


def test_transfer_counts_every_file_once_and_resumes(executor, place, s3_server, tmp_path):
    src_url, kw = place
    src = CloudFiles(src_url, **kw)
    files = _files(150)
    src.puts(list(files.items()))
    dest = CloudFiles(s3_server.cloudpath(s3_server.make_bucket(), "copy"), secrets=s3_server.secrets)
    with _Keys(executor) as rec:
        res = src.transfer_to(dest, executor=executor, batch_size=20)
    _check_shipped(rec, "transfer", 8)
    assert (res.transferred, res.skipped, res.failed, res.missing) == (150, 0, {}, [])
    assert res.bytes == sum(len(v) for v in files.values())
    assert dest.get(list(files), return_dict=True) == files
    # S3 -> S3 on one server: the workers copy server-side
    if src.protocol == "s3":
        assert res.server_side == 150

    # a rerun that resumes sends nothing again; a changed and a new file are sent
    src.put("d0/f0.bin", b"changed")
    src.put("new.bin", b"new")
    res = src.transfer_to(dest, executor=executor, batch_size=20, skip_existing=True)
    assert (res.transferred, res.skipped) == (2, 150 - 1)
    assert dest.get("d0/f0.bin") == b"changed" and dest.get("new.bin") == b"new"


def test_transfer_given_paths_reports_missing_and_unsafe(executor, tmp_path):
    src = CloudFiles("file://" + str(tmp_path / "s"))
    src.puts([(f"k{i}", b"v%d" % i) for i in range(10)])
    dest = CloudFiles("file://" + str(tmp_path / "d"))
    pairs = [(f"k{i}", f"out/k{i}") for i in range(10)] + [("absent", "out/absent")]
    with pytest.raises(TransferError) as info:
        src.transfer_to(dest, paths=pairs, executor=executor, batch_size=3)
    result = info.value.result
    assert result.transferred == 10 and set(info.value.errors) == {"absent"}
    res = src.transfer_to(dest, paths=pairs, executor=executor, batch_size=3, allow_missing=True,
                          skip_existing="size")
    assert (res.transferred, res.skipped, res.missing) == (0, 10, ["absent"])
    with pytest.raises(TransferError) as info:
        src.transfer_to(dest, paths=[("k1", "../escape")], executor=executor)
    assert "../escape" not in os.listdir(tmp_path)


def test_puts_failures_come_back_as_data(executor, tmp_path):
    root = tmp_path / "ro"
    cf = CloudFiles("file://" + str(root))
    cf.put("blocker", b"a file where a directory is needed")
    reqs = [(f"ok{i}", b"x") for i in range(8)] + [("blocker/under", b"y"), ("blocker/under2", b"z")]
    with pytest.raises(TransferError) as info:
        cf.puts(reqs, executor=executor, batch_size=3)
    assert set(info.value.errors) == {"blocker/under", "blocker/under2"}
    assert all(cf.get(f"ok{i}") == b"x" for i in range(8))


def test_secrets_stay_out_of_task_keys_reprs_and_worker_logs(dask_client, s3_server):
    secret = s3_server.secret_key
    url = s3_server.cloudpath(s3_server.make_bucket(), "p")
    # a batch that fails on the worker (a bad option) while carrying the secrets
    spec = BatchSpec("get", url, {"secrets": s3_server.secrets, "num_threads": -1}, ["a"])
    assert secret not in repr(spec) and secret not in str(spec)
    with _Keys(dask_client) as rec:
        with pytest.raises(InvalidInputError):
            list(ship(dask_client, [spec]))
    assert rec.keys and all(secret not in str(k) for k in rec.keys)
    logs = dask_client.get_worker_logs()
    text = "\n".join(line for lines in logs.values() for _, line in lines)
    assert any(str(k) in text for k in rec.keys)  # the failed batch is in the logs, by its neutral key
    assert secret not in text


def test_unpicklable_options_are_refused_before_anything_runs(process_pool, tmp_path):
    class Creds:
        def __init__(self):
            self.fn = lambda: "token"

    with pytest.raises(InvalidInputError, match="credentials cannot be shipped"):
        CloudFiles("file://" + str(tmp_path), secrets=Creds()).exists(["a", "b"], executor=process_pool)
    with pytest.raises(InvalidInputError, match="only bytes or str"):
        CloudFiles("file://" + str(tmp_path)).puts((f for f in [("a", iter([b"chunk"]))]), executor=process_pool)


def test_thread_pools_and_mem_stay_in_process(dask_client):
    assert not ships_specs(ThreadPoolExecutor(1)) and ships_specs(dask_client)
    cf = CloudFiles("mem://dask-test/x")  # process-local: workers could not see it
    with _Keys(dask_client) as rec:
        cf.puts([(f"m{i}", b"v") for i in range(5)], executor=dask_client)
        assert cf.exists([f"m{i}" for i in range(5)], executor=dask_client) == {f"m{i}": True for i in range(5)}
    assert not [k for k in rec.keys if str(k).startswith("cloudfiles-")]
    with ThreadPoolExecutor(2) as pool:
        assert cf.get(["m0"], executor=pool)[0]["content"] == b"v"


def test_spec_round_trips_and_rejects_junk():
    spec = BatchSpec("exists", "file:///tmp/nowhere-x", {}, ["a"])
    assert pickle.loads(pickle.dumps(spec)).items == ["a"]
    with pytest.raises(InvalidInputError):
        run_batch(BatchSpec("format", "file:///tmp", {}, []))


def test_ledger_on_dask_takes_over_a_dead_clients_lease(dask_client, tmp_path):
    from cloudfiles.resumable_tools import ResumableFileSet, ResumableTransfer

    src = CloudFiles("file://" + str(tmp_path / "src"))
    files = {f"k{i:03d}": os.urandom(50 + i) for i in range(60)}
    src.puts(list(files.items()))
    db = str(tmp_path / "job.db")
    ResumableTransfer(db).init(src.cloudpath, "file://" + str(tmp_path / "dest"))
    dead = ResumableFileSet(db, lease_msec=1500).lease(10)  # a client that leased a batch and died
    assert len(dead) == 10
    rt = ResumableTransfer(db)
    with _Keys(dask_client) as rec:
        rt.execute(block_size=7, executor=dask_client)
    # 50 files in 8 batches, then the dead client's 10 in 2 (9 if its lease ran out before the last lease)
    assert len([k for k in rec.keys if str(k).startswith("cloudfiles-transfer-")]) in (9, 10)
    assert rt.rfs.remaining() == 0 and rt.rfs.finished() == 60
    dest = CloudFiles("file://" + str(tmp_path / "dest"))
    assert dest.get(list(files), return_dict=True) == files


def test_sync_copies_on_dask(dask_client, s3_server, tmp_path):
    from cloudfiles.sync import sync

    src = CloudFiles("file://" + str(tmp_path / "src"))
    files = _files(90)
    src.puts(list(files.items()))
    dest = CloudFiles(s3_server.cloudpath(s3_server.make_bucket(), "s"), secrets=s3_server.secrets)
    dest.put("stale.bin", b"old")
    with _Keys(dask_client) as rec:
        res = sync(src, dest, delete=True, executor=dask_client, batch_size=40)
    # 90 copies and 1 delete in 3 batches, each one sync task; nothing else shipped
    assert len([k for k in rec.keys if str(k).startswith("cloudfiles-sync-")]) == 3, rec.keys
    assert not [k for k in rec.keys if str(k).startswith(("cloudfiles-transfer-", "cloudfiles-delete-"))]
    assert (res.copied, res.skipped, res.deleted, res.failed) == (90, 0, 1, {})
    assert dest.get(list(files), return_dict=True) == files and not dest.exists("stale.bin")
    src.put("d0/f0.bin", b"changed!")
    res = sync(src, dest, executor=dask_client)
    assert (res.copied, res.skipped) == (1, 89) and dest.get("d0/f0.bin") == b"changed!"


def _rchar() -> int:
    """Bytes this process has read (files and sockets alike), from /proc/self/io."""
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def _workers_rchar(executor) -> int:
    return sum(executor.run(_rchar).values()) if hasattr(executor, "scheduler_info") else 0


def _same_size_changes(tmp_path, s3_server, dest_kind: str, n: int = 24, size: int = 256 << 10):
    """A synced pair (file:// source), then 5 same-size changes at the source and 3 stale
    destination files: (src, dest, contents, changed keys, stale keys)."""
    from cloudfiles.sync import sync

    src = CloudFiles("file://" + str(tmp_path / "src"))
    files = {f"d{i % 3}/f{i:02d}.bin": os.urandom(size) for i in range(n)}
    src.puts(list(files.items()))
    if dest_kind == "s3":
        dest = CloudFiles(s3_server.cloudpath(s3_server.make_bucket(), "s"), secrets=s3_server.secrets)
    else:
        dest = CloudFiles("file://" + str(tmp_path / "dest"))
    assert sync(src, dest).copied == n
    changed = sorted(files)[::5]
    for k in changed:
        files[k] = os.urandom(size)  # same size, other bytes
    src.puts([(k, files[k]) for k in changed])
    stale = ["d0/old1", "d9/old2", "zz"]
    dest.puts([(k, b"stale") for k in stale])
    return src, dest, files, changed, stale


@pytest.mark.parametrize("dest_kind", ["s3", "file"])
def test_sync_checks_copies_and_deletes_run_on_the_workers(executor, s3_server, tmp_path, dest_kind):
    """--checksum with same-size changes: the checks (which read every source file, and
    the destination's files too where it lists no md5) run in the workers' processes, as do
    the copies and deletes; the driver reads a fraction of those bytes."""
    from cloudfiles.sync import sync

    n, size = 24, 256 << 10
    src, dest, files, changed, stale = _same_size_changes(tmp_path, s3_server, dest_kind, n, size)
    driver0, workers0 = _rchar(), _workers_rchar(executor)
    with _Keys(executor) as rec:
        res = sync(src, dest, checksum=True, delete=True, executor=executor, batch_size=8)
    driver, workers = _rchar() - driver0, _workers_rchar(executor) - workers0
    assert (res.copied, res.skipped, res.deleted, res.failed) == (len(changed), n - len(changed), 3, {})
    assert res.bytes == len(changed) * size
    assert dest.get(list(files), return_dict=True) == files  # the right files copied, byte for byte
    assert not any(dest.exists(stale).values())
    # what must be read to decide: every source file, and every destination file on file://
    hashed = n * size * (1 if dest_kind == "s3" else 2)
    assert driver < hashed / 4, (driver, hashed)
    # 24 checks + 3 deletes = 27 actions: 4 batches of 8, each one sync task, nothing else
    _check_shipped(rec, "sync", 4)
    if hasattr(executor, "scheduler_info"):
        assert not [k for k in rec.keys if not str(k).startswith("cloudfiles-sync-")], rec.keys
        assert workers >= hashed, (workers, hashed)


def test_sync_dry_run_on_a_cluster_changes_nothing_and_prints_in_key_order(executor, s3_server, tmp_path):
    from cloudfiles.sync import sync

    src, dest, files, changed, stale = _same_size_changes(tmp_path, s3_server, "file", 20, 1000)
    before = ({k: src.get(k) for k in src.list()}, {k: dest.get(k) for k in dest.list()})
    local: list = []
    want = sync(src, dest, checksum=True, delete=True, dry_run=True, batch_size=5, on_action=local.append)
    assert [(a.kind, a.key) for a in local] == [("copy", k) for k in changed] + [("delete", k) for k in sorted(stale)]
    for checksum in (True, False):
        seen: list = []
        with _Keys(executor) as rec:
            res = sync(src, dest, checksum=checksum, delete=True, dry_run=True, batch_size=5,
                       executor=executor, on_action=seen.append)
        if checksum:
            assert [a.line() for a in seen] == [a.line() for a in local]  # the same lines, same order
            assert (res.copied, res.skipped, res.deleted, res.bytes) == \
                (want.copied, want.skipped, want.deleted, want.bytes)
            # 20 checks + 3 deletes in 5 batches; the last (3 deletes) has nothing to read
            _check_shipped(rec, "sync", 4)
        else:
            assert [(a.kind, a.key) for a in seen] == [("delete", k) for k in sorted(stale)]
            assert (res.copied, res.skipped, res.deleted) == (0, 20, 3)
            _check_shipped(rec, "sync", 0)  # nothing to read: nothing shipped
        assert res.dry_run and res.failed == {}
        if hasattr(executor, "scheduler_info"):
            assert not [k for k in rec.keys if not str(k).startswith("cloudfiles-sync-")], rec.keys
        assert ({k: src.get(k) for k in src.list()}, {k: dest.get(k) for k in dest.list()}) == before
    real = sync(src, dest, checksum=True, delete=True, executor=executor)
    assert (real.copied, real.deleted) == (want.copied, want.deleted)
    assert {k: dest.get(k) for k in dest.list()} == files


def test_a_dry_run_sync_spec_holds_only_checks(tmp_path):
    from cloudfiles.sync import Action

    src, dest = "file://" + str(tmp_path / "a"), "file://" + str(tmp_path / "b")
    CloudFiles(src).put("k", b"v")
    for action in (Action("copy", "k", 1, "new"), Action("delete", "k", 1, "absent")):
        with pytest.raises(InvalidInputError, match="dry-run sync action"):
            run_batch(BatchSpec("sync", src, {}, [action], {"dry_run": True}, dest, {}))
    assert not os.path.exists(tmp_path / "b") and CloudFiles(src).get("k") == b"v"
    with pytest.raises(InvalidInputError):
        run_batch(BatchSpec("sync", src, {}, [("copy", "k")], {}, dest, {}))


def test_ordered_shipping_yields_in_submission_order_when_the_first_batch_is_slowest(executor, s3_server):
    """ship(ordered=True) (what sync uses) gives results in the specs' order; without it, as
    they complete. The first batch's objects are served 0.4 s late each by a proxy."""
    from urllib.parse import urlsplit

    from tests.faultproxy import FaultProxy

    bucket = s3_server.make_bucket()
    keys = [f"k{i:02d}" for i in range(12)]
    CloudFiles(s3_server.cloudpath(bucket, "o"), secrets=s3_server.secrets).puts([(k, k.encode()) for k in keys])
    px = FaultProxy("127.0.0.1", urlsplit(s3_server.endpoint).port, style="s3").start()
    try:
        px.delay(0.4, method="GET", path=r"/o/k0[0-2]$", times=None)
        url = f"s3://{px.url}/{bucket}/o"
        from cloudfiles.jobs import shippable_options

        opts = shippable_options({"secrets": s3_server.secrets, "num_threads": 1})
        for ordered in (True, False):
            specs = [BatchSpec("get", url, opts, keys[i:i + 3]) for i in range(0, 12, 3)]
            got = [(spec.items[0], [r["content"] for r in part]) for spec, part in
                   ship(executor, specs, in_flight=4, ordered=ordered)]
            assert sorted(got) == [(k[0], [x.encode() for x in k]) for k in (keys[i:i + 3] for i in range(0, 12, 3))]
            firsts = [first for first, _ in got]
            if ordered:
                assert firsts == ["k00", "k03", "k06", "k09"]
            else:
                assert firsts[0] != "k00", firsts  # a fast batch came back before the slow one
    finally:
        px.stop()


def test_sync_counts_every_file_once_when_a_worker_dies_mid_batch(s3_server, tmp_path):
    """SIGKILL the worker running a sync batch: Dask runs the batch again elsewhere (its
    copies and deletes are idempotent) and the totals come from the one result per batch."""
    import signal
    import threading
    import time
    from urllib.parse import urlsplit

    from cloudfiles.sync import sync
    from tests.faultproxy import FaultProxy

    n = 40
    bucket = s3_server.make_bucket()
    files = {f"k/{i:02d}.bin": os.urandom(200 + i) for i in range(n)}
    CloudFiles(s3_server.cloudpath(bucket, "root"), secrets=s3_server.secrets).puts(list(files.items()))
    dest_dir = tmp_path / "dest"
    dest = CloudFiles("file://" + str(dest_dir))
    dest.puts([("k/zz-stale", b"1"), ("stale", b"22")])
    px = FaultProxy("127.0.0.1", urlsplit(s3_server.endpoint).port, style="s3").start()
    px.delay(0.1, method="GET", path=r"/root/k/", times=None)  # a batch of 8 takes ~0.4 s on 2 threads
    src = CloudFiles(f"s3://{px.url}/{bucket}/root", secrets=s3_server.secrets, num_threads=2)
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    done, seen = threading.Event(), {}

    pids = client.run(os.getpid)

    def killer() -> None:
        while not done.is_set():
            arrived = sum(len(f) for _, _, f in os.walk(dest_dir)) - 2
            busy = [w for w, keys in client.processing().items()
                    if any(str(k).startswith("cloudfiles-sync-") for k in keys)]
            if arrived >= 4 and busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                seen.update(arrived=arrived, finished=done.is_set())
                return
            time.sleep(0.01)

    try:
        t = threading.Thread(target=killer, daemon=True)
        t.start()
        res = sync(src, dest, delete=True, executor=client, batch_size=8)
        done.set()
        t.join(5)
        assert seen and seen["finished"] is False and seen["arrived"] < n, seen  # killed mid-run
        assert (res.copied, res.skipped, res.deleted, res.failed) == (n, 0, 2, {})
        assert res.bytes == sum(len(v) for v in files.values())
        assert dest.get(list(files), return_dict=True) == files and sorted(dest.list()) == sorted(files)
        client.wait_for_workers(2, timeout=30)
        assert set(client.run(os.getpid).values()) != set(pids.values())  # the nanny started a new one
    finally:
        done.set()
        client.close()
        cluster.close()
        px.stop()


def _profiler_setting():
    import dask

    return dask.config.get("distributed.worker.profile.enabled")


def _stealing(dask_scheduler):
    return "stealing" in dask_scheduler.extensions or "stealing" in dask_scheduler.periodic_callbacks


def test_local_clusters_run_without_the_stack_sampling_profiler_or_work_stealing():
    # local:N owns its workers and scheduler: Dask's 10 ms profiler and its once-a-second
    # task stealing are off there (cloudfiles/distributed.py QUIET_CLUSTER), and its
    # workers heartbeat every 2 s rather than every 0.5 s
    import time

    import distributed.scheduler

    from cloudfiles.distributed import LOCAL_HEARTBEAT_SECONDS, cluster_client

    dask_default = distributed.scheduler.heartbeat_interval
    with cluster_client("local:1") as client:
        assert list(client.run(_profiler_setting).values()) == [False]
        assert client.run_on_scheduler(_stealing) is False
        # a worker adopts the interval the scheduler answers its first heartbeat with
        deadline = time.monotonic() + 20
        while set(client.run(_heartbeat_msec).values()) != {LOCAL_HEARTBEAT_SECONDS * 1000}:
            assert time.monotonic() < deadline, client.run(_heartbeat_msec)
            time.sleep(0.2)
    assert distributed.scheduler.heartbeat_interval is dask_default and dask_default(2) == 0.5  # restored


def _heartbeat_msec(dask_worker):
    return dask_worker.periodic_callbacks["heartbeat"].callback_time


def test_local_clusters_serve_no_dashboard_and_never_contend_for_port_8787():
    import socket
    import warnings

    from cloudfiles.distributed import cluster_client

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))  # as a dashboard of some other cluster would
        holder.listen()
    except OSError:
        pass  # already taken: the same situation
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with cluster_client("local:1") as client:
                assert client.submit(sum, [1, 2]).result() == 3
                port = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.http_server.port)
        assert port != 8787
        assert not [w for w in caught if "8787" in str(w.message)], [str(w.message) for w in caught]
    finally:
        holder.close()


def test_a_batch_whose_workers_keep_dying_raises_workers_lost_with_the_partial_result(s3_server, tmp_path):
    """Past the scheduler's allowed-failures (here 0) Dask gives up on a batch; the caller gets
    one WorkersLostError (not Dask's KilledWorker) carrying the TransferResult of the batches
    that did finish, and a re-run with skip_existing finishes the job."""
    import signal
    import threading
    import time
    from urllib.parse import urlsplit

    import dask

    from cloudfiles.exceptions import WorkersLostError
    from cloudfiles.transfer import TransferResult
    from tests.faultproxy import FaultProxy

    n = 40
    bucket = s3_server.make_bucket()
    files = {f"k/{i:02d}.bin": os.urandom(200 + i) for i in range(n)}
    CloudFiles(s3_server.cloudpath(bucket, "root"), secrets=s3_server.secrets).puts(list(files.items()))
    dest_dir = tmp_path / "dest"
    px = FaultProxy("127.0.0.1", urlsplit(s3_server.endpoint).port, style="s3").start()
    px.delay(0.1, method="GET", path=r"/root/k/", times=None)  # a batch of 8 takes ~0.4 s on 2 threads
    src = CloudFiles(f"s3://{px.url}/{bucket}/root", secrets=s3_server.secrets, num_threads=2)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                           dashboard_address=None, silence_logs=50)
    client = distributed.Client(cluster)
    done = threading.Event()
    pids = client.run(os.getpid)

    def killer() -> None:
        while not done.is_set():
            arrived = sum(len(f) for _, _, f in os.walk(dest_dir))
            busy = [w for w, keys in client.processing().items()
                    if any(str(k).startswith("cloudfiles-transfer-") for k in keys)]
            if arrived >= 4 and busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                return
            time.sleep(0.01)

    try:
        t = threading.Thread(target=killer, daemon=True)
        t.start()
        with pytest.raises(WorkersLostError, match="allowed-failures") as err:
            src.transfer_to("file://" + str(dest_dir), executor=client, batch_size=8)
        done.set()
        t.join(5)
        part = err.value.result
        assert isinstance(part, TransferResult) and err.value.incomplete >= 1
        assert part.transferred < n and not part.failed
        landed = CloudFiles("file://" + str(dest_dir))
        assert part.transferred <= len(list(landed.list()))  # every file counted arrived
        src.transfer_to("file://" + str(dest_dir), skip_existing=True)
        assert landed.get(list(files), return_dict=True) == files
        assert pickle.loads(pickle.dumps(err.value)).result.transferred == part.transferred
    finally:
        done.set()
        client.close()
        cluster.close()
        px.stop()

