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

def _peak_reporting(gib: int) -> str:
    """Code that caps the address space at ``gib`` GiB and prints the peak RSS at exit."""
    return f"""\
import atexit, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({gib} << 30, {gib} << 30))
def _peak():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                sys.stderr.write('PEAK_KIB ' + line.split()[1] + '\\n')
atexit.register(_peak)
"""


_WRAPPER = _peak_reporting(2) + """\
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


# ---------------------------------------------------------- many mid-size files at once
# Twelve files, each above the large-object threshold, copied by 20 threads: each one
# streaming with its own (part_threads + 2) x 8 MiB would hold 12 x 80 MiB. The one
# byte budget (cloudfiles/budget.py, 128 MiB by default) keeps the sum bounded.
MANY, MANY_SIZE = 12, 40 * MiB

_LIB_WRAPPER = _peak_reporting(3) + """\
from cloudfiles import CloudFiles, budget
src, dest = sys.argv[1], sys.argv[2]
kw = lambda p: dict(num_threads=20)
r = CloudFiles(src, **kw(src)).transfer_to(CloudFiles(dest, **kw(dest)))
assert r.transferred == int(sys.argv[3]), r
sys.stderr.write('BUDGET_PEAK %d\\n' % budget.get().peak)
"""


def run_lib(args: list, env: dict, timeout: float = 300) -> tuple[int, int]:
    """Run a transfer_to in its own interpreter; return (peak RSS MiB, budget peak MiB)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    full = dict(os.environ, **env)
    full["PYTHONPATH"] = repo + os.pathsep + full.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", _LIB_WRAPPER] + [str(a) for a in args], env=full,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, cwd=repo)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"{args} exited {proc.returncode}: {err[-2000:]}"
    peak = int(err.rsplit("PEAK_KIB ", 1)[1].split()[0]) // 1024
    return peak, int(err.rsplit("BUDGET_PEAK ", 1)[1].split()[0]) // MiB


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """Twelve 40 MiB files of distinct bytes, and their md5s by name."""
    root = tmp_path_factory.mktemp("many")
    block = bytearray(os.urandom(4 * MiB))
    sums = {}
    for n in range(MANY):
        h = hashlib.md5()
        with open(root / f"f{n:02d}.bin", "wb") as f:
            for i in range(MANY_SIZE // len(block)):
                block[:8] = (n * 1000 + i).to_bytes(8, "little")
                f.write(block)
                h.update(block)
        sums[f"f{n:02d}.bin"] = h.hexdigest()
    return root, sums


def _same_tree(directory, sums: dict) -> None:
    assert {p.name: md5_of(p) for p in directory.iterdir()} == sums


def test_many_files_cp_r_up_and_down_share_one_budget(many, s3_server, tmp_path):
    root, sums = many
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
           "AWS_DEFAULT_REGION": s3_server.region}
    url = s3_server.cloudpath(s3_server.make_bucket(), "many")
    peak_up = run_cli(["cp", "-r", root, url], env, timeout=300)
    assert peak_up < BUDGET_MIB, f"cp -r file -> s3 of {MANY} x {MANY_SIZE // MiB} MiB: peak RSS {peak_up} MiB"
    out = tmp_path / "down"
    peak_down = run_cli(["cp", "-r", url, out], env, timeout=300)
    assert peak_down < BUDGET_MIB, f"cp -r s3 -> file: peak RSS {peak_down} MiB"
    _same_tree(out, sums)


def test_many_files_transfer_to_with_20_threads_shares_one_budget(many, s3_server, tmp_path):
    """Library ``transfer_to`` with ``num_threads=20``, up (Writer parts) and down
    (single-part objects, hashed in order: part buffers)."""
    root, sums = many
    bucket = s3_server.make_bucket()
    env = s3_server.secrets
    up = s3_server.cloudpath(bucket, "up")
    peak, granted = run_lib(["file://" + str(root), up, MANY], env)
    assert granted <= 128, granted
    assert peak < BUDGET_MIB, f"transfer_to file -> s3: peak RSS {peak} MiB (budget peak {granted} MiB)"
    client = s3_server.boto3_client()
    for name in sums:  # single-part copies: their md5 ETags make downloads hash in order
        with open(root / name, "rb") as f:
            client.put_object(Bucket=bucket, Key=f"single/{name}", Body=f)
    out = tmp_path / "down"
    peak, granted = run_lib([s3_server.cloudpath(bucket, "single"), "file://" + str(out), MANY], env)
    assert granted <= 128, granted
    assert peak < BUDGET_MIB, f"transfer_to s3 -> file: peak RSS {peak} MiB (budget peak {granted} MiB)"
    _same_tree(out, sums)


def test_decoding_download_through_the_resumable_partial_is_bounded(remote, big, s3_server, tmp_path):
    """``cp -c none`` of a zstd object: the stored bytes go through the resumable
    partial, then are decoded from it a part at a time (cloudfiles/resume.py)."""
    _, env, _, idle = remote
    path, digest = big
    url = s3_server.cloudpath(s3_server.make_bucket(), "big.bin")
    up = run_cli(["cp", "-c", "zstd", path, url], env)  # the upload is not what this test is about:
    assert up < BUDGET_MIB, f"cp -c zstd file -> s3: peak RSS {up} MiB"  # the bound only (~146 MiB)
    out = tmp_path / "decoded.bin"
    check(run_cli(["cp", "-c", "none", url, out], env), idle, "cp -c none s3 (zstd) -> file")
    assert md5_of(out) == digest
    assert os.listdir(tmp_path) == ["decoded.bin"]  # the partial and its journal are gone
