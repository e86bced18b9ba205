"""Large objects (tens to hundreds of MB) on the network backends, under faults.

Each backend's real local server (nginx, moto, the GCS emulator) sits behind
tests/faultproxy.py. One large object per backend is made once per module
(256 MiB on nginx; 64 MiB on moto and the GCS emulator, which are slow), and
each test breaks chosen part requests: a flipped byte in one ranged part
must be caught by the whole-object check (S3 multipart ETag, GCS crc32c) and
the download repeated; truncated or dropped parts must never produce short
output; a failing part upload is retried on its own, and one that keeps
failing aborts the upload, leaving no object, no unfinished S3 multipart
upload and no temporary GCS part objects. Small-object variants of these
faults live in tests/test_faults.py; this file covers the sizes and the
bookkeeping (part-size metadata, leftovers) that those do not.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cloudfiles import CloudFiles, integrity
from cloudfiles.backends.gcs import TMP_PREFIX
from cloudfiles.exceptions import CloudFilesError, IntegrityError, MD5IntegrityError, TransientError
from cloudfiles.retry import RetryPolicy
from tests.faultproxy import FaultProxy

MiB = 1024 * 1024
FAST = RetryPolicy(attempts=7, initial_window=0.01)
CHUNK = 8 * MiB


def make_blob(path: Path, size: int) -> str:
    """Write ``size`` random-looking bytes to ``path`` quickly; return their md5.

    One 8 MiB random block is repeated with each copy stamped with its index,
    so no two chunks are equal and a part put in the wrong place is noticed.
    """
    block = bytearray(os.urandom(CHUNK))
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        for i, off in enumerate(range(0, size, CHUNK)):
            block[:8] = i.to_bytes(8, "big")
            piece = memoryview(block)[:min(CHUNK, size - off)]
            f.write(piece)
            md5.update(piece)
    return md5.hexdigest()


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def assert_only(directory: Path, *names: str) -> None:
    """Nothing but ``names`` in ``directory``: no temporary download files left."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


def proxy_for(endpoint: str, style: str) -> FaultProxy:
    host, port = endpoint.rsplit("/", 1)[-1].rsplit(":", 1)
    return FaultProxy(host, int(port), style=style).start()


# --------------------------------------------------------------------- HTTP (nginx)
HTTP_SIZE = 256 * MiB


@pytest.fixture(scope="module")
def http_big(http_server, tmp_path_factory):
    """A 256 MiB file served by nginx, and a proxy in front of nginx."""
    directory, url = http_server.fresh()
    md5 = make_blob(directory / "big.bin", HTTP_SIZE)
    px = proxy_for(http_server.url, "plain")
    sub = url.rstrip("/").rsplit("/", 1)[1]
    try:
        yield {"px": px, "url": f"{px.url}/{sub}/", "md5": md5, "rx": rf"^/{sub}/big\.bin$",
               "path": directory / "big.bin"}
    finally:
        px.stop()
        (directory / "big.bin").unlink()


def test_http_256mb_download_survives_truncated_dropped_and_503_parts(http_big, tmp_path):
    px = http_big["px"]
    px.reset()
    cf = CloudFiles(http_big["url"], part_size=32 * MiB, part_threads=4, retry_policy=FAST, timeout=30)
    rx = http_big["rx"]
    px.truncate(method="GET", path=rx, skip=1, times=1)      # a part ends early under its Content-Length
    px.drop(mid=True, method="GET", path=rx, skip=3, times=1)  # a part's connection dies halfway
    px.status(503, method="GET", path=rx, skip=5, times=1)
    out = tmp_path / "big.out"
    assert cf.download_file("big.bin", str(out)) == HTTP_SIZE
    assert px.count(fault=True) == 3
    assert px.count("GET", rx) == HTTP_SIZE // (32 * MiB) + 3  # only the broken parts were fetched again
    assert out.stat().st_size == HTTP_SIZE and file_md5(out) == http_big["md5"]
    assert_only(tmp_path, "big.out")


def test_http_256mb_parts_truncated_every_time_never_give_short_output(http_big, tmp_path):
    px = http_big["px"]
    px.reset()
    cf = CloudFiles(http_big["url"], part_size=64 * MiB, part_threads=4, retry_policy=FAST, timeout=30)
    px.truncate(method="GET", path=http_big["rx"], skip=2, times=None)  # the third and fourth parts, always
    out = tmp_path / "big.out"
    with pytest.raises((IntegrityError, TransientError)):
        cf.download_file("big.bin", str(out))
    # No short file; only the resumable partial (hidden from listings) and its journal.
    assert_only(tmp_path, ".big.out.cftmp-part", ".big.out.cftmp-part.json")
    # With the network healthy again a rerun fetches only the two parts that never arrived.
    px.reset()
    assert cf.download_file("big.bin", str(out)) == HTTP_SIZE
    assert px.count("GET", http_big["rx"]) == 2
    assert file_md5(out) == http_big["md5"]
    assert_only(tmp_path, "big.out")
    out.unlink()
    # A streaming reader raises too, after handing out only bytes that were right.
    px.reset()
    px.truncate(method="GET", path=http_big["rx"], skip=1, times=None)
    got = hashlib.md5()
    n = 0
    with pytest.raises((IntegrityError, TransientError)):
        for chunk in cf.stream("big.bin"):
            got.update(chunk)
            n += len(chunk)
    assert n < HTTP_SIZE
    with open(http_big["path"], "rb") as f:
        assert got.hexdigest() == hashlib.md5(f.read(n)).hexdigest()


# ------------------------------------------------------------------------- S3 (moto)
S3_SIZE = 64 * MiB
S3_PART = 16 * MiB


@pytest.fixture(scope="module")
def s3_big(s3_server, tmp_path_factory):
    """A bucket holding a 64 MiB object uploaded in 16 MiB parts, and a proxy in front of moto."""
    bucket = s3_server.make_bucket()
    src = tmp_path_factory.mktemp("s3big") / "big.bin"
    md5 = make_blob(src, S3_SIZE)
    direct = CloudFiles(s3_server.cloudpath(bucket, "p"), secrets=s3_server.secrets, part_size=S3_PART,
                        part_threads=4)
    direct.upload_file(str(src), "big.bin")
    px = proxy_for(s3_server.endpoint, "s3")
    try:
        yield {"px": px, "bucket": bucket, "src": src, "md5": md5, "direct": direct,
               "via": lambda **kw: CloudFiles(f"s3://{px.url}/{bucket}/p", secrets=s3_server.secrets,
                                              retry_policy=FAST, timeout=30, **kw)}
    finally:
        px.stop()


def _no_uploads_left(direct: CloudFiles) -> None:
    assert direct.backend.list_multipart_uploads() == [], "an unfinished multipart upload was left behind"


def test_s3_multipart_upload_records_part_size_for_exact_verification(s3_big):
    st = s3_big["direct"].backend.stat("big.bin")
    assert st.size == S3_SIZE
    assert st.checksums.etag.endswith(f"-{S3_SIZE // S3_PART}")
    assert st.checksums.multipart_part_size == S3_PART
    expect = hashlib.md5(b"".join(
        hashlib.md5(chunk).digest() for chunk in _chunks(s3_big["src"], S3_PART))).hexdigest()
    assert st.checksums.etag == f"{expect}-{S3_SIZE // S3_PART}"


def _chunks(path: Path, size: int):
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def test_s3_flipped_byte_in_one_part_is_caught_and_the_download_repeated(s3_big, tmp_path):
    px = s3_big["px"]
    px.reset()
    rx = r"^/[^/]+/p/big\.bin$"
    cf = s3_big["via"](part_size=S3_PART, part_threads=4)
    px.flip(method="GET", path=rx, skip=2, times=1)  # one byte of the third ranged part
    out = tmp_path / "big.out"
    assert cf.download_file("big.bin", str(out)) == S3_SIZE
    assert px.count(fault="flip") == 1
    assert px.count("GET", rx) == 2 * (S3_SIZE // S3_PART)  # the whole download was repeated once
    assert file_md5(out) == s3_big["md5"]
    assert_only(tmp_path, "big.out")


def test_s3_part_upload_faults_are_retried_per_part(s3_big):
    px = s3_big["px"]
    px.reset()
    cf = s3_big["via"](part_size=S3_PART, part_threads=4)
    part = lambda n: rf"[?&]partNumber={n}(&|$)"  # noqa: E731
    px.drop(method="PUT", path=part(1), times=1)
    px.status(503, method="PUT", path=part(2), times=1)
    px.drop(mid=True, method="PUT", path=part(3), times=1)      # stored, but the answer is lost
    px.flip_request(offset=12345, method="PUT", path=part(4), times=1)  # moto stores it: the ETag check refuses
    px.drop(mid=True, method="POST", path=r"[?&]uploadId=", times=1)  # the completion's answer is lost
    assert cf.upload_file(str(s3_big["src"]), "up.bin") == S3_SIZE
    assert px.count(fault=True) == 5
    assert px.count("PUT", r"[?&]partNumber=") == 4 + 4  # each broken part sent once more, no others
    _no_uploads_left(s3_big["direct"])
    st = s3_big["direct"].backend.stat("up.bin")
    assert st.checksums.multipart_part_size == S3_PART and st.size == S3_SIZE
    out_md5 = hashlib.md5(b"".join(s3_big["direct"].stream("up.bin"))).hexdigest()
    assert out_md5 == s3_big["md5"]
    s3_big["direct"].delete("up.bin")


def test_s3_part_upload_that_keeps_failing_aborts_and_leaves_nothing(s3_big, tmp_path):
    px = s3_big["px"]
    px.reset()
    src = tmp_path / "mid.bin"
    make_blob(src, 4 * 5 * MiB)
    cf = s3_big["via"](part_size=5 * MiB, part_threads=2)
    px.status(503, method="PUT", path=r"[?&]partNumber=3(&|$)", times=None)
    with pytest.raises(TransientError):
        cf.upload_file(str(src), "doomed.bin")
    px.reset()
    assert not s3_big["direct"].exists("doomed.bin")
    _no_uploads_left(s3_big["direct"])


def test_s3_completed_etag_that_disagrees_with_the_parts_removes_the_object(s3_big):
    be = s3_big["direct"].backend
    data = os.urandom(5 * MiB)
    up = be.multipart_begin("liar.bin", part_size=5 * MiB)
    infos = [be.multipart_put_part(up, 1, data, 0), be.multipart_put_part(up, 2, data[:1000], 5 * MiB)]
    # The server assembles what it stored; we claim part 2 had other bytes.
    infos[1].extra["md5"] = hashlib.md5(b"not what was sent").hexdigest()
    with pytest.raises(MD5IntegrityError, match="ETag"):
        be.multipart_complete(up, infos)
    assert not s3_big["direct"].exists("liar.bin")
    _no_uploads_left(s3_big["direct"])
    with pytest.raises(CloudFilesError, match="abandoned"):  # the facade's retry cannot reuse it
        be.multipart_complete(up, infos)


def test_s3_server_side_copy_above_the_single_copy_limit_goes_in_parallel_parts(s3_big, monkeypatch):
    px = s3_big["px"]
    px.reset()
    src = s3_big["via"]()
    data = os.urandom(12 * MiB + 5)
    s3_big["direct"].put("copy-src.bin", data, compress=None, content_type="application/x-test",
                         cache_control="no-cache")
    monkeypatch.setattr(type(src.backend), "max_single_copy", 5 * MiB)
    copy_rx = r"/p/copy-dst\.bin\?partNumber=\d+&uploadId="
    px.status(503, method="PUT", path=copy_rx, skip=1, times=1)  # one UploadPartCopy fails once
    src.transfer_to(s3_big["via"](), paths=[{"path": "copy-src.bin", "dest_path": "copy-dst.bin"}])
    # 3 parts of 5 MiB, copied twice (the failed attempt was aborted and the copy repeated)
    assert px.count("PUT", copy_rx) == 3 + 3
    assert px.count("GET", r"/p/copy-(src|dst)\.bin") == 0  # no byte went through the client
    direct = s3_big["direct"]
    res = direct.backend.get("copy-dst.bin")
    assert res.content == data and res.checksums.multipart_part_size == 5 * MiB
    integrity.verify(res.content, res.checksums, "copy-dst.bin")  # the exact part size: the ETag matches
    meta = direct.head("copy-dst.bin")
    assert meta["Content-Type"] == "application/x-test" and meta["Cache-Control"] == "no-cache"
    assert meta["ETag"].endswith("-3")
    assert direct.backend.stat("copy-dst.bin").checksums.multipart_part_size == 5 * MiB
    _no_uploads_left(direct)
    # A part that keeps failing: the copy is given up and nothing is left.
    px.reset()
    px.status(503, method="PUT", path=r"/p/copy-dst2\.bin\?partNumber=2&", times=None)
    with pytest.raises(CloudFilesError):
        src.transfer_to(s3_big["via"](), paths=[{"path": "copy-src.bin", "dest_path": "copy-dst2.bin"}])
    px.reset()
    assert not direct.exists("copy-dst2.bin")
    _no_uploads_left(direct)
    direct.delete(["copy-src.bin", "copy-dst.bin"])


# --------------------------------------------------------------------- GCS (emulator)
GCS_SIZE = 64 * MiB
GCS_PART = 16 * MiB


@pytest.fixture(scope="module")
def gcs_big(gcs_server, tmp_path_factory):
    """A bucket holding a 64 MiB composite object (crc32c only), and a proxy in front of the emulator."""
    bucket = gcs_server.create_bucket()
    src = tmp_path_factory.mktemp("gcsbig") / "big.bin"
    md5 = make_blob(src, GCS_SIZE)
    direct = CloudFiles(f"gs://{bucket}/p", secrets={"endpoint": gcs_server.endpoint}, part_size=GCS_PART,
                        part_threads=4)
    direct.upload_file(str(src), "big.bin")
    px = proxy_for(gcs_server.endpoint, "gcs")
    try:
        yield {"px": px, "bucket": bucket, "src": src, "md5": md5, "direct": direct,
               "whole": CloudFiles(f"gs://{bucket}", secrets={"endpoint": gcs_server.endpoint}),
               "via": lambda **kw: CloudFiles(f"gs://{bucket}/p", secrets={"endpoint": px.url},
                                              retry_policy=FAST, timeout=30, **kw)}
    finally:
        px.stop()


def _no_temporary_parts(gcs_big) -> None:
    assert [k for k in gcs_big["whole"].list(TMP_PREFIX)] == [], "temporary part objects were left behind"


def test_gcs_flipped_byte_in_one_part_is_caught_by_crc32c_and_the_download_repeated(gcs_big, tmp_path):
    px = gcs_big["px"]
    px.reset()
    st = gcs_big["direct"].backend.stat("big.bin")
    assert st.checksums.crc32c and not st.checksums.md5  # composite: crc32c is all there is
    rx = r"/o/p%2Fbig\.bin\?alt=media"
    cf = gcs_big["via"](part_size=GCS_PART, part_threads=4)
    px.flip(method="GET", path=rx, skip=1, times=1)
    out = tmp_path / "big.out"
    assert cf.download_file("big.bin", str(out)) == GCS_SIZE
    assert px.count(fault="flip") == 1
    assert px.count("GET", rx) == 2 * (GCS_SIZE // GCS_PART)
    assert file_md5(out) == gcs_big["md5"]
    assert_only(tmp_path, "big.out")


def test_gcs_part_upload_faults_are_retried_per_part_and_no_parts_remain(gcs_big):
    px = gcs_big["px"]
    px.reset()
    cf = gcs_big["via"](part_size=GCS_PART, part_threads=4)
    rx = r"^/upload/storage/v1/b/[^/]+/o\?uploadType=multipart"
    px.drop(method="POST", path=rx, times=1)
    px.status(503, method="POST", path=rx, times=1)
    px.drop(mid=True, method="POST", path=rx, times=1)
    px.flip_request(offset=-5000, method="POST", path=rx, times=1)  # the server's md5/crc32c check refuses it
    assert cf.upload_file(str(gcs_big["src"]), "up.bin") == GCS_SIZE
    assert px.count(fault=True) == 4
    assert px.count("POST", rx) == 4 + 4
    _no_temporary_parts(gcs_big)
    got = hashlib.md5(b"".join(gcs_big["direct"].stream("up.bin"))).hexdigest()
    assert got == gcs_big["md5"]
    gcs_big["direct"].delete("up.bin")


def test_gcs_part_upload_that_keeps_failing_leaves_no_object_and_no_parts(gcs_big):
    px = gcs_big["px"]
    px.reset()
    cf = gcs_big["via"](part_size=GCS_PART, part_threads=2)
    px.status(503, method="POST", path=r"^/upload/storage/v1/b/[^/]+/o\?uploadType=multipart", skip=2,
              times=None)
    with pytest.raises(TransientError):
        cf.upload_file(str(gcs_big["src"]), "doomed.bin")
    px.reset()
    assert not gcs_big["direct"].exists("doomed.bin")
    _no_temporary_parts(gcs_big)


def test_gcs_rewrite_of_a_large_object_loops_and_survives_a_failed_call(gcs_big, monkeypatch):
    px = gcs_big["px"]
    px.reset()
    src = gcs_big["via"]()
    monkeypatch.setattr(type(src.backend), "max_bytes_rewritten_per_call", 16 * MiB)
    rx = r"/o/p%2Fbig\.bin/rewriteTo/"
    px.status(503, method="POST", path=rx, skip=2, times=1)  # the third call of the first attempt
    src.transfer_to(gcs_big["via"](), paths=[{"path": "big.bin", "dest_path": "copy.bin"}])
    # The first attempt made 2 calls and failed on its third; the repeat needs 4 (64 / 16 MiB).
    assert px.count("POST", rx) == 3 + 4
    assert px.count("GET", r"alt=media") == 0
    got = hashlib.md5(b"".join(gcs_big["direct"].stream("copy.bin"))).hexdigest()
    assert got == gcs_big["md5"]
    gcs_big["direct"].delete("copy.bin")
