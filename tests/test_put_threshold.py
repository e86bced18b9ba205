"""``composite_upload_threshold``: put()/puts() of more stored bytes go up in
parallel parts (S3 multipart upload, GCS composite upload), checked on the
real local servers (moto, the GCS emulator)."""
from __future__ import annotations

import hashlib
import os

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import InvalidInputError

MiB = 1024 * 1024


def _multipart_etag(data: bytes, part: int) -> str:
    digests = [hashlib.md5(data[i:i + part]).digest() for i in range(0, len(data), part)]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def test_put_above_threshold_is_multipart_on_s3(s3_server):
    bucket = s3_server.make_bucket()
    cf = CloudFiles(s3_server.cloudpath(bucket, "p"), secrets=s3_server.secrets,
                    composite_upload_threshold=8 * MiB)
    data = os.urandom(40 * MiB)
    cf.put("big.bin", data)
    client = s3_server.boto3_client()
    head = client.head_object(Bucket=bucket, Key="p/big.bin")
    assert head["ETag"].strip('"') == _multipart_etag(data, 8 * MiB)  # 5 parts of 8 MiB, each part's md5
    part1 = client.head_object(Bucket=bucket, Key="p/big.bin", PartNumber=1)
    assert part1["ContentLength"] == 8 * MiB
    assert cf.get("big.bin") == data
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_threshold_is_honoured_both_ways_and_by_puts(s3_server):
    bucket = s3_server.make_bucket()
    client = s3_server.boto3_client()
    data = os.urandom(12 * MiB)
    under = CloudFiles(s3_server.cloudpath(bucket, "a"), secrets=s3_server.secrets,
                       composite_upload_threshold=16 * MiB)
    under.put("x", data)
    assert client.head_object(Bucket=bucket, Key="a/x")["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    over = CloudFiles(s3_server.cloudpath(bucket, "b"), secrets=s3_server.secrets,
                      composite_upload_threshold=1 * MiB)
    assert over.puts([("x", data), {"path": "y", "content": data, "compress": "gzip"}, ("small", b"s")]) == 3
    assert client.head_object(Bucket=bucket, Key="b/x")["ETag"].strip('"') == _multipart_etag(data, 8 * MiB)
    assert client.head_object(Bucket=bucket, Key="b/small")["ETag"].strip('"') == hashlib.md5(b"s").hexdigest()
    # random data does not shrink under gzip: still above the threshold, stored encoded
    y = client.head_object(Bucket=bucket, Key="b/y")
    assert y["ETag"].strip('"').endswith("-2") and y["ContentEncoding"] == "gzip"
    assert over.get(["x", "y", "small"]) and over.get("y") == data and over.get("x") == data


def test_put_above_threshold_is_composite_on_gcs(gcs_server, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    bucket = gcs_server.create_bucket()
    cf = CloudFiles(f"gs://{bucket}/", composite_upload_threshold=8 * MiB)
    data = os.urandom(20 * MiB)
    cf.put("big.bin", data)
    assert cf.get("big.bin") == data
    stat = cf.backend.stat("big.bin")
    assert stat.checksums.md5 is None and stat.checksums.crc32c  # a composite object: crc32c only
    assert [k for k in cf.list() if k.startswith("_cloudfiles_tmp")] == []


@pytest.mark.parametrize("bad", [-1, "8MiB", 1.5, True])
def test_bad_threshold_is_refused(bad):
    with pytest.raises(InvalidInputError, match="composite_upload_threshold"):
        CloudFiles("mem://t/", composite_upload_threshold=bad)
