"""gs:// specifics beyond the conformance suite: interop with google-cloud-storage,
batches, compose, server-side checksum checks, requester pays, credentials and
errors. Everything runs against the extended emulator (tests/stores/gcs.py)."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys

import pytest

from cloudfiles import CloudFiles, exceptions, retry
from cloudfiles.backends import gcs as gcs_backend
from cloudfiles.integrity import crc32c_base64, md5_base64


@pytest.fixture
def emu(gcs_server, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    return gcs_server


@pytest.fixture
def bucket(emu):
    return emu.create_bucket()


@pytest.fixture
def gclient(emu):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": emu.endpoint})


@pytest.fixture(scope="session")
def rsa_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def service_account(rsa_pem: str, token_uri: str, email: str = "tester@test.iam.gserviceaccount.com") -> dict:
    return {"type": "service_account", "project_id": "test", "private_key_id": "k1", "private_key": rsa_pem,
            "client_email": email, "client_id": "1", "token_uri": token_uri}


def no_default_credentials(monkeypatch) -> None:
    """Make google.auth.default() find nothing, quickly (no metadata-server probe)."""
    for var in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
                "CLOUDFILES_SECRETS_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")


def delta(before: dict, after: dict, kind: str) -> int:
    return after["requests"].get(kind, 0) - before["requests"].get(kind, 0)


# ------------------------------------------------------------------ interop
def test_reads_gzip_objects_written_by_google_cloud_storage(bucket, gclient):
    data = b"interop payload " * 500
    blob = gclient.bucket(bucket).blob("from-google/x.json")
    blob.content_encoding = "gzip"
    blob.upload_from_string(gzip.compress(data), content_type="application/json")
    gclient.bucket(bucket).blob("from-google/plain").upload_from_string(b"plain bytes")

    cf = CloudFiles(f"gs://{bucket}/from-google")
    assert cf.get("x.json") == data
    raw = cf.get("x.json", raw=True)
    assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw) == data  # stored bytes, not transcoded
    head = cf.head("x.json")
    assert head["Content-Encoding"] == "gzip" and head["Content-Type"] == "application/json"
    assert head["Content-Length"] == len(raw)
    assert cf.get("plain") == b"plain bytes"
    assert list(cf.list()) == ["plain", "x.json"]


def test_google_cloud_storage_reads_ours(bucket, gclient):
    cf = CloudFiles(f"gs://{bucket}/ours")
    data = os.urandom(3000) + b"\r\n--" + bytes(range(256))  # binary, with CRLF and dashes
    cf.put("bin", data, content_type="application/x-test", cache_control="no-cache")
    cf.put("text.gz", b"hello " * 300, compress="gzip")

    blob = gclient.bucket(bucket).get_blob("ours/bin")
    assert blob.download_as_bytes() == data  # the library checks our md5/crc32c too
    assert blob.content_type == "application/x-test" and blob.cache_control == "no-cache"
    assert blob.md5_hash == md5_base64(data) and blob.crc32c == crc32c_base64(data)
    gz = gclient.bucket(bucket).get_blob("ours/text.gz")
    assert gz.content_encoding == "gzip"
    assert gz.download_as_bytes() == b"hello " * 300
    assert gz.download_as_bytes(raw_download=True) == cf.get("text.gz", raw=True)


def test_stored_bytes_not_transcoded(bucket):
    """We ask for gzip; a client that does not would get decompressed bytes."""
    cf = CloudFiles(f"gs://{bucket}/")
    data = b"abcdefghij" * 50
    cf.put("t", data, compress="gzip")
    res = cf.backend.get("t")
    assert res.encoding == "gzip" and gzip.decompress(res.content) == data
    assert res.checksums.md5 == hashlib.md5(res.content).hexdigest()
    assert res.checksums.size == len(res.content)
    import http.client
    from urllib.parse import urlsplit

    endpoint = urlsplit(cf.backend.endpoint)
    conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
    conn.request("GET", f"/storage/v1/b/{bucket}/o/t?alt=media", headers={"Accept-Encoding": "identity"})
    r = conn.getresponse()
    assert r.read() == data and r.getheader("Content-Encoding") is None  # the emulator transcodes, as GCS does
    conn.close()


# ------------------------------------------------------------------- ranges
def test_range_edges(bucket):
    cf = CloudFiles(f"gs://{bucket}/")
    cf.put("r", b"0123456789")
    cf.put("z", b"")
    cf.put("c", b"abcdefghij" * 100, compress="gzip")
    assert cf.get({"path": "r", "start": 10}) == b""
    assert cf.get({"path": "r", "start": 50, "end": 60}) == b""
    assert cf.get({"path": "r", "start": 3, "end": 3}) == b""
    assert cf.get({"path": "r", "start": -30}) == b"0123456789"
    assert cf.get({"path": "z", "start": -3}) == b""
    assert cf.get({"path": "missing", "start": 2, "end": 2}) is None
    assert cf.get({"path": "missing", "start": 5}) is None
    stored = cf.size("c")
    assert stored < 500
    # Past the end of the stored (compressed) bytes but inside the decoded file.
    assert cf.get({"path": "c", "start": stored + 10, "end": stored + 15}) == (b"abcdefghij" * 100)[stored + 10:stored + 15]


# ------------------------------------------------------------------ batches
def test_batch_exists_and_delete_over_100_keys(bucket, emu):
    cf = CloudFiles(f"gs://{bucket}/b")
    keys = [f"k/{i:04d}" for i in range(250)]
    cf.puts([(k, b"x") for k in keys])
    probe = keys + [f"missing/{i}" for i in range(10)]
    before = emu.stats()
    found = cf.exists(probe)
    after = emu.stats()
    assert found == {k: not k.startswith("missing/") for k in probe}
    assert delta(before, after, "batch") == 3  # 260 keys, 100 per batch
    cf.delete(keys + ["missing/0"])
    assert delta(after, emu.stats(), "batch") == 3
    assert list(cf.list()) == []


def test_batch_endpoint_failure_falls_back_per_item(bucket, emu):
    cf = CloudFiles(f"gs://{bucket}/", retry_policy=retry.NO_RETRY)
    cf.puts([(f"f{i}", b"1") for i in range(5)])
    emu.configure(batch_status=503)
    try:
        before = emu.stats()
        assert cf.exists([f"f{i}" for i in range(7)]) == {f"f{i}": i < 5 for i in range(7)}
        cf.delete([f"f{i}" for i in range(3)])
        after = emu.stats()
    finally:
        emu.configure(batch_status=None)
    assert delta(before, after, "metadata") == 7 and delta(before, after, "delete") == 3
    assert list(cf.list()) == ["f3", "f4"]


# ---------------------------------------------------------- compose, copy
def test_compose_is_read_back_with_crc32c(bucket):
    cf = CloudFiles(f"gs://{bucket}/c")
    parts = [os.urandom(1000 + i) for i in range(3)]
    cf.puts([(f"part{i}", p) for i, p in enumerate(parts)])
    meta = cf.backend.compose(["part0", "part1", "part2"], "whole", content_type="application/x-whole")
    assert int(meta["componentCount"]) == 3 and "md5Hash" not in meta
    whole = b"".join(parts)
    res = cf.backend.get("whole")
    assert res.content == whole
    assert res.checksums.md5 is None and res.checksums.crc32c == crc32c_base64(whole)
    assert cf.get("whole") == whole
    head = cf.head("whole")
    assert head["Parts-Count"] == 3 and head["Content-Md5"] is None and head["Crc32c"] == crc32c_base64(whole)
    assert head["Content-Type"] == "application/x-whole"
    with pytest.raises(exceptions.NotFoundError, match="does not exist"):
        cf.backend.compose(["part0", "nope"], "bad")
    with pytest.raises(exceptions.InvalidInputError, match="1 to 32"):
        cf.backend.compose([f"p{i}" for i in range(33)], "bad")


def test_corrupted_download_is_detected_and_retried(bucket, emu):
    data = os.urandom(2000)
    CloudFiles(f"gs://{bucket}/").put("d", data)
    strict = CloudFiles(f"gs://{bucket}/", retry_policy=retry.NO_RETRY)
    emu.configure(corrupt_downloads=1)
    with pytest.raises(exceptions.IntegrityError):
        strict.get("d")
    emu.configure(corrupt_downloads=1)
    patient = CloudFiles(f"gs://{bucket}/", retry_policy=retry.RetryPolicy(attempts=3, initial_window=0.01))
    assert patient.get("d") == data


def test_server_side_copy_loops_on_rewrite_token(emu):
    src_bucket, dest_bucket = emu.create_bucket(), emu.create_bucket()
    src = CloudFiles(f"gs://{src_bucket}/in")
    dest = CloudFiles(f"gs://{dest_bucket}/out")
    big = os.urandom(5000)
    src.put("big", big)
    src.put("small.txt", b"tiny " * 100, compress="gzip", content_type="text/plain")
    src.backend.max_bytes_rewritten_per_call = 1024
    before = emu.stats()
    res = src.transfer_to(dest)
    assert res.ok and res.transferred == 2
    assert delta(before, emu.stats(), "rewrite") == 5 + 1  # 5 calls for 5000 bytes, 1 for the small one
    assert delta(before, emu.stats(), "download") == 0  # nothing went through this process
    assert dest.get("big") == big
    assert dest.get("small.txt", raw=True) == src.get("small.txt", raw=True)
    assert dest.head("small.txt")["Content-Encoding"] == "gzip"
    with pytest.raises(exceptions.NotFoundError):
        src.backend.copy_within("absent", dest.backend, "x")


# ----------------------------------------------------------- upload checks
def test_server_rejects_wrong_md5_and_crc32c(bucket):
    cf = CloudFiles(f"gs://{bucket}/")
    data = b"some bytes"
    with pytest.raises(exceptions.MD5IntegrityError, match="MD5"):
        cf.backend.put("bad", data, md5=md5_base64(b"other bytes"), crc32c=crc32c_base64(data))
    with pytest.raises(exceptions.CRC32CIntegrityError, match="CRC32C"):
        cf.backend.put("bad", data, md5=md5_base64(data), crc32c=crc32c_base64(b"other"))
    assert cf.exists("bad") is False
    cf.backend.put("good", data, md5=md5_base64(data), crc32c=crc32c_base64(data))
    assert cf.get("good") == data


# ------------------------------------------------------------ listing
def test_listing_pages_are_followed_and_merged(bucket, monkeypatch):
    monkeypatch.setattr(gcs_backend, "_PAGE", 3)
    cf = CloudFiles(f"gs://{bucket}/l")
    names = ["a", "b/1", "b/2", "c", "d/x/y", "e", "f/", "g", "h", "i/j"]
    cf.puts([(n, b"12") for n in names if not n.endswith("/")] + [("f/z", b"1")])
    expect = sorted([n for n in names if not n.endswith("/")] + ["f/z"])
    assert list(cf.list()) == expect
    assert list(cf.list(flat=True)) == ["a", "b/", "c", "d/", "e", "f/", "g", "h", "i/"]
    assert list(cf.list_sizes("b/")) == [("b/1", 2), ("b/2", 2)]
    assert list(cf.list_sizes(flat=True))[:2] == [("a", 2), ("b/", None)]


# ----------------------------------------------------------- requester pays
def test_request_payer_sends_user_project(emu):
    bucket = emu.create_bucket(billing={"requesterPays": True})
    unbilled = CloudFiles(f"gs://{bucket}/", retry_policy=retry.NO_RETRY)
    with pytest.raises(exceptions.CloudFilesError, match="requester pays"):
        unbilled.put("x", b"1")
    cf = CloudFiles(f"gs://{bucket}/", request_payer="billed-project")
    before = emu.stats()
    cf.puts([(f"p{i}", b"1") for i in range(5)])
    assert cf.get("p0") == b"1" and cf.head("p1")["Content-Length"] == 1
    assert list(cf.list()) == [f"p{i}" for i in range(5)]
    mid = emu.stats()
    assert cf.exists([f"p{i}" for i in range(5)]) == {f"p{i}": True for i in range(5)}
    after = emu.stats()
    assert delta(mid, after, "batch") == 1 and delta(mid, after, "metadata") == 5  # no per-item fallback
    cf.delete([f"p{i}" for i in range(5)])
    assert after["user_projects"].get("billed-project", 0) - before["user_projects"].get("billed-project", 0) >= 13


# ------------------------------------------------------------- credentials
def test_missing_credentials_name_bucket_and_places(monkeypatch):
    no_default_credentials(monkeypatch)
    with pytest.raises(exceptions.CredentialsError) as info:
        CloudFiles("gs://some-private-bucket/data")
    msg = str(info.value)
    assert "gs://some-private-bucket" in msg and "some-private-bucket-google-secret.json" in msg
    assert "google.auth.default()" in msg


def test_bad_secrets_are_clear_errors(tmp_path, monkeypatch, rsa_pem):
    no_default_credentials(monkeypatch)
    with pytest.raises(exceptions.CredentialsError, match="not a file"):
        CloudFiles("gs://b1/", secrets=str(tmp_path / "absent.json"))
    with pytest.raises(exceptions.CredentialsError, match="not a service account"):
        CloudFiles("gs://b1/", secrets={"colour": "red"})
    broken = service_account("not a key", "http://127.0.0.1:9/token")
    with pytest.raises(exceptions.CredentialsError, match="gs://b1"):
        CloudFiles("gs://b1/", secrets=broken)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(exceptions.CredentialsError, match="bad.json"):
        CloudFiles("gs://b1/", secrets=str(bad_json))
    with pytest.raises(exceptions.InvalidInputError, match="got int"):
        CloudFiles("gs://b1/", secrets=42)


def test_service_account_tokens_are_fetched_once_and_refreshed(emu, monkeypatch, rsa_pem, tmp_path):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    bucket = emu.create_bucket(labels={"cf-emulator-auth": "required"})
    info = service_account(rsa_pem, emu.token_uri, email=f"sa-{bucket}@test.iam.gserviceaccount.com")
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"endpoint": emu.endpoint, **info}))
    before = emu.stats()
    cf = CloudFiles(f"gs://{bucket}/", secrets=str(path), num_threads=8)
    cf.puts([(f"a{i}", b"v") for i in range(30)])
    assert cf.get([f"a{i}" for i in range(30)], return_dict=True) == {f"a{i}": b"v" for i in range(30)}
    assert all(cf.exists([f"a{i}" for i in range(30)]).values())  # batch carries the token too
    mid = emu.stats()
    assert mid["tokens_issued"] - before["tokens_issued"] == 1
    creds = cf.backend._auth.creds
    import datetime as dt

    creds.expiry = dt.datetime.utcnow() - dt.timedelta(seconds=1)
    assert cf.get("a0") == b"v"
    assert emu.stats()["tokens_issued"] - mid["tokens_issued"] == 1

    anonymous = CloudFiles(f"gs://{bucket}/", secrets={"endpoint": emu.endpoint})
    with pytest.raises(exceptions.AuthorizationError, match=bucket):
        anonymous.get("a0")


def test_bucket_specific_secrets_file_comes_first(emu, monkeypatch, rsa_pem, tmp_path):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    bucket = emu.create_bucket()
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    monkeypatch.setenv("CLOUDFILES_SECRETS_DIR", str(secrets_dir))
    generic = service_account(rsa_pem, emu.token_uri, email="generic@test.iam.gserviceaccount.com")
    specific = service_account(rsa_pem, emu.token_uri, email=f"for-{bucket}@test.iam.gserviceaccount.com")
    (secrets_dir / "google-secret.json").write_text(json.dumps(generic))
    (secrets_dir / f"{bucket}-google-secret.json").write_text(json.dumps(specific))
    cf = CloudFiles(f"gs://{bucket}/")
    assert cf.backend._auth.identity == specific["client_email"]
    other = CloudFiles("gs://another-bucket/")
    assert other.backend._auth.identity == generic["client_email"]


def test_rejected_tokens_and_forbidden_buckets(emu, monkeypatch):
    from google.oauth2.credentials import Credentials

    bucket = emu.create_bucket()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emu.endpoint)
    bogus = CloudFiles(f"gs://{bucket}/", secrets=Credentials(token="not-issued-here"))
    with pytest.raises(exceptions.AuthorizationError, match=f"bucket '{bucket}'"):
        bogus.get("x")
    denied = emu.create_bucket(labels={"cf-emulator-auth": "deny"})
    cf = CloudFiles(f"gs://{denied}/")
    for call in (lambda: cf.get("x"), lambda: cf.put("x", b"1"), lambda: list(cf.list()),
                 lambda: cf.exists(["x", "y"])):
        with pytest.raises(exceptions.AuthorizationError, match="HTTP 403"):
            call()


# ---------------------------------------------------------------- errors
def test_missing_bucket_is_named(emu):
    cf = CloudFiles("gs://no-such-bucket-cf/p", retry_policy=retry.NO_RETRY)
    calls = {
        "get": lambda: cf.get("x"),
        "put": lambda: cf.put("x", b"1"),
        "head": lambda: cf.head("x"),
        "list": lambda: list(cf.list()),
        "exists": lambda: cf.exists("x"),
        "exists_many": lambda: cf.exists(["x", "y"]),
        "delete": lambda: cf.delete("x"),
    }
    for name, call in calls.items():
        with pytest.raises(exceptions.BucketNotFoundError, match="gs://no-such-bucket-cf") as info:
            call()
        assert isinstance(info.value, exceptions.NotFoundError), name
    with pytest.raises(exceptions.TransferError) as info:  # many files: one error per file
        cf.delete(["x", "y"])
    assert all(isinstance(e, exceptions.BucketNotFoundError) for e in info.value.errors.values())


def test_google_auth_is_imported_lazily(gcs_server, tmp_path):
    bucket = gcs_server.create_bucket()
    code = (
        "import sys, cloudfiles\n"
        f"cf = cloudfiles.CloudFiles('gs://{bucket}/')\n"
        "cf.put('x', b'1')\n"
        "assert cf.get('x') == b'1'\n"
        "bad = [m for m in ('google.auth', 'google.cloud.storage', 'boto3') if m in sys.modules]\n"
        "print(bad)\n"
    )
    env = dict(os.environ, STORAGE_EMULATOR_HOST=gcs_server.endpoint, HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------- large objects
def test_parallel_composite_upload(bucket, emu):
    from cloudfiles import streaming

    cf = CloudFiles(f"gs://{bucket}/big")
    chunks = [os.urandom(1000) for _ in range(50)]  # 50 parts: composed in a tree (32 per call)
    with streaming.Writer(cf, "obj", part_size=1000, parallel=4, content_type="application/x-big") as w:
        for c in chunks:
            w.write(c)
    data = b"".join(chunks)
    head = cf.head("obj")
    assert head["Parts-Count"] == 50 and head["Content-Md5"] is None
    assert head["Content-Type"] == "application/x-big"
    assert cf.get("obj") == data
    assert b"".join(streaming.stream(cf.core, "obj", part_size=4096, parallel=3)) == data
    root = CloudFiles(f"gs://{bucket}/")
    assert list(root.list(gcs_backend.TMP_PREFIX)) == []  # temporary parts are gone

    lines = [os.urandom(4000).hex().encode() for _ in range(64)]  # gzip about halves hex: ~280 kB stored
    with streaming.Writer(cf, "z", compress="gzip", part_size=16000, parallel=2) as w:
        for line in lines:
            w.write(line)
    assert cf.get("z") == b"".join(lines)
    zhead = cf.head("z")
    assert zhead["Content-Encoding"] == "gzip" and zhead["Parts-Count"] > 10

    with pytest.raises(RuntimeError, match="stop"):
        with streaming.Writer(cf, "aborted", part_size=1000, parallel=2) as w:
            for c in chunks[:5]:
                w.write(c)
            raise RuntimeError("stop")
    assert cf.exists("aborted") is False
    assert list(root.list(gcs_backend.TMP_PREFIX)) == []


def test_keys_needing_escapes(bucket):
    cf = CloudFiles(f"gs://{bucket}/odd dir")
    keys = ["a b/c#d?e", "percent%2Fslash", "plus+ü/€", "semi;colon=&"]
    cf.puts([(k, k.encode()) for k in keys], compress="gzip")
    assert cf.get(keys, return_dict=True) == {k: k.encode() for k in keys}
    assert list(cf.list()) == sorted(keys)
    assert cf.exists(keys + ["a b/none"]) == {**{k: True for k in keys}, "a b/none": False}
    assert cf.head("plus+ü/€")["Content-Encoding"] == "gzip"
    cf.delete(keys)
    assert list(cf.list()) == []
