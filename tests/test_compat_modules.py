"""cloudfiles.paths / lib / secrets / interfaces behave as cloud-files 6.4.3's do.

The differential cases are evaluated both here and in the reference
installed in its own venv (tests/test_signatures.py's ``_reference_python``;
skipped only when PyPI is unreachable), with the same working directory,
``$HOME`` and secrets files, and must give the same ``repr`` (or raise an
exception caught by the same ``except`` clause: ours may be a subclass). The remaining tests cover what the reference cannot
be asked about in-process: the CAVE token on the wire, the permission
warning, the environment variables, format-prefixed paths through CloudFiles.
"""
from __future__ import annotations

import http.server
import json
import logging
import os
import subprocess
import sys
import threading

import pytest

from tests.test_signatures import REPO, _reference_python

EVAL = r'''
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
import numpy as np
from cloudfiles import paths, lib, secrets
out = []
for expr in json.loads(sys.stdin.read()):
    try:
        out.append(repr(eval(expr)))
    except Exception as err:
        out.append("error:" + ",".join(c.__name__ for c in type(err).__mro__))
print(json.dumps(out))
'''

PATH_CASES = [
    # extract: every form of the reference suite and more
    "paths.extract('gs://bucket/dataset/layer')",
    "paths.extract('gs://bucket')",
    "paths.extract('gs://bucket/')",
    "paths.extract('s3://bkt/a/b/')",
    "paths.extract('mem://bkt/x')",
    "paths.extract('file:///tmp/dataset/layer/')",
    "paths.extract('file://rel/dir')",
    "paths.extract('file://~/x')",
    "paths.extract('https://example.com/a/b')",
    "paths.extract('http://127.0.0.1:8080/')",
    "paths.extract('graphene://http://localhost:8080/segmentation/1.0/testvol')",
    "paths.extract('precomputed://gs://fafb-ffn1-1234567')",
    "paths.extract('zarr3://s3://bkt/arr')",
    "paths.extract('n5://file:///data/vol')",
    "paths.extract('zarr://mem://b/x')",
    "paths.extract('gs://bucket/dataset/layer|neuroglancer-precomputed:')",
    "paths.extract('gs://bucket/dataset/layer|zarr2:')",
    "paths.extract('s3://https://s3.example.com:9000/bkt/p')",
    "paths.extract('precomputed://s3://https://s3-hpcrc.rc.princeton.edu/hello/world')",
    "paths.extract('matrix://bkt/x')",
    "paths.extract('tigerdata://bkt/x/')",
    "paths.extract('middleauth+https://example.com/wow/cool/')",
    "paths.extract('ngauth+https://example.com/x')",
    "paths.extract(r'file://C:\\wow\\this\\is\\a\\path', windows=True)",
    "paths.extract('file://C:\\\\wow\\\\path\\\\', windows=True)",
    "paths.extract('file:///abs/x', windows=True)",
    "paths.extract('gs://username/a/username2/b/c/d')",
    "paths.extract('s4://dataset/layer')",
    "paths.extract('dataset/layer')",
    "paths.extract('lucifer://bucket/dataset/layer/')",
    "paths.extract('gs://///')",
    "paths.extract('ou3bouqjsa fkj aojsf oaojf ojsaf')",
    # normalize: formats kept, suffixes turned into prefixes, bare paths made file://
    "paths.normalize('precomputed://gs://b/x')",
    "paths.normalize('zarr3://s3://b/x/')",
    "paths.normalize('gs://b/x|zarr2:')",
    "paths.normalize('gs://b/x|neuroglancer-precomputed:')",
    "paths.normalize('graphene://https://h.example/seg')",
    "paths.normalize('zarr3://./rel')",
    "paths.normalize('./rel/x')",
    "paths.normalize('/abs/x')",
    "paths.normalize('~/x')",
    "paths.normalize('C:\\\\data\\\\x')",
    "paths.normalize('gs://b/x')",
    "paths.normalize('s3://https://h:9000/b/x')",
    "paths.normalize('mem://b/x')",
    # the rest of the path helpers
    "paths.to_https_protocol('gs://my_bucket/to/heaven')",
    "paths.to_https_protocol('s3://my_bucket/to/heaven')",
    "paths.to_https_protocol('s3://https://h.example:9000/b/k')",
    "paths.to_https_protocol('matrix://my_bucket/to/heaven')",
    "paths.to_https_protocol('nokura://b/x')",
    "paths.to_https_protocol('precomputed://gs://b/x')",
    "paths.to_https_protocol('file://my_bucket/to/heaven')",
    "paths.to_https_protocol('mem://my_bucket/to/heaven')",
    "paths.to_https_protocol(paths.ExtractedPath('precomputed', 'gs', 'b', 'to/heaven', None, None))",
    "paths.to_https_protocol(paths.ExtractedPath('precomputed', 'mem', 'b', 'x', None, None))",
    "paths.asbucketpath('gs://b/x/y')",
    "paths.asbucketpath('s3://https://h:9/b/x')",
    "paths.asbucketpath('matrix://b/x')",
    "paths.asbucketpath(paths.extract('zarr2://mem://b/x'))",
    "paths.asbucketpath(42)",
    "paths.ascloudpath(paths.extract('matrix://b/x'))",
    "paths.ascloudpath(paths.ExtractedPath(None, 'file', 'my_bucket', 'of/heaven', None, None))",
    "paths.ascloudpath(paths.ExtractedPath('graphene', 'https', 'b', 'of/heaven', 'https://some.domain.com', None))",
    "paths.ascloudpath(paths.ExtractedPath('precomputed', 's3', 'b', 'of/heaven', 'https://some.domain.com', None))",
    "paths.asprotocolpath(paths.extract('precomputed://gs://b/x'))",
    "paths.asfilepath('file:///tmp/a/b')",
    "paths.asfilepath('gs://b/x')",
    "paths.service_provider(paths.extract('matrix://b/x'))",
    "paths.service_provider(paths.extract('gs://b/x'))",
    "paths.get_protocol('precomputed://gs://x')",
    "paths.get_protocol('./x')",
    "paths.get_protocol('lucifer://x')",
    "paths.get_protocol('matrix://b')",
    "paths.get_protocol('middleauth+https://h/x')",
    "paths.get_any_protocol('lucifer://x')",
    "paths.get_any_protocol('/x')",
    "paths.pop_protocol('gs://b/x')",
    "paths.pop_protocol('b/x')",
    "paths.resolve_alias('matrix://b/x')",
    "paths.resolve_alias('gs://b/x')",
    "paths.extract_format_protocol('zarr://s3://https://h:1/b/k')",
    "paths.extract_format_protocol('gs://b/k', allow_defaults=False)",
    "dict(paths.find_common_buckets(['gs://b/x', 'gs://b/y', 's3://c/z', 'file:///tmp/a/b']))",
    "dict(paths.find_common_buckets('gs://b/x'))",
    "dict(paths.find_common_buckets([{'path': 'gs://b/x', 'byte_range': (0, 10)}]))",
    "paths.BASE_ALLOWED_PROTOCOLS",
    "paths.ALLOWED_FORMATS",
    "sorted(paths.ALLOWED_PROTOCOLS)",
    "paths.CLOUD_PROTOCOLS",
    "paths.OFFICIAL_ALIASES",
    "paths.PRECOMPUTED_SUFFIX",
    "paths.ALIAS_FILE.endswith('/.cloudfiles/aliases.json')",
    "bool(paths.CLOUDPATH_REGEXP.match('precomputed://gs://b').group('fmt'))",
    "paths.TAIL_FORMAT_REGEXP.search('gs://b/x|zarr2:').group('fmt')",
    "paths.BUCKET_RE.match('bkt:8080/x').group(1)",
]

LIB_CASES = [
    "lib.jsonify({'a': np.int64(3), 'b': np.arange(3), 'c': np.float32(1.5), 4: 'int key', 'n': None})",
    "lib.jsonify([np.uint8(255), np.zeros((2, 2), dtype=np.int32), True, 'é'])",
    "lib.jsonify({'x': float('nan')})",
    "lib.jsonify(object())",
    "list(lib.sip(range(7), 3))",
    "list(lib.sip([], 3))",
    "list(lib.scatter(range(7), 3))",
    "list(lib.scatter([], 2))",
    "list(lib.scatter([1], 0))",
    "lib.first([5, 6])", "lib.first([])", "lib.first(x for x in [7])", "lib.first(x for x in [])",
    "lib.first({9, 9})", "lib.first(set())", "lib.first('abc')",
    "lib.toiter('abc')", "lib.toiter({'a': 1})", "lib.toiter(3)", "lib.toiter([1, 2])",
    "lib.toiter('abc', is_iter=True)", "lib.toiter((1,), is_iter=True)", "lib.toiter(None, is_iter=True)",
    "lib.duplicates([1, 2, 2, 3, 3, 3])", "lib.duplicates([])",
    "lib.nvl(None, None, 3)", "lib.nvl(None, None)", "lib.nvl(0, 1)", "lib.nvl(1)",
    "lib.totalfn([1, 2], None)", "lib.totalfn(iter([1]), None)", "lib.totalfn([1], 7)",
    "lib.md5(b'hello')", "lib.md5('hello', base=16)", "lib.md5(b'', base=32)",
    "lib.md5_equal('5d41402abc4b2a76b9719d911017c592', lib.md5(b'hello'))",
    "lib.md5_equal('\"5d41402abc4b2a76b9719d911017c592\"', '5d41402abc4b2a76b9719d911017c592')",
    "lib.md5_equal(lib.md5(b'a'), lib.md5(b'b'))",
    "lib.crc32c(b'hello')", "lib.crc32c('hello')", "lib.crc32c(b'')",
    "lib.encode_crc32c_b64(b'hello')",
    "lib.decode_crc32c_b64(lib.encode_crc32c_b64(b'hello').decode())",
    "lib.decode_crc32c_b64(lib.encode_crc32c_b64(b'hello').decode().rstrip('='))",
    "lib.calc_s3_multipart_etag(b'x' * 100, 30)",
    "lib.validate_s3_multipart_etag(b'x' * (9 << 20), lib.calc_s3_multipart_etag(b'x' * (9 << 20), 8 << 20), None)",
    "lib.validate_s3_multipart_etag(b'x' * 100, lib.calc_s3_multipart_etag(b'x' * 100, 30), 30)",
    "lib.validate_s3_multipart_etag(b'x' * 100, lib.calc_s3_multipart_etag(b'y' * 100, 30), 30)",
    "lib.toabs('~/a/../b') == os.path.join(os.path.expanduser('~'), 'b')".replace("os.", "__import__('os')."),
    "lib.colorize('red', 'x')", "lib.green('x')", "lib.yellow('x')", "lib.red('x')",
    "lib.COLORS",
]

SECRETS_CASES = [
    "secrets.aws_credentials(skip_files=True)",
    "secrets.aws_credentials('bkt')",
    "secrets.aws_credentials('other')",
    "secrets.aws_credentials(service='matrix')",
    "secrets.cave_credentials()",
    "secrets.cave_credentials('cave.example')",
    "secrets.http_credentials()",
    "secrets.secretpath('aws-secret.json').endswith('.cloudvolume/secrets/aws-secret.json')",
    "secrets.secretpath('http-secret.json').endswith('.cloudfiles/secrets/http-secret.json')",
    "secrets.secretpath('nothing.json').endswith('.cloudvolume/secrets/nothing.json')",
    "secrets.default_google_project_name()",
    "secrets.google_credentials('nobucket')[1] is None",
    "secrets.CLOUD_FILES_LOCK_DIR",
    "secrets.CLOUD_VOLUME_SECRETS_DIR.endswith('/.cloudvolume/secrets')",
    "secrets.CLOUD_FILES_SECRETS_DIR.endswith('/.cloudfiles/secrets')",
]


def _secrets_home(home) -> None:
    """Secrets files in both directories, readable only by the owner."""
    cv = home / ".cloudvolume" / "secrets"
    cf = home / ".cloudfiles" / "secrets"
    cv.mkdir(parents=True)
    cf.mkdir(parents=True)
    files = {
        cv / "aws-secret.json": {"AWS_ACCESS_KEY_ID": "cv-generic", "AWS_SECRET_ACCESS_KEY": "s"},
        cf / "bkt-aws-secret.json": {"AWS_ACCESS_KEY_ID": "cf-bucket", "AWS_SECRET_ACCESS_KEY": "s"},
        cf / "matrix-secret.json": {"AWS_ACCESS_KEY_ID": "matrix", "AWS_SECRET_ACCESS_KEY": "s"},
        cv / "cave-secret.json": {"token": "generic-token"},
        cf / "cave.example-cave-secret.json": {"token": "server-token"},
        cf / "http-secret.json": {"user": "u", "password": "p"},
    }
    for path, data in files.items():
        path.write_text(json.dumps(data))
        os.chmod(path, 0o600)


def _evaluate(python: str, cases: list[str], cwd, home, sys_path: list[str]) -> list[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUD_FILES", "CLOUD_VOLUME", "CLOUDFILES", "AWS_", "GOOGLE_"))}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID="env-key", AWS_SECRET_ACCESS_KEY="env-secret",
               AWS_SESSION_TOKEN="env-token", AWS_DEFAULT_REGION="us-east-1")
    proc = subprocess.run([python, "-I", "-c", EVAL, json.dumps(sys_path)], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=300, cwd=str(cwd), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # the reference prints warnings to stdout


def _same(ref: str, ours: str) -> bool:
    """Equal reprs; for errors, ours may be a subclass of the reference's class (caught the same way)."""
    if ref.startswith("error:") and ours.startswith("error:"):
        return ref[6:].split(",")[0] in ours[6:].split(",")
    return ref == ours


@pytest.mark.parametrize("group, cases", [("paths", PATH_CASES), ("lib", LIB_CASES), ("secrets", SECRETS_CASES)])
def test_same_results_as_reference(tmp_path, group, cases):
    home, cwd = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    _secrets_home(home)
    ref = _evaluate(_reference_python(), cases, cwd, home, [])
    ours = _evaluate(sys.executable, cases, cwd, home, [REPO])
    differ = [f"{expr}\n    reference: {r}\n    ours:      {o}" for expr, r, o in zip(cases, ref, ours) if not _same(r, o)]
    assert not differ, f"{len(differ)} of {len(cases)} {group} cases differ:\n" + "\n".join(differ)


# ------------------------------------------------------ deliberate differences

def test_normalize_is_canonical(tmp_path, monkeypatch):
    """Where the reference returns the input as typed, normalize gives the canonical form (docs/migrating.md)."""
    from cloudfiles import paths

    monkeypatch.chdir(tmp_path)
    assert paths.normalize("file://rel") == f"file://{tmp_path}/rel"
    assert paths.normalize("gs://bkt") == "gs://bkt/"
    assert paths.normalize("matrix://b/x") == "s3://https://s3-hpcrc.rc.princeton.edu/b/x"
    assert paths.normalize("zarr2://matrix://b/x") == "zarr2://s3://https://s3-hpcrc.rc.princeton.edu/b/x"


def test_extract_errors_are_typed():
    from cloudfiles import exceptions, paths

    for bad in ("", "dataset/layer", "ftp://x/y", "gs://///", None):
        with pytest.raises(exceptions.UnsupportedProtocolError) as info:
            paths.extract(bad)
        assert "PROTOCOL://PATH" in str(info.value) and "\033[" not in str(info.value)
        assert isinstance(info.value, ValueError)


def test_middleauth_round_trips():
    from cloudfiles import paths

    ep = paths.extract("middleauth+https://example.com/wow/cool/")
    assert paths.ascloudpath(ep) == "precomputed://middleauth+https://example.com/wow/cool/"
    assert paths.extract(paths.ascloudpath(ep)) == ep


def test_aliases_may_target_any_base_protocol(tmp_path):
    """The reference suite's add_persistent_alias('example', 'mem://example/') works and persists."""
    from cloudfiles import CloudFiles, paths

    paths.add_persistent_alias("example", "mem://example/")
    CloudFiles("example://hello").put("world", b"earth")
    assert CloudFiles("mem://example/hello").get("world") == b"earth"
    assert "example" in paths.ALLOWED_PROTOCOLS
    with open(paths.alias_file()) as f:
        assert json.load(f)["example"] == {"host": "mem://example/"}
    paths.remove_persistent_alias("example")
    assert "example" not in paths.ALLOWED_PROTOCOLS and "example" not in paths.ALIASES
    with pytest.raises(ValueError, match="data format"):
        paths.add_alias("zarr", "gs://b/")


# ------------------------------------------------------------ own behaviour

def test_format_prefixed_paths_use_the_storage_path(tmp_path):
    from cloudfiles import CloudFiles, paths

    for url in (f"precomputed://file://{tmp_path}/vol", f"zarr3://{tmp_path}/vol",
                f"file://{tmp_path}/vol|neuroglancer-precomputed:", f"{tmp_path}/vol|zarr2:"):
        cf = CloudFiles(url)
        cf.put("info", b"{}")
        assert (tmp_path / "vol" / "info").read_bytes() == b"{}", url
        assert cf.get("info") == b"{}"
    cp = paths.parse("zarr3://mem://b/arr")
    assert (cp.format, cp.protocol, cp.bucket, cp.path) == ("zarr3", "mem", "b", "arr")
    with pytest.raises(paths.CloudPathError, match="no storage path"):
        paths.parse("zarr3://")


def test_windows_drive_paths_are_local_files(tmp_path, monkeypatch):
    """On POSIX the reference treats C:\\x and C:/x as relative local paths; so do we."""
    from cloudfiles import paths

    monkeypatch.chdir(tmp_path)
    assert paths.parse("C:/data/x") == paths.CloudPath("file", "", f"{tmp_path}/C:/data/x")
    assert paths.parse("file://C:\\data\\x").path == f"{tmp_path}/C:\\data\\x"


def test_cloud_files_dir_moves_aliases(tmp_path, monkeypatch):
    from cloudfiles import paths

    monkeypatch.setenv("CLOUD_FILES_DIR", str(tmp_path / "cfdir"))
    paths.add_persistent_alias("labx", "s3://https://lab.example/")
    assert json.loads((tmp_path / "cfdir" / "aliases.json").read_text()) == {"labx": {"host": "s3://https://lab.example/"}}
    paths._reset_aliases_for_tests()
    assert paths.extract("labx://b/k").host == "https://lab.example"


def test_cloud_volume_dir_moves_secrets(tmp_path, monkeypatch):
    from cloudfiles import secrets

    d = tmp_path / "cv" / "secrets"
    d.mkdir(parents=True)
    (d / "aws-secret.json").write_text('{"AWS_ACCESS_KEY_ID": "moved", "AWS_SECRET_ACCESS_KEY": "s"}')
    os.chmod(d / "aws-secret.json", 0o600)
    monkeypatch.setenv("CLOUD_VOLUME_DIR", str(tmp_path / "cv"))
    assert secrets.find_secret_file("aws-secret.json") == str(d / "aws-secret.json")
    assert secrets.aws_credentials("fresh-bucket-for-this-test")["AWS_ACCESS_KEY_ID"] == "moved"


def test_exposed_secrets_file_warns_once(tmp_path, caplog):
    from cloudfiles import secrets

    exposed, private = tmp_path / "exposed.json", tmp_path / "private.json"
    for p, mode in ((exposed, 0o644), (private, 0o600)):
        p.write_text('{"token": "t"}')
        os.chmod(p, mode)
    with caplog.at_level(logging.WARNING, logger="cloudfiles.secrets"):
        assert secrets.load_json_secret(str(private)) == {"token": "t"}
        assert caplog.records == []
        secrets.load_json_secret(str(exposed))
        secrets.load_json_secret(str(exposed))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert str(exposed) in lines[0] and "644" in lines[0] and "chmod 600" in lines[0]


class _HeaderRecorder(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server API
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        body = b"cave data"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def header_server():
    _HeaderRecorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeaderRecorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_middleauth_sends_the_cave_token(header_server, tmp_path, monkeypatch):
    """``middleauth+https`` sends ``secrets={'token': ...}`` (else the cave-secret file) as a Bearer token.

    The server speaks plain HTTP, so the https origin is mapped to it through
    the backend's own origin, keeping the request real.
    """
    from cloudfiles import CloudFiles, secrets
    from cloudfiles.backends import http as http_backend

    cf = CloudFiles(f"middleauth+https://{header_server}/seg", secrets={"token": "tok-123"})
    assert cf.protocol == "middleauth+https"
    assert cf.backend._headers["Authorization"] == "Bearer tok-123"
    # send it for real: point the backend at the plain-HTTP test server
    cf.backend.origin = f"http://{header_server}"
    cf.backend.base_url = f"http://{header_server}/seg/"
    cf.backend._pm = http_backend.pool_manager(("http", cf.backend.origin))
    assert cf.get("info") == b"cave data"
    assert ("/seg/info", "Bearer tok-123") in _HeaderRecorder.seen

    sdir = tmp_path / "home" / ".cloudvolume" / "secrets"
    sdir.mkdir(parents=True)
    (sdir / f"{header_server}-cave-secret.json").write_text('{"token": "from-file"}')
    os.chmod(sdir / f"{header_server}-cave-secret.json", 0o600)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    secrets.CAVE_CREDENTIALS.clear()
    assert CloudFiles(f"middleauth+https://{header_server}/seg").backend._headers["Authorization"] == "Bearer from-file"
    with pytest.raises(ValueError, match="token"):
        CloudFiles(f"middleauth+https://{header_server}/seg", secrets={"user": "u", "password": "p"})


def test_clear_memory_and_interfaces_names():
    import cloudfiles
    from cloudfiles import CloudFiles, interfaces

    CloudFiles("mem://clearme/x").put("k", b"v")
    cloudfiles.clear_memory()
    assert CloudFiles("mem://clearme/x").get("k") is None
    assert interfaces.COMPRESSION_EXTENSIONS == (".gz", ".br", ".zstd", ".bz2", ".xz")
    assert cloudfiles.ResumableTransfer is cloudfiles.resumable_tools.ResumableTransfer
