"""Peak memory of the ``cloudfiles`` command on single files far larger than the
parts in flight: every path must stream (issue 16).

Each command runs in its own interpreter (the CLI's ``main`` under a wrapper
that prints the process's own ``VmHWM`` at exit: ``ru_maxrss`` of a child
would include the pytest process's peak, which the kernel carries over
``exec``), under a 2 GiB address-space limit and a timeout, so a regression
fails instead of swapping or hanging. The object (200 MiB) is more than twice
the 8 x 8 MiB parts in flight, so holding it whole, even once, breaks the bound.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

MiB = 1024 * 1024
SIZE = 200 * MiB
BUDGET_MIB = 256  # the bound for every path, interpreter included
# What streaming may add to an idle command: (part_threads + 2) parts of 8 MiB and slack.
STREAM_MIB = 10 * 8 + 40

_WRAPPER = """\
import atexit, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
def _peak():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                sys.stderr.write('PEAK_KIB ' + line.split()[1] + '\\n')
atexit.register(_peak)
from cloudfiles_cli.main import main
sys.argv = ['cloudfiles'] + sys.argv[1:]
main()
"""

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")


def run_cli(args: list, env: dict, stdout=subprocess.DEVNULL, timeout: float = 120) -> int:
    """Run the CLI; return its peak RSS in MiB (fails on a non-zero exit)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    full = dict(os.environ, **env)
    full["PYTHONPATH"] = repo + os.pathsep + full.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", _WRAPPER] + [str(a) for a in args], env=full, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=timeout, cwd=repo)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"{args} exited {proc.returncode}: {err[-2000:]}"
    assert "Traceback" not in err, err
    return int(err.rsplit("PEAK_KIB ", 1)[1].split()[0]) // 1024


def md5_of(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 200 MiB file of random bytes (a 4 MiB random block with a counter per block) and its md5."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = bytearray(os.urandom(4 * MiB))
    h = hashlib.md5()
    with open(path, "wb") as f:
        for i in range(SIZE // len(block)):
            block[:8] = i.to_bytes(8, "little")
            f.write(block)
            h.update(block)
    return path, h.hexdigest()


@pytest.fixture(scope="module")
def remote(s3_server, big):
    """The big file uploaded once through the CLI: (url, env, upload peak MiB, idle peak MiB)."""
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
           "AWS_DEFAULT_REGION": s3_server.region}
    path, _ = big
    small = path.parent / "small.txt"
    small.write_bytes(b"x" * 1000)
    idle = run_cli(["cp", small, path.parent / "small2.txt"], env)
    url = s3_server.cloudpath(s3_server.make_bucket(), "big.bin")
    peak = run_cli(["cp", path, url], env)
    return url, env, peak, idle


def check(peak: int, idle: int, what: str) -> None:
    assert peak < BUDGET_MIB, f"{what}: peak RSS {peak} MiB >= {BUDGET_MIB} MiB"
    assert peak < idle + STREAM_MIB, f"{what}: peak RSS {peak} MiB, idle command {idle} MiB"


def test_upload_file_to_s3_is_bounded(remote):
    url, _, peak, idle = remote
    check(peak, idle, "cp file -> s3")


def test_download_s3_to_file_is_bounded(remote, big, tmp_path):
    url, env, _, idle = remote
    out = tmp_path / "down.bin"
    check(run_cli(["cp", url, out], env), idle, "cp s3 -> file")
    assert md5_of(out) == big[1]


@pytest.mark.parametrize("command", [["cp", "{url}", "-"], ["cat", "{url}"]], ids=["cp-stdout", "cat"])
def test_stdout_is_bounded(remote, big, tmp_path, command):
    url, env, _, idle = remote
    out = tmp_path / "stdout.bin"
    with open(out, "wb") as f:
        peak = run_cli([a.format(url=url) for a in command], env, stdout=f)
    check(peak, idle, " ".join(command))
    assert md5_of(out) == big[1]


def test_cloud_to_cloud_then_mv_to_file_is_bounded(remote, big, s3_server, tmp_path):
    url, env, _, idle = remote
    # The same server under another name: another endpoint, so no server-side copy.
    other = s3_server.cloudpath(s3_server.make_bucket(), "copy.bin").replace("127.0.0.1", "localhost")
    check(run_cli(["cp", url, other], env), idle, "cp s3 -> s3")
    out = tmp_path / "moved.bin"
    check(run_cli(["mv", other, out], env), idle, "mv s3 -> file")
    assert md5_of(out) == big[1]
    from cloudfiles import CloudFiles

    assert not CloudFiles(other.rsplit("/", 1)[0], secrets=s3_server.secrets).exists("copy.bin")


def test_local_copy_and_move_are_bounded(remote, big, tmp_path):
    _, env, _, idle = remote
    path, digest = big
    copy = tmp_path / "copy.bin"
    check(run_cli(["cp", path, copy], env), idle, "cp file -> file")
    moved = tmp_path / "sub" / "moved.bin"
    check(run_cli(["mv", copy, moved], env), idle, "mv file -> file")
    assert not copy.exists() and md5_of(moved) == digest
