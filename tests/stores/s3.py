"""s3:// store: a real moto server (S3 API, HTTP keep-alive) in a subprocess, started once per session.

Reusable by any test (CLI, datasets, fault-injection proxy...)::

    def test_something(s3_server):
        bucket = s3_server.make_bucket()                # fresh, empty, private
        url = s3_server.cloudpath(bucket, "prefix")     # "s3://http://127.0.0.1:PORT/BUCKET/prefix"
        cf = CloudFiles(url, secrets=s3_server.secrets)
        client = s3_server.boto3_client()               # boto3 client with the same credentials

``s3_server`` (session scope) has ``.endpoint`` ("http://127.0.0.1:PORT"),
``.access_key``, ``.secret_key``, ``.region``, ``.secrets`` (the dict to pass
as ``secrets=``), ``make_bucket(name=None, public=False)``,
``cloudpath(bucket, prefix="")``, ``boto3_client()`` and the context manager
``authenticated()`` (see below).

The credentials belong to a real IAM user (allow-all policy) created in the
server at start-up. By default moto does not check signatures, as most of its
users expect; it does apply bucket policies and ACLs to *unsigned* requests,
so an anonymous GET of a private object gets 403. ``with
s3_server.authenticated():`` switches moto's SigV4 checking on for the block,
so a wrongly signed request fails with 403 SignatureDoesNotMatch as on AWS.
Moto's checker has limits: it rejects every correctly signed request whose
query string has percent-encoded characters (listings with a '/' in the
prefix, even from boto3) or whose key is non-ASCII, and it crashes on
unsigned requests; so only get/put/head/delete of plain keys are meaningful
inside the block.

``store_s3`` returns a Store for a fresh bucket per test with
``extra={"server": s3_server, "bucket": ...}``.
"""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import pytest

from .base import Store

NAMES = ["s3"]

# moto's own ``python -m moto.server`` (werkzeug's dev server) closes the connection
# after every response; serving its WSGI app with gevent's server keeps connections
# alive, as S3 does, so clients' connection reuse is exercised and measured.
MOTO_SERVER = (
    "import socket, sys\n"
    "from gevent.pywsgi import WSGIHandler, WSGIServer\n"
    "from moto.server import DomainDispatcherApplication, create_backend_app\n"
    "class Handler(WSGIHandler):\n"
    "    def handle(self):\n"
    "        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
    "        return super().handle()\n"
    "WSGIServer(('127.0.0.1', int(sys.argv[1])), DomainDispatcherApplication(create_backend_app),"
    " handler_class=Handler, log=None).serve_forever()\n"
)

_ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port: Optional[int] = None, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start moto (keep-alive server, see MOTO_SERVER) on 127.0.0.1; return (process, endpoint) once it answers."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", MOTO_SERVER, str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=1).read()
            return proc, endpoint
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"moto server did not start on {endpoint}")
            time.sleep(0.05)


def _moto_auth(endpoint: str, free_requests: str) -> None:
    """Authenticate every request after the next ``free_requests`` ('0' or 'inf')."""
    req = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=free_requests.encode(),
                                 method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=10).read()


@dataclass
class S3Server:
    """A running moto S3 server and credentials it accepts."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    process: Any = field(default=None, repr=False)

    @property
    def secrets(self) -> dict:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_DEFAULT_REGION": self.region}

    def boto3_client(self):
        import boto3
        from botocore.config import Config

        # moto's signature check does not understand the aws-chunked checksum trailers
        cfg = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required")
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region, config=cfg,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def keys(self, bucket: str) -> list[str]:
        """Every key in ``bucket``, as AWS's own client lists them (an independent witness)."""
        keys: list[str] = []
        for page in self.boto3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def make_bucket(self, name: Optional[str] = None, public: bool = False) -> str:
        """Create a bucket (random name by default); ``public`` allows anonymous GetObject/ListBucket."""
        name = name or f"b-{uuid.uuid4().hex[:16]}"
        client = self.boto3_client()
        client.create_bucket(Bucket=name)
        if public:
            policy = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
                 "Resource": f"arn:aws:s3:::{name}/*"},
            ]}
            client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        return name

    def cloudpath(self, bucket: str, prefix: str = "") -> str:
        return f"s3://{self.endpoint}/{bucket}/{prefix}"

    @contextlib.contextmanager
    def authenticated(self) -> Iterator[None]:
        """Make moto verify SigV4 signatures (and credentials) for the block."""
        _moto_auth(self.endpoint, "0")
        try:
            yield
        finally:
            _moto_auth(self.endpoint, "inf")


def start_s3_server() -> S3Server:
    """Start moto and create an IAM user whose keys it accepts (and checks inside ``authenticated()``)."""
    proc, endpoint = start_moto()
    try:
        import boto3

        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="cloudfiles-test")
        iam.put_user_policy(UserName="cloudfiles-test", PolicyName="all", PolicyDocument=json.dumps(_ALLOW_ALL))
        key = iam.create_access_key(UserName="cloudfiles-test")["AccessKey"]
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"], process=proc)


@pytest.fixture(scope="session")
def s3_server():
    server = start_s3_server()
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def store_s3(s3_server):
    bucket = s3_server.make_bucket()
    return Store("s3", s3_server.cloudpath(bucket, "prefix"), kwargs={"secrets": s3_server.secrets},
                 extra={"server": s3_server, "bucket": bucket})
