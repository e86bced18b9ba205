"""Objects stored with an unknown or stacked Content-Encoding (issue 9).

They move as-is through raw reads, raw puts and transfers (the declared
encoding travels with the bytes); a decoding read fails with
UnsupportedCompressionType naming the key and the encoding. file:// cannot
represent such an encoding (its encodings are filename suffixes) and refuses
the write per file.
"""
from __future__ import annotations

import os
import uuid

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import TransferError, UnsupportedCompressionType

ODD = {"lz4": b"\x04\x22\x4d\x18 not really lz4", "stacked": b"gzip-then-br bytes"}
HEADERS = {"lz4": "lz4", "stacked": "gzip, br"}


def _check_store(cf: CloudFiles, dest: CloudFiles, redest: CloudFiles) -> None:
    for key, data in ODD.items():
        cf.put(key, data, raw=True, compress=HEADERS[key])
    for key, data in ODD.items():
        assert cf.get(key, raw=True) == data
        res = cf.get([key], raw=True)[0]
        assert res["error"] is None and res["compress"] == HEADERS[key]
        with pytest.raises(UnsupportedCompressionType) as info:
            cf.get(key)
        assert repr(key) in str(info.value) and repr(HEADERS[key]) in str(info.value)
        with pytest.raises(UnsupportedCompressionType, match=repr(key)):
            b"".join(cf.stream(key))
        assert isinstance(cf.get([key])[0]["error"], UnsupportedCompressionType)
    cf.transfer_to(dest)
    for key, data in ODD.items():
        res = dest.get([key], raw=True)[0]
        assert (res["content"], res["compress"]) == (data, HEADERS[key])
    # re-encoding cannot decode them: per-file errors naming the key
    with pytest.raises(TransferError) as info:
        cf.transfer_to(redest, reencode="gzip")
    assert set(info.value.errors) == set(ODD)
    assert all(isinstance(e, UnsupportedCompressionType) for e in info.value.errors.values())


def test_mem_unknown_encodings_move_as_is():
    base = f"mem://raw-{uuid.uuid4().hex[:8]}"
    _check_store(CloudFiles(base + "/src"), CloudFiles(base + "/dest"), CloudFiles(base + "/re"))


def test_s3_unknown_encodings_move_as_is(s3_server):
    bucket = s3_server.make_bucket()
    src = CloudFiles(s3_server.cloudpath(bucket, "src"), secrets=s3_server.secrets)
    dest = CloudFiles(s3_server.cloudpath(bucket, "dest"), secrets=s3_server.secrets)
    redest = CloudFiles(s3_server.cloudpath(bucket, "re"), secrets=s3_server.secrets)
    _check_store(src, dest, redest)
    head = s3_server.boto3_client().head_object(Bucket=bucket, Key="dest/stacked")
    assert head["ContentEncoding"] == "gzip, br"
    # across services too: S3 -> mem keeps the header
    mem = CloudFiles(f"mem://raw-{uuid.uuid4().hex[:8]}/x")
    src.transfer_to(mem)
    assert mem.get(["lz4"], raw=True)[0]["compress"] == "lz4"


def test_file_refuses_encodings_it_cannot_name(tmp_path):
    mem = CloudFiles(f"mem://raw-{uuid.uuid4().hex[:8]}/x")
    mem.put("lz4", ODD["lz4"], raw=True, compress="lz4")
    mem.put("plain", b"ok")
    dest = CloudFiles(f"file://{tmp_path}")
    with pytest.raises(TransferError) as info:
        mem.transfer_to(dest.cloudpath)
    assert set(info.value.errors) == {"lz4"} and "lz4" in str(info.value.errors["lz4"])
    assert dest.get("plain") == b"ok" and os.listdir(tmp_path) == ["plain"]
    with pytest.raises(UnsupportedCompressionType, match="lz4"):
        dest.put("x", b"...", raw=True, compress="lz4")


@pytest.mark.parametrize("bad", ["gzip\r\nX-Injected: 1", "br;q=1", "a b", ""])
def test_declared_encoding_must_be_a_header_token(bad):
    cf = CloudFiles(f"mem://raw-{uuid.uuid4().hex[:8]}/x")
    if bad == "":
        cf.put("k", b"x", raw=True, compress=bad)  # empty = identity
        assert cf.get("k") == b"x"
        return
    with pytest.raises(UnsupportedCompressionType, match="Content-Encoding"):
        cf.put("k", b"x", raw=True, compress=bad)
