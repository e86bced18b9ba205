"""The wire layer (cloudfiles/backends/wire): the ETag rule, the key root, byte-range
answers and the fields of request errors.

Range answers are checked against real HTTP servers that misbehave on purpose
(the scripted server of tests/test_http.py), through each HTTP-speaking backend
(s3://, gs://, http://) since all three share one implementation; ETags and
error fields against the moto S3 server and the GCS emulator.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import re

import pytest

from cloudfiles import CloudFiles, exceptions
from cloudfiles.backends.wire import ranges
from cloudfiles.backends.wire.etag import (
    candidate_part_sizes,
    etag_kind,
    multipart_etag,
    multipart_etag_of,
    multipart_match,
)
from cloudfiles.backends.wire.keyroot import KeyRoot
from cloudfiles.retry import RetryPolicy
from tests import test_http
from tests.stores.s3 import free_port

NO_RETRY = RetryPolicy(attempts=1)
MiB = 1024 * 1024
DATA = bytes(range(100))  # byte i is i: any slice shows where it came from
BACKENDS = ["s3", "gs", "http"]


# -- the ETag rule ------------------------------------------------------------------------
def test_etag_kind_by_shape():
    md5 = hashlib.md5(b"x").hexdigest()
    assert etag_kind(md5).is_md5 and etag_kind(f'"{md5}"').is_md5 and etag_kind(md5.upper()).is_md5
    mp = etag_kind(f'"{md5}-12"')
    assert mp.is_multipart and mp.parts == 12 and mp.verifiable and not mp.is_md5
    for opaque in (None, "", "CJ+0uPL3vOkCEAE=", '"5f3a1b2c-1b2"', f"{md5}-0", f"{md5}-x", md5[:-1] + "g",
                   f"W/{md5}"):
        kind = etag_kind(opaque)
        assert not kind.verifiable and not kind.is_md5 and not kind.is_multipart, opaque


@pytest.mark.parametrize("headers", [
    {"x-amz-server-side-encryption": "aws:kms"},
    {"x-amz-server-side-encryption": "aws:kms:dsse"},
    {"x-amz-server-side-encryption": "AES256", "x-amz-server-side-encryption-aws-kms-key-id": "arn:key"},
    {"x-amz-server-side-encryption-customer-algorithm": "AES256"},
])
def test_etag_under_kms_or_customer_keys_is_opaque(headers):
    md5 = hashlib.md5(b"x").hexdigest()
    assert not etag_kind(md5, headers).verifiable
    assert not etag_kind(f"{md5}-3", headers).verifiable
    assert etag_kind(md5, {"x-amz-server-side-encryption": "AES256"}).is_md5  # S3-managed keys keep the md5


def test_candidate_part_sizes_cut_into_the_given_part_count():
    size = 100 * MiB + 7
    for parts in (1, 2, 7, 13, 100):
        cands = candidate_part_sizes(size, parts, None)
        assert cands and all(-(-size // c) == parts for c in cands), parts
    assert candidate_part_sizes(size, 3, 40 * MiB)[0] == 40 * MiB  # a recorded hint is tried first
    assert 40 * MiB not in candidate_part_sizes(size, 13, 40 * MiB)  # ... unless it cannot be right


def test_multipart_etag_matches_what_s3_computes(s3_server):
    """moto's multipart ETag equals the formula here; a changed byte is caught."""
    bucket = s3_server.make_bucket()
    client = s3_server.boto3_client()
    data = os.urandom(11 * MiB)
    upload = client.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = []
    for n, a in enumerate(range(0, len(data), 5 * MiB), 1):
        r = client.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n, Body=data[a:a + 5 * MiB])
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    client.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    etag = client.head_object(Bucket=bucket, Key="mp")["ETag"]
    kind = etag_kind(etag)
    assert kind.is_multipart and kind.parts == 3
    assert multipart_etag(data, 5 * MiB) == etag.strip('"')
    digests = [hashlib.md5(data[a:a + 5 * MiB]).digest() for a in range(0, len(data), 5 * MiB)]
    assert multipart_etag_of(digests) == etag.strip('"')
    assert multipart_match(data, etag) is True  # 5 MiB is among the candidates
    bad = bytearray(data)
    bad[6 * MiB] ^= 1
    assert multipart_match(bytes(bad), etag) is False
    cf = CloudFiles(s3_server.cloudpath(bucket), secrets=s3_server.secrets)
    assert cf.get("mp") == data  # verified against the multipart ETag on the way
    st = cf.backend.stat("mp")
    assert st.checksums.etag == etag.strip('"')


def test_s3_kms_etag_is_left_out(s3_server):
    """An SSE-KMS object's ETag is no md5 of its bytes: stat and get leave it out."""
    bucket = s3_server.make_bucket()
    client = s3_server.boto3_client()
    client.put_object(Bucket=bucket, Key="k", Body=b"secret bytes", ServerSideEncryption="aws:kms")
    head = client.head_object(Bucket=bucket, Key="k")
    if head.get("ServerSideEncryption") != "aws:kms":
        pytest.skip("this moto does not report SSE-KMS")
    cf = CloudFiles(s3_server.cloudpath(bucket), secrets=s3_server.secrets)
    meta = cf.backend.stat_meta("k")
    assert meta.etag == head["ETag"].strip('"') and not meta.etag_kind.verifiable
    assert meta.content_md5() is None and cf.backend.stat("k").checksums.etag is None
    assert cf.backend.get("k").checksums.etag is None
    assert cf.head("k")["ETag"] == head["ETag"].strip('"')  # the reference's dict still shows it


# -- the key root ----------------------------------------------------------------------
def test_key_root():
    root = KeyRoot("data/v1/")
    assert root == KeyRoot("data/v1") and root.prefix == "data/v1/" and len(root) == 8
    assert root.join("a/b") == "data/v1/a/b" and root.join("/a") == "data/v1/a"
    assert root.relative(root.join("a/b")) == "a/b"
    assert root.scope("a") == "data/v1/a" and root.scope() == "data/v1/"
    assert root.contains("data/v1/a") and not root.contains("data/v10/a")
    empty = KeyRoot("")
    assert not empty and empty.join("a/b") == "a/b" and empty.relative("a/b") == "a/b" and KeyRoot(None) == empty
    assert pickle.loads(pickle.dumps(root)) == root and hash(root) == hash(KeyRoot("data/v1"))
    with pytest.raises(AttributeError):
        root.prefix = "x"


def test_key_root_round_trip_through_backends(store):
    """A key put under a root lists back relative to it, on every writable backend."""
    if not store.writable:
        pytest.skip(f"{store.name} is read-only")
    cf = store.cf()
    sub = CloudFiles(store.url.rstrip("/") + "/deep/er", **store.kwargs)
    sub.put("x/y", b"1", compress=None)
    assert list(sub.list()) == ["x/y"] and list(sub.list("x/")) == ["x/y"] and sub.get("x/y") == b"1"
    assert "deep/er/x/y" in list(cf.list())
    sub.delete("x/y")
    assert not sub.exists("x/y")


# -- byte ranges over each HTTP-speaking backend -------------------------------------------
def _client(backend: str, url: str) -> CloudFiles:
    if backend == "s3":
        return CloudFiles(f"s3://{url}/bucket/", no_sign_request=True, retry_policy=NO_RETRY)
    if backend == "gs":
        return CloudFiles("gs://bucket/", secrets={"endpoint": url}, retry_policy=NO_RETRY)
    return CloudFiles(url + "/bucket/", retry_policy=NO_RETRY)


def _is_data_get(method: str, path: str, backend: str) -> bool:
    if backend == "gs":
        return "alt=media" in path
    return method == "GET" and path.rstrip("/") != "/bucket"


def _asked(headers: dict) -> tuple[int, int]:
    """``(first, last)`` of the Range header against DATA."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", headers["range"])
    a, b = m.group(1), m.group(2)
    if a == "":
        return len(DATA) - int(b), len(DATA) - 1
    return int(a), min(int(b), len(DATA) - 1) if b else len(DATA) - 1


def _metadata(method, path, backend, encoding=None):
    """An honest metadata answer for DATA (HEAD, or the GCS object resource)."""
    if backend == "gs":
        body = ('{"name": "f", "size": "%d"%s}' % (len(DATA), f', "contentEncoding": "{encoding}"' if encoding
                                                   else "")).encode()
        return 200, {"Content-Type": "application/json"}, body, None
    headers = {"Content-Length": str(len(DATA))}
    if encoding:
        headers["Content-Encoding"] = encoding
    return 200, headers, b"", None


@pytest.fixture
def scripted():
    servers = []

    def start(handler):
        servers.append(test_http.Scripted(handler))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("start, end", [(10, 20), (0, 1), (95, None), (90, 200), (-10, None), (-500, None)])
def test_honest_206_answers(scripted, backend, start, end):
    def handler(m, p, h):
        if not _is_data_get(m, p, backend):
            return _metadata(m, p, backend)
        a, b = _asked(h)
        return 206, {"Content-Range": f"bytes {max(a, 0)}-{b}/{len(DATA)}"}, DATA[max(a, 0):b + 1], None

    cf = _client(backend, scripted(handler).url)
    want = DATA[start:] if end is None else DATA[start:end]
    assert cf.backend.get("f", start, end).content == want


@pytest.mark.parametrize("backend", BACKENDS)
def test_206_from_earlier_or_with_unknown_total_is_trimmed(scripted, backend):
    def handler(m, p, h):
        if "bytes=-" in h.get("range", ""):  # a suffix: total unknown ('*')
            return 206, {"Content-Range": f"bytes 90-99/*"}, DATA[90:], None
        return 206, {"Content-Range": "bytes 5-29/100"}, DATA[5:30], None  # asked 10-19

    cf = _client(backend, scripted(handler).url)
    assert cf.backend.get("f", 10, 20).content == DATA[10:20]
    assert cf.backend.get("f", -10).content == DATA[90:]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("content_range, body, why", [
    ("bytes 12-19/100", DATA[12:20], "later start"),
    ("bytes 10-19/100", DATA[10:15], "body shorter than the range"),
    ("bytes 10-14/100", DATA[10:15], "stops before the end asked for"),
    ("bytes 10-19", DATA[10:20], "no total"),
    ("bytes 10-19/15", DATA[10:20], "past the total"),
    ("items 10-19/100", DATA[10:20], "not bytes"),
    ("", DATA[10:20], "missing"),
])
def test_206_disagreeing_with_the_range_is_refused(scripted, backend, content_range, body, why):
    def handler(m, p, h):
        if not _is_data_get(m, p, backend):
            return _metadata(m, p, backend)
        return 206, ({"Content-Range": content_range} if content_range else {}), body, None

    srv = scripted(handler)
    cf = _client(backend, srv.url)
    with pytest.raises(exceptions.BadResponseError):
        cf.backend.get("f", 10, 20)
    with pytest.raises(exceptions.NetworkError):  # transient: the facade retries it
        cf.get({"path": "f", "start": 10, "end": 20})


@pytest.mark.parametrize("backend", BACKENDS)
def test_200_to_a_ranged_request_is_cut_here(scripted, backend):
    srv = scripted(lambda m, p, h: (200, {}, DATA, None) if _is_data_get(m, p, backend) else _metadata(m, p, backend))
    cf = _client(backend, srv.url)
    assert cf.backend.get("f", 10, 20).content == DATA[10:20]
    assert cf.backend.get("f", -7).content == DATA[-7:]
    assert cf.backend.get("f", 95).content == DATA[95:]
    gets = [r for r in srv.requests if _is_data_get(r[0], r[1], backend)]
    assert [r[2]["range"] for r in gets] == ["bytes=10-19", "bytes=-7", "bytes=95-"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("says_encoding", [True, False])
def test_416_means_no_bytes_and_the_stored_encoding(scripted, backend, says_encoding):
    """A range past the end: b"" with the object's encoding (ranges address decoded
    bytes, so the facade must know); from the 416 if it says, else from metadata."""
    def handler(m, p, h):
        if _is_data_get(m, p, backend):
            hdrs = {"Content-Range": f"bytes */{len(DATA)}"}
            if says_encoding:
                hdrs["Content-Encoding"] = "gzip"
            return 416, hdrs, b"", None
        return _metadata(m, p, backend, "gzip")

    srv = scripted(handler)
    res = _client(backend, srv.url).backend.get("f", 500)
    assert res.content == b"" and res.encoding == "gzip"
    asked_metadata = any(not _is_data_get(m, p, backend) for m, p, _ in srv.requests)
    # gs:// always asks: a 416's Content-Encoding may describe its own error body
    assert asked_metadata == (backend == "gs" or not says_encoding)


@pytest.mark.parametrize("backend", BACKENDS)
def test_416_for_a_missing_object_is_missing(scripted, backend):
    def handler(m, p, h):
        if _is_data_get(m, p, backend):
            return 416, {"Content-Range": "bytes */0"}, b"", None
        if p.rstrip("/") == "/bucket" or "/o/" not in p and backend == "gs":
            return 200, {}, b"", None  # the bucket exists
        return 404, {}, b"No such object: bucket/f", None

    assert _client(backend, scripted(handler).url).backend.get("f", 500).content is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_range_sends_no_get(scripted, backend):
    srv = scripted(lambda m, p, h: _metadata(m, p, backend, "br") if not _is_data_get(m, p, backend)
                   else (500, {}, b"a GET was sent", None))
    res = _client(backend, srv.url).backend.get("f", 7, 7)
    assert res.content == b"" and res.encoding == "br"
    assert not any(_is_data_get(m, p, backend) for m, p, _ in srv.requests)


@pytest.mark.parametrize("backend", ["s3", "http"])
@pytest.mark.parametrize("content_range", ["bytes 1-10/100", "bytes 0-4/100", "bytes 0-9/5"])
def test_streamed_ranges_check_content_range(scripted, backend, content_range):
    """The large-download path streams a 206 straight to its destination: its
    Content-Range must start where asked and cover the range."""
    first, last = (int(x) for x in content_range.split()[1].split("/")[0].split("-"))
    srv = scripted(lambda m, p, h: (206, {"Content-Range": content_range}, DATA[first:last + 1], None))
    cf = _client(backend, srv.url)
    with pytest.raises(exceptions.BadResponseError, match="Content-Range"):
        if backend == "s3":
            cf.backend.read_range_to("f", 0, 10, lambda chunk: None)
        else:
            cf.backend.read_range_into("f", 0, memoryview(bytearray(10)))


def test_byte_range_values():
    assert ranges.ByteRange.of(None, None) is None
    assert ranges.ByteRange.of(3, 9).header() == "bytes=3-8"
    assert ranges.ByteRange.of(3, None).header() == "bytes=3-"
    assert ranges.ByteRange.of(-4, None).header() == "bytes=-4"
    assert ranges.ByteRange.of(None, 5).header() == "bytes=0-4"
    assert ranges.ByteRange.of(5, 5).empty and not ranges.ByteRange.of(-1, None).empty
    for bad in ((-1, 5), (5, 3), (1.5, None), (None, -1), (True, None)):
        with pytest.raises(exceptions.BadRangeError):
            ranges.ByteRange.of(*bad)
    assert ranges.parse_content_range("bytes 0-9/10") == (0, 9, 10)
    assert ranges.parse_content_range("bytes 0-9/*") == (0, 9, None)
    for bad in ("bytes 9-0/10", "bytes 0-10/10", "bytes -1-9/10", "bytes 0-9", "bytes */10", None):
        assert ranges.parse_content_range(bad) is None, bad
    assert ranges.total_size({"content-range": "bytes */10"}) == 10


# -- errors with fields ---------------------------------------------------------------------
def _round_trip(err: BaseException) -> BaseException:
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)
    for name in ("path", "status", "service", "request_id"):
        assert getattr(back, name) == getattr(err, name), name
    return back


def test_error_fields_default_and_pickle():
    plain = exceptions.CloudFilesError("one message")
    assert (plain.path, plain.status, plain.service, plain.request_id) == (None, None, None, None)
    assert plain.args == ("one message",) and not plain.__dict__
    full = exceptions.NotFoundError("gone", path="s3://b/k", status=404, service="s3", request_id="R1")
    assert isinstance(_round_trip(full), FileNotFoundError)
    key = exceptions.UnsafeKeyError("bad key", "../x")
    key.status = 400
    assert _round_trip(key).key == "../x"
    moved = exceptions.TransferError("some failed", {"a": full})
    moved.service = "gcs"
    assert _round_trip(moved).errors["a"].request_id == "R1"
    hidden = exceptions.CloudFilesError("x", path="https://u:secret@host/k")
    assert "secret" not in hidden.path


def test_s3_error_fields_from_moto(s3_server):
    cf = CloudFiles(s3_server.cloudpath("cf-no-such-bucket-wire", "pre"), secrets=s3_server.secrets,
                    retry_policy=NO_RETRY)
    with pytest.raises(exceptions.BucketNotFoundError) as info:
        cf.put("k", b"x", compress=None)
    err = info.value
    assert err.status == 404 and err.service == "s3" and err.request_id
    assert err.path == f"s3://{s3_server.endpoint}/cf-no-such-bucket-wire/pre/k"
    _round_trip(err)
    bucket = s3_server.make_bucket()
    bad = CloudFiles(s3_server.cloudpath(bucket), retry_policy=NO_RETRY,
                     secrets=dict(s3_server.secrets, AWS_SECRET_ACCESS_KEY="wrong"))
    with s3_server.authenticated():
        with pytest.raises(exceptions.AuthorizationError) as info:
            bad.get("k")
    assert info.value.status == 403 and info.value.service == "s3" and info.value.request_id
    assert info.value.path.endswith(f"/{bucket}/k")


def test_gcs_error_fields_from_the_emulator(gcs_server):
    cf = CloudFiles("gs://cf-no-such-bucket-wire/pre", secrets={"endpoint": gcs_server.endpoint},
                    retry_policy=NO_RETRY)
    with pytest.raises(exceptions.BucketNotFoundError) as info:
        cf.get("k")
    err = info.value
    assert err.status == 404 and err.service == "gcs" and err.request_id.startswith("emulator-")
    assert err.path == "gs://cf-no-such-bucket-wire/pre/k"
    _round_trip(err)


def test_http_error_fields(scripted):
    srv = scripted(lambda m, p, h: (403, {"x-request-id": "req-7"}, b"no", None))
    cf = CloudFiles(srv.url + "/d/", retry_policy=NO_RETRY)
    with pytest.raises(exceptions.AuthorizationError) as info:
        cf.get("f")
    err = info.value
    assert (err.status, err.service, err.request_id, err.path) == (403, "http", "req-7", srv.url + "/d/f")
    _round_trip(err)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: a connection failure has a path, no status
    with pytest.raises(exceptions.NetworkError) as info:
        CloudFiles(url + "/d/", retry_policy=NO_RETRY).get("f")
    assert info.value.service == "http" and info.value.path == url + "/d/f" and info.value.status is None
