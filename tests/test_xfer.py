"""``ResumableTransfer`` and ``cloudfiles xfer``: several real client processes
share one sqlite job; a client killed with SIGKILL leaves a lease that expires
and another client finishes its batch."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import InvalidInputError
from cloudfiles.resumable_tools import ResumableFileSet, ResumableTransfer

from .test_cli import CLI, run

ROOT = Path(__file__).resolve().parents[1]


def make_files(root: Path, n: int) -> dict:
    files = {}
    for i in range(n):
        name = f"d{i % 5}/f{i:04d}.bin"
        data = os.urandom(100 + i)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        files[name] = data
    return files


def assert_copied(dest: Path, files: dict) -> None:
    # A SIGKILLed writer cannot remove its half-written temp file; it is never listed as a file.
    got = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*")
           if p.is_file() and ".cftmp-" not in p.name}
    assert got == files


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def test_library_init_execute_and_counts(tmp_path):
    files = make_files(tmp_path / "src", 30)
    db = str(tmp_path / "job.db")
    rt = ResumableTransfer(db)
    rt.init(str(tmp_path / "src"), "file://" + str(tmp_path / "dst"))
    assert len(rt) == 30 and rt.rfs.total() == 30
    assert rt.rfs.metadata()["source"].endswith("/src")
    rt.execute(block_size=7)
    assert len(rt) == 0 and rt.rfs.finished() == 30
    assert_copied(tmp_path / "dst", files)
    rt.close()
    assert not os.path.exists(db)


def test_paths_and_reencode(tmp_path):
    make_files(tmp_path / "src", 10)
    db = str(tmp_path / "job.db")
    rt = ResumableTransfer(db)
    rt.init("file://" + str(tmp_path / "src"), "file://" + str(tmp_path / "dst"),
            paths=["d0/f0000.bin", "d1/f0001.bin"], reencode="gzip")
    rt.execute()
    assert sorted(CloudFiles("file://" + str(tmp_path / "dst")).list()) == ["d0/f0000.bin", "d1/f0001.bin"]
    assert (tmp_path / "dst" / "d0" / "f0000.bin.gz").exists()


def test_lease_is_exclusive_until_it_expires(tmp_path):
    db = str(tmp_path / "job.db")
    # leases long enough that a stalled CI machine cannot expire them between the checks
    a = ResumableFileSet(db, lease_msec=3000)
    a.create("file:///x", "file:///y")
    a.insert([f"k{i}" for i in range(10)])
    b = ResumableFileSet(db, lease_msec=3000)
    first = a.lease(6)
    second = b.lease(6)
    assert len(first) == 6 and len(second) == 4 and not set(first) & set(second)
    assert b.lease(6) == [] and b.num_leased() == 10
    a.mark_finished(first)
    a.mark_finished(first)  # counted once
    assert a.finished() == 6 and a.remaining() == 4
    time.sleep(3.1)
    assert sorted(b.lease(10)) == sorted(second)


def test_bad_database_and_names(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite at all" * 10)
    with pytest.raises(InvalidInputError):
        ResumableTransfer(str(bad)).rfs.metadata()
    empty = tmp_path / "empty.db"
    sqlite3.connect(str(empty)).close()
    with pytest.raises(InvalidInputError):
        ResumableTransfer(str(empty)).execute()
    rfs = ResumableFileSet(str(tmp_path / "n.db"))
    rfs.create("file:///a", "file:///b")
    with pytest.raises(InvalidInputError):
        rfs.insert(["ok", ""])
    proc = run("xfer", "execute", str(bad), ok=False)
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1
    proc = run("xfer", "execute", str(tmp_path / "missing.db"), ok=False)
    assert proc.returncode == 1 and b"no such transfer database" in proc.stderr


def test_cli_init_txt_status_execute(tmp_path):
    files = make_files(tmp_path / "src", 12)
    names = tmp_path / "names.txt"
    names.write_text("d0/f0000.bin\nd2/f0002.bin\n\n")
    db = tmp_path / "job.db"
    run("xfer", "init", tmp_path / "src", tmp_path / "dst", "--db", db, "--txt", names)
    assert b"total 2 finished 0" in run("xfer", "status", db).stdout
    run("xfer", "execute", db, "--lease-msec", "1000")
    assert b"total 2 finished 2" in run("xfer", "status", db).stdout
    assert_copied(tmp_path / "dst", {k: files[k] for k in ("d0/f0000.bin", "d2/f0002.bin")})


def test_killed_lease_holder_is_taken_over_by_other_clients(tmp_path):
    """A client leases a batch and dies by SIGKILL; three concurrent `xfer execute`
    clients copy everything, including the dead client's batch once its lease ends."""
    files = make_files(tmp_path / "src", 200)
    db = tmp_path / "job.db"
    run("xfer", "init", tmp_path / "src", tmp_path / "dst", "--db", db)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom cloudfiles.resumable_tools import ResumableFileSet\n"
         "names = ResumableFileSet(sys.argv[1], lease_msec=3000).lease(25)\n"
         "print(len(names), flush=True)\ntime.sleep(600)\n", str(db)],
        stdout=subprocess.PIPE, env=env())
    assert holder.stdout.readline().strip() == b"25"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    start = time.monotonic()
    clients = [subprocess.Popen(CLI + ["xfer", "execute", str(db), "--lease-msec", "3000", "-b", "10"],
                                stderr=subprocess.PIPE, env=env()) for _ in range(3)]
    for c in clients:
        _, err = c.communicate(timeout=60)
        assert c.returncode == 0, err.decode()
    assert time.monotonic() - start >= 2.0  # the dead batch waited for its lease
    assert_copied(tmp_path / "dst", files)
    assert b"total 200 finished 200 leased 0 available 0" in run("xfer", "status", db).stdout


def test_sigkilled_executor_is_finished_by_a_later_client(tmp_path):
    """A real `xfer execute` killed mid-run: a second client (as on another machine) finishes."""
    files = make_files(tmp_path / "src", 400)
    db = tmp_path / "job.db"
    run("xfer", "init", tmp_path / "src", tmp_path / "dst", "--db", db)
    victim = subprocess.Popen(CLI + ["xfer", "execute", str(db), "--lease-msec", "1500", "-b", "5"], env=env())
    rfs = ResumableFileSet(str(db))
    deadline = time.monotonic() + 30
    while rfs.finished() < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done = rfs.finished()
    assert 20 <= done < 400, done
    run("xfer", "execute", db, "--lease-msec", "1500")
    assert rfs.finished() == 400 and rfs.remaining() == 0
    assert_copied(tmp_path / "dst", files)


def test_cli_release_frees_a_dead_clients_leases_at_once(tmp_path):
    """`xfer release`: a killed client's one-hour lease is free again without waiting."""
    files = make_files(tmp_path / "src", 12)
    db = tmp_path / "job.db"
    run("xfer", "init", tmp_path / "src", tmp_path / "dst", "--db", db)
    assert len(ResumableFileSet(str(db), lease_msec=3_600_000).lease(5)) == 5  # a client that then died
    assert b"leased 5 available 7" in run("xfer", "status", db).stdout
    assert run("xfer", "release", db).stdout.strip() == b"released 5 file leases"
    assert b"leased 0 available 12" in run("xfer", "status", db).stdout
    run("xfer", "execute", db)
    assert_copied(tmp_path / "dst", files)
    proc = run("xfer", "release", tmp_path / "missing.db", ok=False)
    assert proc.returncode == 1 and b"no such transfer database" in proc.stderr
