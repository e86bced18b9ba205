"""Untrusted listings: hostile keys are never written outside the destination,
listing loops that never end stop with ListingError, HTML index recursion is
bounded, and file:// walks survive symlink loops.

Every hostile server here is a small Python HTTP server on 127.0.0.1 counting
the requests it gets; every client that could loop or grow runs in a
subprocess under a time limit and an address-space limit.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

import pytest

from cloudfiles import CloudFiles, listings
from cloudfiles.backends import http as http_backend
from cloudfiles.exceptions import ListingError, TransferError, UnsafeKeyError

pytestmark = pytest.mark.timeout(120)

CLI = [shutil.which("cloudfiles")] if shutil.which("cloudfiles") else [sys.executable, "-m", "cloudfiles_cli.main"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMORY_LIMIT = 1536 * 1024 * 1024
TIME_LIMIT = 60


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def limited(args: list[str], env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run ``args`` under the time and memory limits; a hang fails the test instead of CI."""
    full = dict(os.environ, PYTHONPATH=ROOT)
    full.update(env or {})
    return subprocess.run(args, capture_output=True, text=True, env=full, timeout=TIME_LIMIT,
                          preexec_fn=_limits, cwd=ROOT)


def child_list(cloudpath: str, env: Optional[dict] = None, extra: str = "") -> dict:
    """``list(CloudFiles(cloudpath).list())`` in a limited child; returns what happened."""
    code = (
        "import json, sys\n"
        "from cloudfiles import CloudFiles\n"
        f"cf = CloudFiles({cloudpath!r}{extra})\n"
        "try:\n"
        "    keys = list(cf.list())\n"
        "    print(json.dumps({'keys': keys}))\n"
        "except Exception as err:\n"
        "    print(json.dumps({'error': type(err).__name__, 'message': str(err)}))\n"
    )
    proc = limited([sys.executable, "-c", code], env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------- servers
class Server:
    """A ThreadingHTTPServer on 127.0.0.1 answering with ``handle(path, query) -> (status, headers, body)``."""

    def __init__(self, handle: Callable[[str, dict], tuple[int, dict, bytes]]):
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, head_only: bool) -> None:
                outer.requests.append(self.path)
                parts = urlsplit(self.path)
                status, headers, body = handle(parts.path, parse_qs(parts.query, keep_blank_values=True))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head_only:
                    self.wfile.write(body)

            def do_GET(self):
                self._answer(False)

            def do_HEAD(self):
                self._answer(True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(handle):
        s = Server(handle)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def s3_page(keys: list[str], token: Optional[str], prefix: str = "") -> bytes:
    contents = "".join(f"<Contents><Key>{escape(k)}</Key><Size>4</Size></Contents>" for k in keys)
    more = f"<IsTruncated>true</IsTruncated><NextContinuationToken>{escape(token)}</NextContinuationToken>" \
        if token else "<IsTruncated>false</IsTruncated>"
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>bkt</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(keys)}</KeyCount>{more}{contents}"
            "</ListBucketResult>").encode()


XML = {"Content-Type": "application/xml"}
JSON = {"Content-Type": "application/json"}
S3_ENV = {"AWS_ACCESS_KEY_ID": "hostile", "AWS_SECRET_ACCESS_KEY": "hostile", "AWS_DEFAULT_REGION": "us-east-1"}


def s3_lister(pages: Callable[[Optional[str], str], tuple[list[str], Optional[str]]]):
    """An S3-like server: ``pages(token, prefix) -> (keys, next token)``; objects read back as b'EVIL'."""

    def handle(path: str, q: dict):
        if "list-type" in q:
            prefix = q.get("prefix", [""])[0]
            keys, nxt = pages(q.get("continuation-token", [None])[0], prefix)
            return 200, XML, s3_page(keys, nxt, prefix)
        if path.endswith("/"):
            return 404, XML, b"<Error><Code>NoSuchKey</Code></Error>"
        return 200, {"Content-Type": "application/octet-stream"}, b"EVIL"

    return handle


# ------------------------------------------------ 2. listing loops that never end
HOSTILE_S3 = {
    # the same token forever (67,000 requests in 15 s before the guard)
    "repeated-token": lambda token, prefix: ([prefix + "a", prefix + "b"], "SAME"),
    # a fresh token each time, but every page lists the same keys again
    "backwards": lambda token, prefix: ([prefix + "a", prefix + "b"], f"t{int((token or 't0')[1:]) + 1}"),
    # fresh tokens, empty pages, forever
    "empty-pages": lambda token, prefix: ([], f"t{int((token or 't0')[1:]) + 1}"),
    # keys that are not under the prefix asked for
    "outside-prefix": lambda token, prefix: (["zzz/elsewhere"], None),
}
MESSAGES = {"repeated-token": "repeated continuation token", "backwards": "goes backwards",
            "empty-pages": "empty listing pages in a row", "outside-prefix": "not under the prefix"}


@pytest.mark.parametrize("case", sorted(HOSTILE_S3))
def test_s3_listing_loop_stops(serve, case):
    server = serve(s3_lister(HOSTILE_S3[case]))
    got = child_list(f"s3://{server.url}/bkt/data/", S3_ENV)
    assert got.get("error") == "ListingError", got
    assert MESSAGES[case] in got["message"]
    lists = [r for r in server.requests if "list-type" in r]
    limit = {"repeated-token": 2, "backwards": 2, "empty-pages": listings.MAX_EMPTY_PAGES + 1, "outside-prefix": 1}[case]
    assert len(lists) == limit, (len(lists), server.requests[:5])


def test_s3_cli_ls_repeated_token_exits_with_one_line(serve):
    server = serve(s3_lister(HOSTILE_S3["repeated-token"]))
    proc = limited(CLI + ["ls", f"s3://{server.url}/bkt/"], S3_ENV)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "repeated continuation token 'SAME'" in lines[0], proc.stderr
    assert len([r for r in server.requests if "list-type" in r]) == 2


def test_s3_listing_page_bound(serve):
    """Fresh tokens and ascending keys forever look like a huge bucket: the page bound ends it."""
    server = serve(s3_lister(lambda token, prefix: (
        [f"{prefix}k{int((token or 't0')[1:]):08d}"], f"t{int((token or 't0')[1:]) + 1}")))
    got = child_list(f"s3://{server.url}/bkt/", dict(S3_ENV, CLOUDFILES_LIST_MAX_PAGES="50"))
    assert got.get("error") == "ListingError" and "more than 50 listing pages" in got["message"], got
    assert len([r for r in server.requests if "list-type" in r]) == 50


def test_s3_honest_pagination_still_lists_everything(serve):
    keys = [f"k{i:03d}" for i in range(25)]

    def pages(token, prefix):
        start = int(token or 0)
        return keys[start:start + 10], (str(start + 10) if start + 10 < len(keys) else None)

    server = serve(s3_lister(pages))
    got = child_list(f"s3://{server.url}/bkt/", S3_ENV)
    assert got == {"keys": keys}
    assert len(server.requests) == 3


def gcs_lister(pages: Callable[[Optional[str], str], tuple[list[str], Optional[str]]]):
    """A GCS-JSON-like server (objects.list): ``pages(token, prefix) -> (names, next token)``."""

    def handle(path: str, q: dict):
        if path.endswith("/o"):
            prefix = q.get("prefix", [""])[0]
            names, nxt = pages(q.get("pageToken", [None])[0], prefix)
            doc = {"kind": "storage#objects", "items": [{"name": n, "size": "4"} for n in names]}
            if nxt:
                doc["nextPageToken"] = nxt
            return 200, JSON, json.dumps(doc).encode()
        return 404, JSON, b'{"error": {"code": 404, "message": "No such object"}}'

    return handle


@pytest.mark.parametrize("case", ["repeated-token", "backwards", "empty-pages", "outside-prefix"])
def test_gcs_listing_loop_stops(serve, case):
    server = serve(gcs_lister(HOSTILE_S3[case]))
    got = child_list("gs://bkt/data/", {"STORAGE_EMULATOR_HOST": server.url})
    assert got.get("error") == "ListingError", got
    assert MESSAGES[case] in got["message"]
    limit = {"repeated-token": 2, "backwards": 2, "empty-pages": listings.MAX_EMPTY_PAGES + 1, "outside-prefix": 1}[case]
    assert len([r for r in server.requests if "/o?" in r]) == limit


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_http_backend_listing_loops_stop(serve, kind):
    """http(s):// URLs of buckets are listed with S3 or GCS pages: the same guard applies."""
    lister = s3_lister if kind == "s3" else gcs_lister
    server = serve(lister(HOSTILE_S3["repeated-token"]))
    got = child_list(f"{server.url}/bkt/", extra=f", listing={kind!r}")
    assert got.get("error") == "ListingError" and "repeated continuation token" in got["message"], got
    assert len(server.requests) == 2


# --------------------------------------------------- 3. HTML index recursion
def html_index(links: list[str]) -> bytes:
    return ("<html><body>" + "".join(f'<a href="{h}">{h}</a>' for h in links) + "</body></html>").encode()


HTML = {"Content-Type": "text/html; charset=utf-8"}


def test_html_index_linking_to_itself_and_parents_is_bounded(serve):
    """Every directory page links to '.', '..', '/', the page itself by absolute URL, another
    host, and a child 'again/' that is the same page one level deeper (a self-listing index)."""
    holder: dict = {}

    def handle(path: str, q: dict):
        if path.endswith("/"):
            return 200, HTML, html_index(["./", "../", "/", f"{holder['url']}{path}", "http://127.0.0.2:9/x/",
                                          "/elsewhere/", "again/", "f.txt"])
        return 200, {"Content-Type": "text/plain"}, b"data"

    server = serve(handle)
    holder["url"] = server.url
    got = child_list(f"{server.url}/base/")
    assert got.get("error") == "ListingError", got
    assert f"more than {http_backend.MAX_HTML_DEPTH} levels" in got["message"]
    pages = [r for r in server.requests if r.endswith("/")]
    assert len(pages) == http_backend.MAX_HTML_DEPTH + 1 + 1  # probe + one page per level
    assert len(set(pages)) == len(pages) - 1  # the probe re-reads the base page; nothing else twice
    assert all(p.startswith("/base/") for p in pages)  # '/', '..', '/elsewhere/' never fetched


def test_html_redirect_loops_and_escapes_are_walked_once(serve):
    """'loop/' redirects to its parent, 'out/' redirects outside the base URL: neither is
    listed, each page is read once, the real files are listed once."""
    tree = {"/base/": ["a.txt", "loop/", "out/", "sub/", "../"], "/base/sub/": ["b.txt", "up/", "./"],
            "/outside/": ["secret.txt"]}
    redirects = {"/base/loop/": "/base/", "/base/sub/up/": "/base/sub/", "/base/out/": "/outside/"}

    def handle(path: str, q: dict):
        if path in redirects:
            return 302, {"Location": redirects[path]}, b""
        if path in tree:
            return 200, HTML, html_index(tree[path])
        return 200, {"Content-Type": "text/plain"}, b"data"

    server = serve(handle)
    got = child_list(f"{server.url}/base/")
    assert got == {"keys": ["a.txt", "sub/b.txt"]}
    assert "/outside/" in server.requests  # followed the redirect, then ignored what it found
    assert server.requests.count("/base/sub/") == 2  # once directly, once through up/'s redirect
    assert not any("secret" in r for r in server.requests)


# --------------------------------------------------------- 4. file:// walks
def test_file_symlink_loops_walked_once(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"1")
    os.symlink(".", root / "d" / "loop")
    os.symlink("..", root / "d" / "up")
    os.symlink(str(root / "d"), root / "alias")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"S")
    os.symlink(str(tmp_path / "outside"), root / "d" / "out")
    os.symlink(str(tmp_path / "outside" / "secret"), root / "d" / "secret-link")
    os.symlink(str(root / "missing"), root / "dangling")
    cf = CloudFiles(f"file://{root}")
    assert list(cf.list()) == ["d/f"]
    assert list(cf.list_sizes()) == [("d/f", 1)]
    assert list(cf.list("d/")) == ["d/f"]
    assert list(cf.list("alias/")) == ["alias/f"]  # a listing started through a link follows it once


def test_file_cp_r_of_a_looped_directory_copies_one_file(tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_bytes(b"1")
    os.symlink(".", src / "d" / "loop")
    os.symlink(".", src / "d" / "loop2")
    dest = tmp_path / "dest"
    proc = limited(CLI + ["cp", "-r", str(src), str(dest)])
    assert proc.returncode == 0, proc.stderr
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == ["d/f"]


def test_file_deep_tree_lists_without_recursion_error(tmp_path):
    root = tmp_path / "root"
    deep = root.joinpath(*["d"] * 200)
    deep.mkdir(parents=True)
    (deep / "f").write_bytes(b"x")
    assert list(CloudFiles(f"file://{root}").list()) == ["d/" * 200 + "f"]


# ---------------------------------------- 1. hostile keys from a remote listing
HOSTILE_KEYS = ["../escape", "a/../../b", "a//b", "/abs/x"]


@pytest.fixture
def hostile_bucket(s3_server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    bashrc = home / ".bashrc"
    bashrc.write_bytes(b"ORIGINAL")
    bucket = s3_server.make_bucket()
    client = s3_server.boto3_client()
    bad = [str(bashrc)] + HOSTILE_KEYS
    for key in bad + ["good/one", "two"]:
        client.put_object(Bucket=bucket, Key=key, Body=b"EVIL")
    env = {"AWS_ACCESS_KEY_ID": s3_server.access_key, "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
           "AWS_DEFAULT_REGION": s3_server.region}
    return bucket, bad, bashrc, env


def _files(d) -> list[str]:
    return sorted(os.path.relpath(os.path.join(r, n), d) for r, _, ns in os.walk(d) for n in ns)


@pytest.mark.parametrize("command", ["cp", "mv"])
def test_cli_copy_of_hostile_bucket_to_disk(s3_server, hostile_bucket, tmp_path, command):
    bucket, bad, bashrc, env = hostile_bucket
    dest = tmp_path / "dest"
    dest.mkdir()
    src_url = s3_server.cloudpath(bucket)
    proc = limited(CLI + [command, "-r", src_url, str(dest)], env)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == len(bad), proc.stderr
    for key in bad:
        assert sum(repr(key) in line for line in lines) == 1, (key, proc.stderr)
    assert all(line.startswith(f"cloudfiles: {command}: {src_url}: key ") for line in lines)
    assert bashrc.read_bytes() == b"ORIGINAL"
    assert _files(dest) == ["good/one", "two"]
    assert sorted(os.listdir(tmp_path)) == ["dest", "home"]
    left = sorted(o["Key"] for o in s3_server.boto3_client().list_objects_v2(Bucket=bucket)["Contents"])
    assert left == (sorted(bad) if command == "mv" else sorted(bad + ["good/one", "two"]))


def test_transfer_to_object_store_prefix_refuses_rerooted_keys(s3_server, gcs_server, hostile_bucket,
                                                               monkeypatch):
    """Re-rooted under a prefix of S3, GCS or mem, '../x' and '/x' would name other objects."""
    bucket, bad, _, _ = hostile_bucket
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    src = CloudFiles(s3_server.cloudpath(bucket), secrets=s3_server.secrets)
    other = s3_server.make_bucket()
    gbucket = gcs_server.create_bucket()
    for dest in (CloudFiles(s3_server.cloudpath(other, "sub/"), secrets=s3_server.secrets),
                 CloudFiles(f"gs://{gbucket}/sub/"), CloudFiles("mem://hostile-dest/sub/")):
        with pytest.raises(TransferError) as info:
            src.transfer_to(dest)
        assert set(info.value.errors) == set(bad)
        assert all(isinstance(e, UnsafeKeyError) and e.key == k for k, e in info.value.errors.items())
        assert info.value.result.transferred == 2
        assert sorted(dest.list()) == ["good/one", "two"]
    listed = s3_server.boto3_client().list_objects_v2(Bucket=other)["Contents"]
    assert sorted(o["Key"] for o in listed) == ["sub/good/one", "sub/two"]
    assert sorted(CloudFiles("mem://hostile-dest/").list()) == ["sub/good/one", "sub/two"]
    assert sorted(CloudFiles(f"gs://{gbucket}/").list()) == ["sub/good/one", "sub/two"]


def test_mirror_to_same_prefix_keeps_keys_as_they_are(s3_server, hostile_bucket):
    """Bucket to bucket at the same prefix nothing is re-rooted: every key arrives unchanged."""
    bucket, bad, _, _ = hostile_bucket
    src = CloudFiles(s3_server.cloudpath(bucket), secrets=s3_server.secrets)
    other = s3_server.make_bucket()
    src.transfer_to(CloudFiles(s3_server.cloudpath(other), secrets=s3_server.secrets))
    listed = s3_server.boto3_client().list_objects_v2(Bucket=other)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(bad + ["good/one", "two"])


def test_parallel_transfer_reports_hostile_keys(s3_server, hostile_bucket, tmp_path):
    bucket, bad, bashrc, _ = hostile_bucket
    dest = tmp_path / "pdest"
    src = CloudFiles(s3_server.cloudpath(bucket), secrets=s3_server.secrets)
    with pytest.raises(TransferError) as info:
        src.transfer_to(CloudFiles(f"file://{dest}"), parallel=2)
    assert set(info.value.errors) == set(bad)
    assert all(isinstance(e, UnsafeKeyError) and e.key == k for k, e in info.value.errors.items())
    assert _files(dest) == ["good/one", "two"] and bashrc.read_bytes() == b"ORIGINAL"


def test_http_source_with_hostile_s3_listing(serve, tmp_path):
    """An http(s):// bucket URL whose S3 listing names hostile keys: per-file errors."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"ORIGINAL")
    listed = sorted([str(victim), "../escape", "a/../../b", "a//b", "good"])
    server = serve(s3_lister(lambda token, prefix: ([prefix + k for k in listed], None)))
    dest = tmp_path / "dest"
    src = CloudFiles(f"{server.url}/bkt/", listing="s3")
    with pytest.raises(TransferError) as info:
        src.transfer_to(CloudFiles(f"file://{dest}"))
    assert set(info.value.errors) == set(listed) - {"good"}
    assert all(isinstance(e, UnsafeKeyError) for e in info.value.errors.values())
    assert _files(dest) == ["good"] and victim.read_bytes() == b"ORIGINAL"
    assert sorted(os.listdir(tmp_path)) == ["dest", "victim"]
    assert not any(quote("..") in r or "/../" in r for r in server.requests)
