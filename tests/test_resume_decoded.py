"""Resumable *decoded* downloads (issue 16): ``cloudfiles cp -c none`` and
``download_file`` (``raw=False``) of a large object stored gzip/zstd/bzip2 keep
the resumable partial of the stored bytes and decode it only once it is
complete and verified.

Against moto's S3 server behind the fault proxy (tests/faultproxy.py), which
slows the ranged GETs after the first few so a CLI run can be SIGKILLed
mid-way, and records each GET's Range header: the rerun must ask for exactly
the byte ranges the journal lacks, and give the decoded original byte for
byte. An object replaced between runs restarts; a kill while decoding leaves
the verified stored bytes, so the rerun fetches nothing and only decodes.
"""
from __future__ import annotations

import bz2
import gzip
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import DecompressionBombError
from cloudfiles.partial import partial_path
from cloudfiles.resume import DECODED_SUFFIX

from .test_resume import CLI, FAST, REPO, journal_parts, kill_when_parts, names, proxy_for

MiB = 1024 * 1024
PART = 8 * MiB  # the CLI's default part size
RX = r"^/[^/]+/p/big\.bin$"


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=1).compress(data)


ENCODE = {"gzip": lambda d: gzip.compress(d, 1), "zstd": _zstd, "bzip2": lambda d: bz2.compress(d, 1)}


def original(size: int, seed: int) -> bytes:
    """Mostly incompressible bytes (the stored object spans several parts), distinct per seed."""
    rnd = os.urandom(size)
    return seed.to_bytes(8, "big") + rnd[8:]


@pytest.fixture
def s3(s3_server):
    bucket = s3_server.make_bucket()
    px = proxy_for(s3_server.endpoint, "s3")
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
           "AWS_DEFAULT_REGION": s3_server.region}
    client = s3_server.boto3_client()

    def put(data: bytes, encoding: str) -> bytes:
        """Store ``data`` encoded (one PUT: an md5 ETag, so the rerun hashes in order); the stored bytes."""
        stored = ENCODE[encoding](data)
        client.put_object(Bucket=bucket, Key="p/big.bin", Body=stored, ContentEncoding=encoding)
        return stored

    try:
        yield {"px": px, "url": f"s3://{px.url}/{bucket}/p", "env": env, "put": put,
               "cf": lambda **kw: CloudFiles(f"s3://{px.url}/{bucket}/p", secrets=s3_server.secrets,
                                             part_size=PART, part_threads=4, retry_policy=FAST, timeout=30, **kw)}
    finally:
        px.stop()


def _cp(s3, out: Path) -> subprocess.Popen:
    """``cloudfiles cp -c none`` (decode) of the object into ``out``, in the background."""
    return subprocess.Popen(CLI + ["cp", "-c", "none", f"{s3['url']}/big.bin", str(out)],
                            env=dict(os.environ, PYTHONPATH=REPO, **s3["env"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _cp_killed_after(s3, out: Path, parts: int) -> int:
    """A decoding cp SIGKILLed once its journal records ``parts`` parts (the rest are held back)."""
    s3["px"].delay(20, method="GET", path=RX, skip=parts, times=None)
    proc = _cp(s3, out)
    try:
        done = kill_when_parts(proc, out, parts)
    finally:
        proc.stderr.close()
    s3["px"].reset()
    return done


def _cp_to_end(s3, out: Path) -> None:
    proc = _cp(s3, out)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err.decode()


def _ranges(s3) -> list[tuple[int, int]]:
    """The byte ranges ``[a, b)`` of the object's GETs seen since the last reset."""
    out = []
    for s in s3["px"].seen:
        if s.method == "GET" and re.search(RX, s.target.split("?")[0]):
            assert s.range and s.range.startswith("bytes="), s
            a, b = s.range[len("bytes="):].split("-")
            out.append((int(a), int(b) + 1))
    return sorted(out)


def _missing(stored_size: int, recorded: set[int]) -> list[tuple[int, int]]:
    return [(a, min(a + PART, stored_size)) for a in range(0, stored_size, PART) if a // PART not in recorded]


def _recorded(out: Path) -> set[int]:
    lines = Path(partial_path(str(out)) + ".json").read_bytes().split(b"\n")[1:-1]
    return {int(line.split(b" ")[0]) for line in lines}


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_decoding_cp_killed_midway_fetches_only_the_missing_ranges(s3, tmp_path, encoding):
    data = original(36 * MiB, 1)
    stored = s3["put"](data, encoding)
    parts = -(-len(stored) // PART)
    assert parts >= 5
    out = tmp_path / "big.bin"
    assert _cp_killed_after(s3, out, 2) == 2
    assert not out.exists()
    assert names(tmp_path) == [".big.bin.cftmp-part", ".big.bin.cftmp-part.json"]
    recorded = _recorded(out)
    assert len(recorded) == 2
    # the partial holds the stored (encoded) bytes of the recorded parts
    with open(partial_path(str(out)), "rb") as f:
        for i in recorded:
            f.seek(i * PART)
            assert f.read(PART) == stored[i * PART:(i + 1) * PART]
    _cp_to_end(s3, out)
    assert _ranges(s3) == _missing(len(stored), recorded)  # exactly what the journal lacked
    assert out.read_bytes() == data  # decoded, byte for byte
    assert names(tmp_path) == ["big.bin"]


def test_decoding_cp_of_an_object_replaced_between_runs_restarts(s3, tmp_path):
    old, new = original(36 * MiB, 2), original(36 * MiB, 3)
    s3["put"](old, "gzip")
    out = tmp_path / "big.bin"
    assert _cp_killed_after(s3, out, 2) == 2
    stored = s3["put"](new, "gzip")
    _cp_to_end(s3, out)
    assert _ranges(s3) == _missing(len(stored), set())  # every part fetched again, none reused
    assert out.read_bytes() == new
    assert names(tmp_path) == ["big.bin"]


def test_a_kill_while_decoding_leaves_the_verified_stored_bytes(s3, tmp_path):
    """bzip2 decodes slowly enough to be caught at it: the cp is SIGKILLed once its
    decoded file appears. The rerun re-hashes the partial from disk, asks for no byte
    of the object and only decodes."""
    data = original(32 * MiB, 4)
    stored = s3["put"](data, "bzip2")
    parts = -(-len(stored) // PART)
    out = tmp_path / "big.bin"
    decoded = Path(partial_path(str(out)) + DECODED_SUFFIX)
    proc = _cp(s3, out)
    try:
        deadline = time.monotonic() + 120
        while not decoded.exists():
            assert proc.poll() is None, f"the cp ended before it was caught decoding: {proc.stderr.read().decode()}"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        proc.stderr.close()
    assert not out.exists()
    assert journal_parts(out) == parts  # every part recorded: the stored bytes were complete
    assert Path(partial_path(str(out))).read_bytes() == stored
    s3["px"].reset()
    _cp_to_end(s3, out)
    assert _ranges(s3) == []  # nothing fetched again
    assert out.read_bytes() == data
    assert names(tmp_path) == ["big.bin"]  # the killed run's decoded file is gone too


def test_download_file_decodes_through_the_partial_and_a_bomb_keeps_it(s3, tmp_path):
    """``download_file`` (raw=False): a decompression limit hit while decoding keeps the
    verified partial (the bytes are the object's); rerun with a larger limit: no GET."""
    data = original(20 * MiB, 5)
    stored = s3["put"](data, "zstd")
    out = tmp_path / "big.bin"
    with pytest.raises(DecompressionBombError):
        s3["cf"](max_decompressed_size=MiB).download_file("big.bin", str(out))
    assert names(tmp_path) == [".big.bin.cftmp-part", ".big.bin.cftmp-part.json"]
    assert Path(partial_path(str(out))).read_bytes() == stored
    s3["px"].reset()
    assert s3["cf"]().download_file("big.bin", str(out)) == len(data)
    assert _ranges(s3) == []
    assert out.read_bytes() == data
    assert names(tmp_path) == ["big.bin"]
    # raw=True of the same object is resumable as before and gives the stored bytes
    assert s3["cf"]().download_file("big.bin", str(tmp_path / "raw.bin"), raw=True) == len(stored)
    assert (tmp_path / "raw.bin").read_bytes() == stored


def test_file_source_stored_as_gz_decodes_and_a_failed_decode_leaves_nothing(tmp_path):
    """file:// stores gzip as NAME.gz: download_file of NAME decodes it. A local file
    is identified by nothing but its size and mtime, so its partial is a private
    temporary file (not resumed): a decode that fails removes it and the decoded file."""
    data = original(6 * MiB, 6)
    src = CloudFiles("file://" + str(tmp_path / "src"), part_size=MiB)
    src.put("big.bin", data, compress="gzip")
    assert os.listdir(tmp_path / "src") == ["big.bin.gz"]
    out = tmp_path / "out" / "big.bin"
    src.max_decompressed_size = MiB // 2
    with pytest.raises(DecompressionBombError):
        src.download_file("big.bin", str(out))
    assert names(out.parent) == []
    src.max_decompressed_size = None
    assert src.download_file("big.bin", str(out)) == len(data)
    assert out.read_bytes() == data
    assert names(out.parent) == ["big.bin"]


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_an_object_compressed_on_upload_has_every_part_of_the_recorded_size(s3, tmp_path, encoding):
    """A Writer compressing on the fly cuts the codec's final flush into parts too:
    with one oversized last part the recorded part size would not hold, and the
    resumable download (which verifies the multipart ETag part by part) refused it."""
    data = original(40 * MiB, 7)
    cf = s3["cf"]()
    with cf.open("big.bin", "wb", compress=encoding) as f:
        for i in range(0, len(data), 3 * MiB):
            f.write(data[i:i + 3 * MiB])
    assert cf.download_file("big.bin", str(tmp_path / "big.bin")) == len(data)
    assert (tmp_path / "big.bin").read_bytes() == data


def test_a_planted_decoded_file_or_symlink_is_replaced_never_written_through(s3, tmp_path):
    data = original(20 * MiB, 8)
    s3["put"](data, "gzip")
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    dest = tmp_path / "dest"
    dest.mkdir()
    out = dest / "big.bin"
    Path(partial_path(str(out)) + DECODED_SUFFIX).symlink_to(victim)
    assert s3["cf"]().download_file("big.bin", str(out)) == len(data)
    assert out.read_bytes() == data
    assert victim.read_bytes() == b"keep me"
    assert names(dest) == ["big.bin"]


def test_gcs_decoded_download_with_dropped_connections_resumes(gcs_server, tmp_path):
    """GCS (the emulator): a gzip object's ranged reads are of its stored bytes; a run
    whose connections drop keeps the partial, the rerun fetches only the missing parts."""
    from cloudfiles.exceptions import TransientError

    part = 2 * MiB
    bucket = gcs_server.create_bucket()
    data = original(12 * MiB, 9)
    CloudFiles(f"gs://{bucket}/p", secrets={"endpoint": gcs_server.endpoint}).put("big.bin", data,
                                                                                  compress="gzip")
    px = proxy_for(gcs_server.endpoint, "gcs")
    grx = r"/o/p%2Fbig\.bin\?alt=media"
    try:
        cf = CloudFiles(f"gs://{bucket}/p", secrets={"endpoint": px.url}, part_size=part, part_threads=2,
                        retry_policy=FAST, timeout=30)
        stored = cf.get("big.bin", raw=True)
        assert len(stored) > 5 * part and stored != data
        out = tmp_path / "big.bin"
        px.reset()
        px.drop(mid=True, method="GET", path=grx, skip=3, times=None)
        with pytest.raises(TransientError):
            cf.download_file("big.bin", str(out))
        done = journal_parts(out)
        assert done >= 3 and not out.exists()
        px.reset()
        assert cf.download_file("big.bin", str(out)) == len(data)
        assert px.count("GET", grx) == -(-len(stored) // part) - done
        assert out.read_bytes() == data
        assert names(tmp_path) == ["big.bin"]
    finally:
        px.stop()
