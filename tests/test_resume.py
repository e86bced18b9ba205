"""Resumable downloads (cloudfiles/resume.py, cloudfiles/partial.py) with real faults.

A download is killed (SIGKILL, in a subprocess: the library's ``download_file``
and the ``cloudfiles cp`` command) or its connections are dropped at the fault
proxy (tests/faultproxy.py) in front of nginx and moto; the rerun must fetch
only the parts the partial's journal does not hold (counted at the proxy) and
give a byte-identical file. A remote object replaced between runs, or during
a run, must restart cleanly with the new content. Hostile or corrupt partial
files and journals (symlinks and hard links out of the directory, garbage,
forged records) must never touch anything outside the destination nor give
a wrong file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import TransientError
from cloudfiles.partial import partial_path
from cloudfiles.retry import RetryPolicy
from tests.faultproxy import FaultProxy

MiB = 1024 * 1024
FAST = RetryPolicy(attempts=3, initial_window=0.01)
REPO = str(Path(__file__).resolve().parents[1])
CLI = [sys.executable, "-m", "cloudfiles_cli.main"]


def blob(size: int, seed: int) -> bytes:
    """Distinct bytes in every MiB (a part put in the wrong place is noticed)."""
    base = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    return b"".join(i.to_bytes(8, "big") + base[8:] for i in range(size // MiB)) + base[: size % MiB]


def proxy_for(endpoint: str, style: str) -> FaultProxy:
    host, port = endpoint.rsplit("/", 1)[-1].rsplit(":", 1)
    return FaultProxy(host, int(port), style=style).start()


def journal_parts(final: Path) -> int:
    """Parts recorded in the journal of ``final``'s partial (0 if there is none)."""
    try:
        lines = Path(partial_path(str(final)) + ".json").read_bytes().split(b"\n")
    except FileNotFoundError:
        return 0
    return max(0, len(lines) - 2)  # the header, and the empty piece after the last newline


def kill_when_parts(proc: subprocess.Popen, final: Path, parts: int, timeout: float = 60) -> int:
    """SIGKILL ``proc`` once the journal of ``final`` records ``parts`` parts; return the count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and journal_parts(final) < parts:
        time.sleep(0.01)
    assert proc.poll() is None, f"the download ended early: {proc.stderr.read().decode() if proc.stderr else ''}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return journal_parts(final)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------- HTTP (nginx)
HTTP_SIZE = 24 * MiB
HTTP_PART = 1 * MiB


@pytest.fixture
def web(http_server):
    directory, url = http_server.fresh()
    data = blob(HTTP_SIZE, 1)
    (directory / "big.bin").write_bytes(data)
    px = proxy_for(http_server.url, "plain")
    sub = url.rstrip("/").rsplit("/", 1)[1]
    try:
        yield {"px": px, "dir": directory, "data": data, "url": f"{px.url}/{sub}/", "direct": url,
               "rx": rf"^/{sub}/big\.bin$"}
    finally:
        px.stop()


def _http_cf(url: str) -> CloudFiles:
    return CloudFiles(url, part_size=HTTP_PART, part_threads=2, retry_policy=FAST, timeout=30)


def test_http_download_killed_midway_fetches_only_the_missing_parts(web, tmp_path):
    px = web["px"]
    px.delay(20, method="GET", path=web["rx"], skip=6, times=None)  # after six parts the rest hang
    out = tmp_path / "big.out"
    code = (f"from cloudfiles import CloudFiles; "
            f"CloudFiles({web['url']!r}, part_size={HTTP_PART}, part_threads=2).download_file('big.bin', {str(out)!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=REPO),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = kill_when_parts(proc, out, 6)
    assert done == 6 and not out.exists()
    assert names(tmp_path) == [".big.out.cftmp-part", ".big.out.cftmp-part.json"]
    px.reset()
    assert _http_cf(web["url"]).download_file("big.bin", str(out)) == HTTP_SIZE
    assert px.count("GET", web["rx"]) == HTTP_SIZE // HTTP_PART - done  # only what the journal lacked
    assert out.read_bytes() == web["data"]
    assert names(tmp_path) == ["big.out"]


def test_http_object_replaced_mid_download_restarts_with_the_new_bytes(web, tmp_path):
    """The ranged reads are pinned (If-Match + the answer's ETag): a file replaced while
    parts are in flight makes the download start over, never splice two versions."""
    px = web["px"]
    px.delay(1.5, method="GET", path=web["rx"], skip=4, times=8)
    new = blob(HTTP_SIZE, 2)
    out = tmp_path / "big.out"
    result: dict = {}

    def run() -> None:
        try:
            result["n"] = _http_cf(web["url"]).download_file("big.bin", str(out))
        except BaseException as err:  # reported below
            result["err"] = err

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 30
    while journal_parts(out) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    tmp = web["dir"] / "big.new"
    tmp.write_bytes(new)
    later = time.time() + 30
    os.utime(tmp, (later, later))  # nginx's ETag is mtime-size: make sure it changes
    os.replace(tmp, web["dir"] / "big.bin")
    t.join(60)
    assert "err" not in result, result.get("err")
    assert out.read_bytes() == new
    assert px.count("GET", web["rx"]) >= 4 + HTTP_SIZE // HTTP_PART  # the second version was read whole
    assert names(tmp_path) == ["big.out"]


def test_http_dropped_connections_leave_a_partial_that_a_rerun_completes(web, tmp_path):
    px = web["px"]
    px.drop(mid=True, method="GET", path=web["rx"], skip=10, times=None)
    out = tmp_path / "big.out"
    cf = _http_cf(web["url"])
    with pytest.raises(TransientError):
        cf.download_file("big.bin", str(out))
    done = journal_parts(out)
    assert done >= 10 and not out.exists()
    px.reset()
    assert cf.download_file("big.bin", str(out)) == HTTP_SIZE
    assert px.count("GET", web["rx"]) == HTTP_SIZE // HTTP_PART - done
    assert out.read_bytes() == web["data"]


# ----------------------------------------------------------------- hostile partials
def _interrupted(web, out: Path, parts: int = 8) -> None:
    """Leave a genuine partial of ``parts`` parts for ``out`` (connections dropped after them)."""
    px = web["px"]
    px.drop(method="GET", path=web["rx"], skip=parts, times=None)
    with pytest.raises(TransientError):
        _http_cf(web["url"]).download_file("big.bin", str(out))
    px.reset()
    assert journal_parts(out) == parts


def test_a_symlinked_or_hard_linked_partial_is_replaced_never_written_through(web, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for kind in ("symlink", "hardlink"):
        victim = outside / f"victim-{kind}"
        victim.write_bytes(b"keep me")
        dest = tmp_path / kind
        dest.mkdir()
        out = dest / "big.out"
        part = Path(partial_path(str(out)))
        if kind == "symlink":
            part.symlink_to(victim)
            Path(str(part) + ".json").symlink_to(outside / "journal-target")  # a dangling journal link
        else:
            os.link(victim, part)
        assert _http_cf(web["url"]).download_file("big.bin", str(out)) == HTTP_SIZE
        assert out.read_bytes() == web["data"]
        assert victim.read_bytes() == b"keep me"
        assert not (outside / "journal-target").exists()
        assert names(dest) == ["big.out"]


@pytest.mark.parametrize("damage", ["garbage", "other-object", "bad-index", "huge", "two-digests", "forged"])
def test_a_damaged_or_forged_journal_restarts_and_gives_the_right_file(web, tmp_path, damage):
    out = tmp_path / "big.out"
    _interrupted(web, out)
    journal = Path(partial_path(str(out)) + ".json")
    text = journal.read_bytes()
    header, _, lines = text.partition(b"\n")
    if damage == "garbage":
        journal.write_bytes(os.urandom(5000))
    elif damage == "other-object":
        h = json.loads(header)
        h["etag"] = '"0-0"'
        journal.write_bytes(json.dumps(h, sort_keys=True).encode() + b"\n" + lines)
    elif damage == "bad-index":
        journal.write_bytes(header + b"\n" + lines + b"999999 00000000\n-1 00000000\n")
    elif damage == "huge":
        journal.write_bytes(header + b"\n" + b"1 " + b"0" * (50 * MiB) + b"\n")
    elif damage == "two-digests":
        first = lines.split(b"\n")[0].split(b" ")[0]
        journal.write_bytes(header + b"\n" + lines + first + b" ffffffff\n")
    else:  # every part claimed, with digests of the zeros the partial holds where nothing arrived
        import crc32c

        zero = f"{crc32c.crc32c(bytes(HTTP_PART)):08x}".encode()
        claims = b"".join(b"%d %s\n" % (i, zero) for i in range(HTTP_SIZE // HTTP_PART))
        journal.write_bytes(header + b"\n" + claims)
    assert _http_cf(web["url"]).download_file("big.bin", str(out)) == HTTP_SIZE
    assert out.read_bytes() == web["data"]
    assert names(tmp_path) == ["big.out"]


def test_a_partial_of_another_size_or_a_directory_in_its_place_is_not_trusted(web, tmp_path):
    out = tmp_path / "big.out"
    _interrupted(web, out)
    part = Path(partial_path(str(out)))
    with open(part, "r+b") as f:
        f.truncate(3 * MiB)  # shorter than the object: its records cannot be right
    assert _http_cf(web["url"]).download_file("big.bin", str(out)) == HTTP_SIZE
    assert out.read_bytes() == web["data"]
    out2 = tmp_path / "two" / "big.out"
    out2.parent.mkdir()
    Path(partial_path(str(out2))).mkdir()  # cannot be replaced: a private temporary file is used
    assert _http_cf(web["url"]).download_file("big.bin", str(out2)) == HTTP_SIZE
    assert out2.read_bytes() == web["data"]
    assert names(out2.parent) == [".big.out.cftmp-part", "big.out"]


# ------------------------------------------------------------------------- S3 (moto)
S3_PART = 8 * MiB
S3_SIZE = 5 * S3_PART


@pytest.fixture
def s3(s3_server):
    bucket = s3_server.make_bucket()
    px = proxy_for(s3_server.endpoint, "s3")
    direct = CloudFiles(s3_server.cloudpath(bucket, "p"), secrets=s3_server.secrets, part_size=S3_PART,
                        part_threads=4)
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
           "AWS_DEFAULT_REGION": s3_server.region}
    try:
        yield {"px": px, "direct": direct, "url": f"s3://{px.url}/{bucket}/p", "env": env,
               "client": s3_server.boto3_client(), "bucket": bucket,
               "via": lambda: CloudFiles(f"s3://{px.url}/{bucket}/p", secrets=s3_server.secrets,
                                         part_size=S3_PART, part_threads=2, retry_policy=FAST, timeout=30)}
    finally:
        px.stop()


RX = r"^/[^/]+/p/big\.bin$"


def _cli_cp_killed(s3, out: Path, parts: int) -> int:
    s3["px"].delay(20, method="GET", path=RX, skip=parts, times=None)
    env = dict(os.environ, PYTHONPATH=REPO, **s3["env"])
    proc = subprocess.Popen(CLI + ["cp", f"{s3['url']}/big.bin", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = kill_when_parts(proc, out, parts)
    s3["px"].reset()
    return done


def test_cli_cp_of_a_multipart_s3_object_killed_midway_resumes(s3, tmp_path, tmp_path_factory):
    data = blob(S3_SIZE, 3)
    src = tmp_path_factory.mktemp("src") / "big.bin"
    src.write_bytes(data)
    s3["direct"].upload_file(str(src), "big.bin")  # 5 parts of 8 MiB: verified part by part (md5 each)
    out = tmp_path / "big.bin"
    done = _cli_cp_killed(s3, out, 2)
    assert done == 2 and not out.exists()
    proc = subprocess.run(CLI + ["cp", f"{s3['url']}/big.bin", str(out)], capture_output=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=REPO, **s3["env"]))
    assert proc.returncode == 0, proc.stderr.decode()
    assert s3["px"].count("GET", RX) == S3_SIZE // S3_PART - done
    assert out.read_bytes() == data
    assert names(tmp_path) == ["big.bin"]


def test_s3_object_replaced_between_runs_restarts_cleanly(s3, tmp_path):
    """A single-part object (md5 ETag: hashed in order): the first run is killed, the
    object replaced by another of the same size; the rerun must not reuse a part."""
    old, new = blob(S3_SIZE, 4), blob(S3_SIZE, 5)
    s3["client"].put_object(Bucket=s3["bucket"], Key="p/big.bin", Body=old)
    out = tmp_path / "big.bin"
    assert _cli_cp_killed(s3, out, 2) == 2
    s3["client"].put_object(Bucket=s3["bucket"], Key="p/big.bin", Body=new)
    assert s3["via"]().download_file("big.bin", str(out)) == S3_SIZE
    assert s3["px"].count("GET", RX) == S3_SIZE // S3_PART  # every part fetched again
    assert out.read_bytes() == new
    assert names(tmp_path) == ["big.bin"]


def test_s3_single_part_object_resumes_in_order_and_is_verified(s3, tmp_path):
    data = blob(S3_SIZE, 6)
    s3["client"].put_object(Bucket=s3["bucket"], Key="p/big.bin", Body=data)
    out = tmp_path / "big.bin"
    cf = s3["via"]()
    s3["px"].drop(mid=True, method="GET", path=RX, skip=3, times=None)
    with pytest.raises(TransientError):
        cf.download_file("big.bin", str(out))
    done = journal_parts(out)
    assert done >= 3
    s3["px"].reset()
    assert cf.download_file("big.bin", str(out)) == S3_SIZE
    assert s3["px"].count("GET", RX) == S3_SIZE // S3_PART - done
    assert out.read_bytes() == data


def test_s3_forged_partial_with_matching_records_is_caught_by_the_whole_object_md5(s3, tmp_path):
    """Someone wrote wrong bytes into the partial *and* matching records: the object's
    md5 still refuses the file, the partial is dropped and the download repeated."""
    import crc32c

    data = blob(S3_SIZE, 7)
    s3["client"].put_object(Bucket=s3["bucket"], Key="p/big.bin", Body=data)
    out = tmp_path / "big.bin"
    cf = s3["via"]()
    s3["px"].drop(method="GET", path=RX, skip=1, times=None)
    with pytest.raises(TransientError):
        cf.download_file("big.bin", str(out))
    s3["px"].reset()
    journal = Path(partial_path(str(out)) + ".json")
    header = journal.read_bytes().partition(b"\n")[0]
    forged = os.urandom(S3_PART)
    with open(partial_path(str(out)), "r+b") as f:
        f.write(forged)
    journal.write_bytes(header + b"\n" + b"0 %08x\n" % crc32c.crc32c(forged))
    assert cf.download_file("big.bin", str(out)) == S3_SIZE
    assert out.read_bytes() == data
    # 4 parts around the forged one, then the whole object again after the md5 refused it
    assert s3["px"].count("GET", RX) == (S3_SIZE // S3_PART - 1) + S3_SIZE // S3_PART
    assert names(tmp_path) == ["big.bin"]


# ------------------------------------------------------------------ GCS (emulator)
GCS_PART = 2 * MiB
GCS_SIZE = 8 * GCS_PART


@pytest.fixture
def gcs(gcs_server):
    bucket = gcs_server.create_bucket()
    px = proxy_for(gcs_server.endpoint, "gcs")
    direct = CloudFiles(f"gs://{bucket}/p", secrets={"endpoint": gcs_server.endpoint})
    try:
        yield {"px": px, "direct": direct,
               "via": lambda: CloudFiles(f"gs://{bucket}/p", secrets={"endpoint": px.url}, part_size=GCS_PART,
                                         part_threads=2, retry_policy=FAST, timeout=30)}
    finally:
        px.stop()


GRX = r"/o/p%2Fbig\.bin\?alt=media"


def test_gcs_dropped_connections_resume_and_a_new_generation_restarts(gcs, tmp_path):
    """crc32c/md5 objects are hashed in order; ranged reads carry ifGenerationMatch."""
    data, new = blob(GCS_SIZE, 8), blob(GCS_SIZE, 9)
    gcs["direct"].put("big.bin", data, compress=None)
    cf = gcs["via"]()
    out = tmp_path / "big.bin"
    gcs["px"].drop(mid=True, method="GET", path=GRX, skip=3, times=None)
    with pytest.raises(TransientError):
        cf.download_file("big.bin", str(out))
    done = journal_parts(out)
    assert done >= 3
    assert all("ifGenerationMatch=" in s.target for s in gcs["px"].seen if re.search(GRX, s.target))
    gcs["px"].reset()
    assert cf.download_file("big.bin", str(out)) == GCS_SIZE
    assert gcs["px"].count("GET", GRX) == GCS_SIZE // GCS_PART - done
    assert out.read_bytes() == data
    # Interrupted again, then the object is replaced: the rerun starts over with the new bytes.
    out2 = tmp_path / "again.bin"
    gcs["px"].drop(mid=True, method="GET", path=GRX, skip=3, times=None)
    with pytest.raises(TransientError):
        cf.download_file("big.bin", str(out2))
    gcs["px"].reset()
    gcs["direct"].put("big.bin", new, compress=None)
    assert cf.download_file("big.bin", str(out2)) == GCS_SIZE
    assert gcs["px"].count("GET", GRX) == GCS_SIZE // GCS_PART
    assert out2.read_bytes() == new
    assert names(tmp_path) == ["again.bin", "big.bin"]
