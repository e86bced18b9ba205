"""`cp --resume -r SRC DEST` after an interrupted first run into a new DEST finishes that copy
(DEST/...) instead of nesting a second one under DEST/SRC/ (issue 10); moto's S3 server and file://."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from cloudfiles_cli.cp import plan

from .test_cli import CLI, run


def _tree(root: Path, n: int, size: int = 10) -> set[str]:
    names = set()
    for i in range(n):
        rel = f"d{i % 4}/f{i:05d}"
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))
        names.add(rel)
    return names


def test_resume_after_killed_copy_into_new_s3_destination(tmp_path, s3_server):
    src = tmp_path / "data"
    names = _tree(src, 1500)
    bucket = s3_server.make_bucket()
    dest = s3_server.cloudpath(bucket, "x")
    env = dict(os.environ, **s3_server.secrets)
    proc = subprocess.Popen(CLI + ["cp", "-r", "-b", "4", str(src), dest], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(s3_server.keys(bucket)) < 20:  # the copy is under way
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    partial = s3_server.keys(bucket)
    assert 0 < len(partial) < len(names), "the first run was not interrupted mid-copy"
    assert all(k.startswith("x/d") for k in partial)  # the first run used the 'DEST is the copy' naming
    run("cp", "--resume", "-r", src, dest, env=s3_server.secrets)
    assert sorted(s3_server.keys(bucket)) == sorted(f"x/{n}" for n in names)  # no x/data/...
    # a second --resume finds nothing to do and still nests nothing
    run("cp", "--resume", "-r", src, dest, env=s3_server.secrets)
    assert len(s3_server.keys(bucket)) == len(names)


def _job_target(src: Path, dest: str, resume: bool = True) -> str:
    (job,) = plan((str(src),), dest, True, resume=resume)
    return job.dest


def test_resume_naming_rules_on_local_destinations(tmp_path):
    src = tmp_path / "data"
    _tree(src, 8)
    (src / "top.txt").write_bytes(b"t")
    dest = tmp_path / "out"
    dest_url = "file://" + str(dest)
    # a part of the source's top level: an earlier run made DEST the copy
    (dest / "d0").mkdir(parents=True)
    (dest / "d0" / "f00000").write_bytes(b"x")
    (dest / "top.txt").write_bytes(b"t")
    assert _job_target(src, str(dest)).rstrip("/") == dest_url
    # without --resume cp's rule stands: DEST exists, so the copy nests
    assert _job_target(src, str(dest), resume=False).rstrip("/") == dest_url + "/data"
    # a trailing '/' always means "into": nests
    assert _job_target(src, str(dest) + "/").rstrip("/") == dest_url + "/data"
    # DEST holding something the source does not have: it existed before, so nest
    (dest / "unrelated").write_bytes(b"u")
    assert _job_target(src, str(dest)).rstrip("/") == dest_url + "/data"
    os.unlink(dest / "unrelated")
    # DEST holding only data/ (an earlier nested run): go on nesting
    other = tmp_path / "other"
    (other / "data" / "d1").mkdir(parents=True)
    assert _job_target(src, str(other)).rstrip("/") == "file://" + str(other) + "/data"


def test_resume_naming_when_source_has_a_folder_named_like_itself(tmp_path):
    src = tmp_path / "data"
    (src / "data" / "inner").mkdir(parents=True)
    (src / "data" / "inner" / "f").write_bytes(b"1")
    (src / "z.txt").write_bytes(b"2")
    # the earlier run made DEST the copy and got as far as DEST/data/inner/
    a = tmp_path / "a"
    (a / "data" / "inner").mkdir(parents=True)
    (a / "data" / "inner" / "f").write_bytes(b"1")
    assert _job_target(src, str(a)).rstrip("/") == "file://" + str(a)
    # the earlier run nested (DEST/data/ holds the source's top level: z.txt)
    b = tmp_path / "b"
    (b / "data").mkdir(parents=True)
    (b / "data" / "z.txt").write_bytes(b"2")
    assert _job_target(src, str(b)).rstrip("/") == "file://" + str(b) + "/data"


def test_resume_local_to_local_end_to_end(tmp_path):
    src = tmp_path / "data"
    names = _tree(src, 40)
    dest = tmp_path / "copy"
    # simulate the interrupted first run: a part of the tree, copied with 'DEST is the copy' naming
    run("cp", "-r", src / "d0", dest / "d0")
    run("cp", "--resume", "-r", src, dest)
    got = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert got == names
