"""`--resume` (transfer skip_existing) and `verify` compare against the listings' sizes and
checksums and send a metadata request only where a listing cannot answer (issue 10).
Requests are counted by a proxy in front of moto's S3 server and the GCS emulator."""
from __future__ import annotations

import gzip
import os
from urllib.parse import urlsplit

import pytest

from cloudfiles import CloudFiles
from cloudfiles.transfer import transfer
from tests.faultproxy import FaultProxy

from .test_cli import run

N = 40


@pytest.fixture
def s3px(s3_server):
    px = FaultProxy("127.0.0.1", urlsplit(s3_server.endpoint).port, style="s3").start()
    yield px
    px.stop()


def _s3(s3_server, px, bucket=None, prefix="root"):
    bucket = bucket or s3_server.make_bucket()
    return CloudFiles(f"s3://{px.url}/{bucket}/{prefix}", secrets=s3_server.secrets)


def _object_requests(px) -> list[tuple[str, str]]:
    """Requests other than listings (HEAD, GET/PUT of objects)."""
    return [(s.method, s.target) for s in px.seen if "list-type=2" not in s.target]


def _fill(cf, n=N, gz=0):
    cf.puts([(f"f{i:03d}", os.urandom(100 + i)) for i in range(n)])
    if gz:
        cf.puts([(f"g{i:03d}", gzip.compress(b"z" * (50 + i)), ) for i in range(gz)], compress="gzip", raw=True)


def test_s3_to_s3_resume_sends_no_head_for_listed_files(s3_server, s3px):
    src, dest = _s3(s3_server, s3px), _s3(s3_server, s3px)
    _fill(src)
    transfer(src, dest)
    s3px.reset()
    result = transfer(src, dest, skip_existing=True)
    assert result.skipped == N and result.transferred == 0
    assert _object_requests(s3px) == []  # both sides answered by their listings (ETag = md5)
    # a changed file with the same size is found by its listed ETag and copied again
    dest.put("f005", b"x" * 105)
    s3px.reset()
    result = transfer(src, dest, skip_existing=True)
    assert result.transferred == 1 and result.skipped == N - 1
    assert src.get("f005") == dest.get("f005")
    assert s3px.count("HEAD") <= 2  # the copy itself may look at the one source object


def test_s3_resume_of_encoded_files_asks_only_for_those(tmp_path, s3_server, s3px):
    src = _s3(s3_server, s3px)
    _fill(src, n=10, gz=3)
    s3dest = _s3(s3_server, s3px)
    local = CloudFiles("file://" + str(tmp_path / "copy"))
    transfer(src, s3dest)
    transfer(src, local)
    assert sorted(os.listdir(tmp_path / "copy"))[:3] == ["f000", "f001", "f002"]
    assert (tmp_path / "copy" / "g000.gz").is_file()
    s3px.reset()
    # S3 -> S3: the same ETags and no Content-Encoding on either listing: nothing to ask
    assert transfer(src, s3dest, skip_existing=True).skipped == 13
    assert _object_requests(s3px) == []
    s3px.reset()
    # S3 -> local: the local copies say gzip, the S3 listing cannot: only those are asked
    result = transfer(src, local, skip_existing=True)
    assert result.skipped == 13 and result.transferred == 0
    heads = [t for m, t in _object_requests(s3px) if m == "HEAD"]
    assert len(heads) == 3 and all("/g0" in t for t in heads), heads


def test_local_to_s3_resume_reads_local_files_and_lists_s3(tmp_path, s3_server, s3px):
    local = CloudFiles("file://" + str(tmp_path / "src"))
    _fill(local, n=30)
    dest = _s3(s3_server, s3px)
    transfer(local, dest)
    s3px.reset()
    result = transfer(local, dest, skip_existing=True)
    assert result.skipped == 30
    assert _object_requests(s3px) == []


def test_gcs_resume_uses_listed_md5_and_encoding(gcs_server, monkeypatch):
    px = FaultProxy("127.0.0.1", urlsplit(gcs_server.endpoint).port, style="gcs").start()
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", px.url)
        src = CloudFiles(f"gs://{gcs_server.create_bucket()}/r")
        dest = CloudFiles(f"gs://{gcs_server.create_bucket()}/r")
        _fill(src, n=12, gz=2)
        transfer(src, dest)
        px.reset()
        result = transfer(src, dest, skip_existing=True)
        assert result.skipped == 14
        objects = [(s.method, s.target) for s in px.seen if "/o?" not in s.target and not s.target.endswith("/o")]
        assert objects == [], objects[:5]  # GCS listings carry md5, crc32c and the encoding
    finally:
        px.stop()


def test_cli_resume_and_verify_count_requests(tmp_path, s3_server, s3px):
    src, dest = _s3(s3_server, s3px), _s3(s3_server, s3px)
    _fill(src, n=25)
    env = s3_server.secrets
    run("cp", "-r", src.cloudpath, dest.cloudpath.rstrip("/") + "/", env=env)  # dest/root/...
    copy = CloudFiles(dest.cloudpath.rstrip("/") + "/root/", secrets=s3_server.secrets)
    assert len(list(copy.list())) == 25
    s3px.reset()
    run("cp", "--resume", "-r", src.cloudpath, dest.cloudpath.rstrip("/") + "/", env=env)
    assert _object_requests(s3px) == []
    s3px.reset()
    out = run("verify", src.cloudpath, copy.cloudpath, env=env).stdout.decode()
    assert "25 matching, 0 differing" in out
    assert _object_requests(s3px) == []
    copy.put("f003", b"y" * 103)  # same size, other bytes
    s3px.reset()
    proc = run("verify", src.cloudpath, copy.cloudpath, env=env, ok=False)
    assert proc.returncode == 1 and b"differs (checksum)\tf003" in proc.stdout
    # a difference seen in the listings is confirmed with each side's own metadata, once
    requests = _object_requests(s3px)
    assert [m for m, _ in requests] == ["HEAD", "HEAD"] and all(t.endswith("/f003") for _, t in requests)


def test_verify_asks_when_the_listing_cannot_answer(tmp_path, s3_server, s3px):
    src = _s3(s3_server, s3px)
    _fill(src, n=5, gz=2)
    local = CloudFiles("file://" + str(tmp_path / "copy"))
    transfer(src, local)
    s3px.reset()
    out = run("verify", src.cloudpath, local.cloudpath, env=s3_server.secrets).stdout.decode()
    assert "7 matching, 0 differing" in out
    # the local .gz files say gzip, S3's listing says nothing: only those two are asked
    heads = [t for m, t in _object_requests(s3px) if m == "HEAD"]
    assert len(heads) == 2 and all("/g0" in t for t in heads), heads
    (tmp_path / "copy" / "f002").write_bytes(b"q" * 102)
    s3px.reset()
    proc = run("verify", src.cloudpath, local.cloudpath, env=s3_server.secrets, ok=False)
    assert proc.returncode == 1 and b"f002" in proc.stdout
    heads = [t for m, t in _object_requests(s3px) if m == "HEAD"]
    assert len(heads) == 3 and sum(t.endswith("/f002") for t in heads) == 1  # + the confirmation
