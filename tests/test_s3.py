"""S3-specific behaviour, against the moto server of tests/stores/s3.py (and,
where the wire must be observed or damaged, a recording TCP relay in front of it)."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import socketserver
import threading

import pytest

from cloudfiles import CloudFiles, exceptions, paths
from cloudfiles.backends import s3 as s3mod
from cloudfiles.retry import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=2, initial_window=0.01)


class Relay:
    """A TCP relay to ``upstream`` that records what clients send and can rewrite what they receive."""

    def __init__(self, upstream: str, tamper: tuple[bytes, bytes] | None = None):
        host, port = upstream.split("://", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.tamper = tamper
        self.sent = bytearray()
        self.lock = threading.Lock()
        relay = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                up = socket.create_connection(relay.upstream)
                down = self.request

                def pipe_back():
                    try:
                        while True:
                            data = up.recv(65536)
                            if not data:
                                break
                            if relay.tamper:
                                data = data.replace(*relay.tamper)
                            down.sendall(data)
                    except OSError:
                        pass
                    finally:
                        try:
                            down.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass

                t = threading.Thread(target=pipe_back, daemon=True)
                t.start()
                try:
                    while True:
                        data = down.recv(65536)
                        if not data:
                            break
                        with relay.lock:
                            relay.sent += data
                        up.sendall(data)
                except OSError:
                    pass
                finally:
                    up.close()
                    t.join(5)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def requests(self) -> list[bytes]:
        """Request heads seen so far (request line + headers), framed by Content-Length."""
        with self.lock:
            data = bytes(self.sent)
        heads, pos = [], 0
        while True:
            end = data.find(b"\r\n\r\n", pos)
            if end < 0:
                return heads
            head = data[pos:end]
            heads.append(head)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            pos = end + 4 + length

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def relay(s3_server):
    r = Relay(s3_server.endpoint)
    yield r
    r.close()


@pytest.fixture
def bucket(s3_server):
    return s3_server.make_bucket()


def cf_for(s3_server, bucket, prefix="", **kw):
    kw.setdefault("secrets", s3_server.secrets)
    return CloudFiles(s3_server.cloudpath(bucket, prefix), **kw)


# ---------------------------------------------------------------- interop
def test_objects_we_write_are_plain_s3_objects(s3_server, bucket):
    cf = cf_for(s3_server, bucket, "pre")
    cf.put("plain.bin", b"plain bytes", content_type="application/x-test", cache_control="max-age=5")
    cf.put("z.json", b'{"a": 1}' * 50, compress="gzip", content_type="application/json")
    client = s3_server.boto3_client()
    obj = client.get_object(Bucket=bucket, Key="pre/plain.bin")
    assert obj["Body"].read() == b"plain bytes"
    assert obj["ContentType"] == "application/x-test" and obj["CacheControl"] == "max-age=5"
    obj = client.get_object(Bucket=bucket, Key="pre/z.json")
    assert obj["ContentEncoding"] == "gzip"
    assert gzip.decompress(obj["Body"].read()) == b'{"a": 1}' * 50
    # the ETag S3 computed is the md5 of what we sent (Content-MD5 was checked by the server)
    raw = cf.get("z.json", raw=True)
    assert obj["ETag"].strip('"') == hashlib.md5(raw).hexdigest()


def test_objects_boto3_wrote_are_readable(s3_server, bucket):
    client = s3_server.boto3_client()
    payload = b"written by boto3 " * 100
    packed = gzip.compress(payload, mtime=0)  # one fixed body: gzip headers carry a timestamp
    client.put_object(Bucket=bucket, Key="d/plain", Body=payload)
    client.put_object(Bucket=bucket, Key="d/gz", Body=packed, ContentEncoding="gzip",
                      ContentType="text/plain")
    client.put_object(Bucket=bucket, Key="d/odd name+ü.txt", Body=b"odd")
    cf = cf_for(s3_server, bucket, "d")
    assert cf.get("plain") == payload
    assert cf.get("gz") == payload
    assert cf.get("gz", raw=True) == packed
    head = cf.head("gz")
    assert head["Content-Encoding"] == "gzip" and head["Content-Type"] == "text/plain"
    assert head["Content-Length"] == len(packed)
    assert cf.get("odd name+ü.txt") == b"odd"
    assert list(cf.list()) == ["gz", "odd name+ü.txt", "plain"]
    assert dict(cf.list_sizes()) == {"gz": len(packed), "odd name+ü.txt": 3, "plain": len(payload)}


# ------------------------------------------------------- request options
def test_unsigned_requests_read_public_buckets_only(s3_server):
    public = s3_server.make_bucket(public=True)
    private = s3_server.make_bucket()
    client = s3_server.boto3_client()
    client.put_object(Bucket=public, Key="open.txt", Body=b"anyone")
    client.put_object(Bucket=private, Key="closed.txt", Body=b"secret")
    anon = dict(secrets=None, no_sign_request=True, retry_policy=FAST_RETRY)
    # no credentials exist anywhere in this test's environment, and none are needed
    assert cf_for(s3_server, public, **anon).get("open.txt") == b"anyone"
    # moto applies bucket policies and ACLs to requests without an Authorization header
    # only, so the private bucket's refusal shows the request really was unsigned
    with pytest.raises(exceptions.AuthorizationError, match=private):
        cf_for(s3_server, private, **anon).get("closed.txt")
    assert cf_for(s3_server, private).get("closed.txt") == b"secret"


def test_unsigned_requests_carry_no_authorization(s3_server, relay):
    public = s3_server.make_bucket(public=True)
    s3_server.boto3_client().put_object(Bucket=public, Key="x", Body=b"1")
    cf = CloudFiles(f"s3://{relay.endpoint}/{public}/", no_sign_request=True)
    assert cf.get("x") == b"1"
    heads = relay.requests()
    assert heads and not any(b"authorization:" in h.lower() for h in heads)
    signed = CloudFiles(f"s3://{relay.endpoint}/{public}/", secrets=s3_server.secrets)
    assert signed.get("x") == b"1"
    assert b"authorization: aws4-hmac-sha256" in relay.requests()[-1].lower()


def test_request_payer_and_storage_class_headers(s3_server, bucket, relay):
    cf = CloudFiles(f"s3://{relay.endpoint}/{bucket}/", secrets=s3_server.secrets, request_payer="requester")
    cf.put("cold", b"brr", storage_class="STANDARD_IA")
    assert cf.get("cold") == b"brr"
    heads = relay.requests()
    assert len(heads) == 2 and all(b"x-amz-request-payer: requester" in h for h in heads)
    assert b"x-amz-storage-class: STANDARD_IA" in heads[0]
    assert cf.head("cold")["Storage-Class"] == "STANDARD_IA"
    assert s3_server.boto3_client().head_object(Bucket=bucket, Key="cold")["StorageClass"] == "STANDARD_IA"


def test_batch_delete_over_1000_keys(s3_server, bucket, relay):
    cf = CloudFiles(f"s3://{relay.endpoint}/{bucket}/p", secrets=s3_server.secrets)
    real = [f"k{i}" for i in range(5)]
    cf.puts([(k, b"x") for k in real])
    # S3's DeleteObjects succeeds for absent keys too: 1200 names, 5 of them real
    cf.delete(real + [f"absent/{i}" for i in range(1195)])
    deletes = [h for h in relay.requests() if h.startswith(b"POST ") and b"?delete" in h.split(b"\r\n")[0]]
    assert len(deletes) == 2
    assert cf.exists(real) == {k: False for k in real}
    with pytest.raises(exceptions.InvalidInputError, match="1000"):
        cf.backend.delete_many([f"k{i}" for i in range(1001)])


def test_list_pagination_and_flat(s3_server, bucket):
    cf = cf_for(s3_server, bucket, "root")
    names = ["a", "b/1", "b/2", "b/c/3", "c", "d/4", "e"]
    cf.puts([(n, b"12") for n in names])
    cf.backend.list_page_size = 2
    assert list(cf.list()) == names
    assert list(cf.list(flat=True)) == ["a", "b/", "c", "d/", "e"]
    assert list(cf.list("b/", flat=True)) == ["b/1", "b/2", "b/c/"]
    assert list(cf.list_sizes("b/")) == [("b/1", 2), ("b/2", 2), ("b/c/3", 2)]


# ------------------------------------------------------------ credentials
@pytest.fixture
def no_ambient_credentials(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _secrets_dir() -> str:
    d = os.path.join(os.path.expanduser("~"), ".cloudfiles", "secrets")
    os.makedirs(d, exist_ok=True)
    return d


def _write_secret(name: str, access: str, secret: str) -> None:
    with open(os.path.join(_secrets_dir(), name), "w") as f:
        json.dump({"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret}, f)


def _roundtrip(cf) -> None:
    cf.put("cred-check", b"ok")
    assert cf.get("cred-check") == b"ok"


def test_missing_credentials_is_a_clear_error(s3_server, bucket, no_ambient_credentials):
    cf = CloudFiles(s3_server.cloudpath(bucket))
    with pytest.raises(exceptions.CredentialsError) as info:
        cf.get("anything")
    msg = str(info.value)
    assert bucket in msg and f"{bucket}-aws-secret.json" in msg and "AWS_ACCESS_KEY_ID" in msg


def test_credentials_sources(s3_server, bucket, no_ambient_credentials, monkeypatch, tmp_path):
    ak, sk = s3_server.access_key, s3_server.secret_key
    url = s3_server.cloudpath(bucket)
    with s3_server.authenticated():
        # secrets= dict and secrets= path
        _roundtrip(CloudFiles(url, secrets=s3_server.secrets))
        path = tmp_path / "creds.json"
        path.write_text(json.dumps(s3_server.secrets))
        _roundtrip(CloudFiles(url, secrets=str(path)))
        # a wrong secret is refused by the server, naming the bucket
        bad = dict(s3_server.secrets, AWS_SECRET_ACCESS_KEY="wrong")
        with pytest.raises(exceptions.AuthorizationError, match=bucket):
            CloudFiles(url, secrets=bad, retry_policy=FAST_RETRY).get("cred-check")
        # environment
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ak)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sk)
        _roundtrip(CloudFiles(url))
        # a secrets file wins over the environment; the bucket-prefixed one over the generic one
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
        _write_secret("aws-secret.json", ak, sk)
        _roundtrip(CloudFiles(url))
        _write_secret("aws-secret.json", ak, "wrong")
        _write_secret(f"{bucket}-aws-secret.json", ak, sk)
        _roundtrip(CloudFiles(url))
        os.unlink(os.path.join(_secrets_dir(), f"{bucket}-aws-secret.json"))
        with pytest.raises(exceptions.AuthorizationError):
            CloudFiles(url, retry_policy=FAST_RETRY).get("cred-check")
        # botocore's chain: a shared credentials file
        os.unlink(os.path.join(_secrets_dir(), "aws-secret.json"))
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        shared = tmp_path / "shared-credentials"
        shared.write_text(f"[default]\naws_access_key_id = {ak}\naws_secret_access_key = {sk}\n")
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
        _roundtrip(CloudFiles(url))


def test_alias_endpoint_uses_alias_secret(s3_server, bucket, no_ambient_credentials):
    paths.add_alias("motoalias", f"s3://{s3_server.endpoint}/")
    _write_secret("motoalias-secret.json", s3_server.access_key, s3_server.secret_key)
    with s3_server.authenticated():
        _roundtrip(CloudFiles(f"motoalias://{bucket}/x"))


def test_signatures_match_botocore(monkeypatch):
    """Our SigV4 equals botocore's for the shapes moto's checker cannot verify."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    be = CloudFiles("s3://http://127.0.0.1:9/bkt/root", secrets={
        "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "sekrit", "AWS_SESSION_TOKEN": "tok",
        "AWS_DEFAULT_REGION": "eu-west-3"}).backend
    cases = [
        ("GET", "/bkt/root/sp ace/ü+%&=.txt", {}, {"range": "bytes=0-9"}),
        ("GET", "/bkt", {"list-type": "2", "prefix": "root/a b/ü", "delimiter": "/", "encoding-type": "url",
                         "continuation-token": "x/y+z=="}, {}),
        ("PUT", "/bkt/root/k", {}, {"content-md5": "1B2M2Y8AsgTpgAmY7PhCfg==", "x-amz-storage-class": "GLACIER",
                                     "x-amz-request-payer": "requester", "content-type": "a/b"}),
        ("POST", "/bkt", {"delete": ""}, {"content-md5": "abc="}),
    ]
    for method, raw_path, query, extra in cases:
        path = s3mod.quote(raw_path, safe="/~")
        qs = s3mod._canonical_query(query)
        hdrs = {"host": "127.0.0.1:9", **extra}
        body = b"payload" if method in ("PUT", "POST") else None
        be._sign(method, path, qs, hdrs, body, "eu-west-3")
        signed = hdrs["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        assert "host" in signed and all(k in signed for k in hdrs if k.startswith("x-amz-"))
        # botocore signs the same header set (it would also sign e.g. range, which SigV4 leaves optional)
        req = AWSRequest(method=method, url="http://127.0.0.1:9" + path + ("?" + qs if qs else ""),
                         data=body or b"", headers={k: v for k, v in hdrs.items() if k in signed})
        req.context["timestamp"] = hdrs["x-amz-date"]
        auth = S3SigV4Auth(Credentials("AKID", "sekrit", "tok"), "s3", "eu-west-3")
        canonical = auth.canonical_request(req)
        expected = auth.signature(auth.string_to_sign(req, canonical), req)
        assert hdrs["authorization"].endswith("Signature=" + expected), (method, raw_path, canonical)


# ------------------------------------------------------- errors, integrity
def test_missing_bucket_is_named(s3_server):
    cf = cf_for(s3_server, "no-such-bucket-here", "p", retry_policy=FAST_RETRY)
    for call in (lambda: cf.get("x"), lambda: cf.put("x", b"1"), lambda: list(cf.list()),
                 lambda: cf.head("x"), lambda: cf.exists("x"), lambda: cf.delete("a")):
        with pytest.raises(exceptions.BucketNotFoundError, match="no-such-bucket-here"):
            call()
    with pytest.raises(exceptions.CloudFilesError, match="bucket 'no-such-bucket-here' does not exist") as info:
        cf.delete(["a", "b"])  # one DeleteObjects request failed for both keys
    assert isinstance(info.value.__cause__ or info.value, exceptions.BucketNotFoundError)


def test_tampered_body_fails_verification(s3_server, bucket):
    cf = cf_for(s3_server, bucket)
    cf.put("t", b"tamper-me-please")
    r = Relay(s3_server.endpoint, tamper=(b"tamper-me-please", b"tamper-me-PLEASE"))
    try:
        bad = CloudFiles(f"s3://{r.endpoint}/{bucket}/", secrets=s3_server.secrets, retry_policy=FAST_RETRY)
        with pytest.raises(exceptions.MD5IntegrityError, match="ETag"):
            bad.get("t")
        # a ranged read carries no whole-object checksum and returns the bytes as received
        assert bad["t", 0:16] == b"tamper-me-PLEASE"
    finally:
        r.close()
    assert cf.get("t") == b"tamper-me-please"


def test_native_multipart_upload_and_etag(s3_server, bucket):
    cf = cf_for(s3_server, bucket, "mp")
    be = cf.backend
    part = 5 * 1024 * 1024
    data = os.urandom(part) + b"tail" * 1000
    up = be.multipart_begin("big", content_type="application/x-big")
    infos = [be.multipart_put_part(up, 2, data[part:], part), be.multipart_put_part(up, 1, data[:part], 0)]
    be.multipart_complete(up, infos)
    head = cf.head("big")
    assert head["ETag"].endswith("-2") and head["Content-Type"] == "application/x-big"
    assert cf.get("big") == data  # the facade verified the multipart ETag
    up = be.multipart_begin("gone")
    be.multipart_put_part(up, 1, b"x", 0)
    be.multipart_abort(up)
    assert cf.exists("gone") is False


def test_ranges_and_odd_inputs(s3_server, bucket):
    cf = cf_for(s3_server, bucket)
    cf.put("r", b"0123456789")
    cf.put("empty", b"")
    assert cf.get({"path": "r", "start": 20}) == b""
    assert cf.get({"path": "r", "start": 3, "end": 3}) == b""
    assert cf.get({"path": "missing", "start": 3, "end": 3}) is None
    assert cf.get({"path": "r", "start": -30}) == b"0123456789"
    assert cf.get({"path": "empty", "start": 0, "end": 5}) == b""
    with pytest.raises(exceptions.InvalidInputError, match="line breaks"):
        cf.put("x", b"1", content_type="text/plain\r\nx-evil: 1")


def test_server_side_copy_keeps_metadata(s3_server, bucket):
    other = s3_server.make_bucket()
    src = cf_for(s3_server, bucket, "s")
    src.put("a.json", b'{"x": 1}' * 20, compress="br", content_type="application/json")
    dest = cf_for(s3_server, other, "d")
    assert src.backend.same_service(dest.backend)
    assert src.backend.copy_within("a.json", dest.backend, "b.json") is True
    assert dest.get("b.json") == b'{"x": 1}' * 20
    head = dest.head("b.json")
    assert head["Content-Encoding"] == "br" and head["Content-Type"] == "application/json"
    with pytest.raises(exceptions.NotFoundError):
        src.backend.copy_within("absent", dest.backend, "c")


def test_touch_keeps_metadata(s3_server, bucket):
    cf = cf_for(s3_server, bucket)
    cf.put("t", b"data", compress="gzip", content_type="text/x", cache_control="no-store")
    before = cf.head("t")
    cf.backend.touch("t")
    after = cf.head("t")
    assert cf.get("t") == b"data"
    for k in ("Content-Encoding", "Content-Type", "Cache-Control", "Content-Length"):
        assert after[k] == before[k]
    assert after["Last-Modified"] >= before["Last-Modified"]


def test_stale_keep_alive_connection_is_replaced(s3_server, bucket):
    cf = cf_for(s3_server, bucket, num_threads=1)
    cf.put("k", b"v")
    # close the pooled sockets under the client's feet, as an idle-timeout would
    for pool in cf.backend._pools.values():
        for sock in list(pool.idle):
            sock.shutdown(socket.SHUT_RDWR)
    assert cf.get("k") == b"v"
