"""CLI defects found while matching cloud-files 6.4.3 (issue 10), each reproduced against
real places: moto's S3 server (with a request-logging proxy in front where requests are
counted) and file://."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .test_cli import CLI, run


def _tree(root: Path, n: int, size: int = 10) -> None:
    for i in range(n):
        p = root / f"d{i % 4}" / f"f{i:05d}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(size))


def test_ctrl_c_with_two_processes_stops_within_a_second(tmp_path, s3_server):
    src = tmp_path / "src"
    _tree(src, 3000)
    bucket = s3_server.make_bucket()
    env = dict(os.environ, **s3_server.secrets)
    proc = subprocess.Popen(CLI + ["-p", "2", "cp", "-r", str(src), s3_server.cloudpath(bucket, "x")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not s3_server.keys(bucket):          # the copy is under way
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
            time.sleep(0.1)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)           # Ctrl-C reaches the whole foreground group
        sent = time.monotonic()
        proc.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = proc.stderr.read().decode()
    print(f"exited {took:.2f}s after SIGINT")
    assert took < 2.0, f"exited {took:.1f}s after SIGINT"
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    written = len(s3_server.keys(bucket))
    assert 0 < written < 3000
    time.sleep(1.5)
    assert len(s3_server.keys(bucket)) == written, "files were still written after the CLI exited"
