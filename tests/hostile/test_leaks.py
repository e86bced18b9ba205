"""Passwords in URLs never shown; builtin errors from deep inside become cloudfiles errors."""
from __future__ import annotations

import http.server
import io
import subprocess
import sys
import threading

import pytest

from cloudfiles import CloudFiles
from cloudfiles.exceptions import (BadRangeError, CloudFilesError, CloudPathError, InvalidInputError,
                                   UnsafeKeyError)
from cloudfiles.redact import redact

pytestmark = pytest.mark.timeout(60)


# -- every backend ---------------------------------------------------------------
def test_nul_key_refused_everywhere(store):
    cf = store.cf()
    for op in (lambda: cf.get("a\0b"), lambda: cf.exists("a\0b"), lambda: cf.head("a\0b"),
               lambda: store.writer().put("a\0b", b"x"), lambda: cf.delete("a\0b")):
        with pytest.raises(UnsafeKeyError) as info:
            op()
        assert isinstance(info.value, ValueError) and "NUL" in str(info.value)


def test_huge_range_refused_everywhere(store):
    store.writer().put("k", b"hello")
    cf = store.cf()
    for req in ({"path": "k", "start": 2**63, "end": 2**63 + 5}, {"path": "k", "start": -2**63},
                {"path": "k", "start": 0, "end": 2**64}):
        with pytest.raises(BadRangeError):
            cf.get(req)
    [res] = cf.get([{"path": "k", "start": 2**63, "end": 2**63 + 1}])
    assert isinstance(res["error"], BadRangeError)


def test_deep_key_is_never_a_recursion_error(store):
    key = "a/" * 2000 + "x"
    w = store.writer()
    for op in (lambda: w.put(key, b"x"), lambda: store.cf().get(key), lambda: store.cf().exists(key)):
        try:
            op()
        except CloudFilesError:
            pass  # refused clearly (file://) or by the service; never RecursionError


def test_text_mode_file_object_refused(store, tmp_path):
    w = store.writer()
    text = tmp_path / "t.txt"
    text.write_text("hello")
    with open(text) as f:  # text mode
        for op in (lambda: w.put("k", f), lambda: w.puts([("k", f)]), lambda: w.put("k", io.StringIO("x"))):
            with pytest.raises(InvalidInputError, match="text-mode file object"):
                op()
    with pytest.raises(InvalidInputError, match="takes bytes, not str"):
        w.open("k", "wb").write("text")


# -- endpoints ------------------------------------------------------------------------
@pytest.mark.parametrize("path,kwargs", [
    ("s3://http://127.0.0.1:abc/bucket/", {}),
    ("https://host:99999999/x/", {}),
    ("http://bob:PW@host:/x/", {}),
    ("s3://bucket/", {"endpoint": "http://127.0.0.1:xx"}),
])
def test_bad_port_names_the_cloudpath(path, kwargs):
    with pytest.raises(CloudPathError) as info:
        CloudFiles(path, **kwargs)
    msg = str(info.value)
    assert "port" in msg and "PW" not in msg
    assert (kwargs.get("endpoint") or path).replace("bob:PW", "bob:***")[:20] in msg


# -- redaction --------------------------------------------------------------------------
def test_redact_rule():
    assert redact("GET https://bob:PW@h:9/k and 's3://http://u:p%40w@h/b'") == \
        "GET https://bob:***@h:9/k and 's3://http://u:***@h/b'"
    assert redact("https://token@host/x") == "https://token@host/x"  # no password to hide
    assert redact(None) is None


class _Forbidden(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *a):
        pass


@pytest.fixture
def failing_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Forbidden)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://bob:SECRETPW@127.0.0.1:{srv.server_address[1]}/d/"
    srv.shutdown()


def test_password_redacted_in_repr_errors_progress(failing_server, capsys):
    from cloudfiles import retry

    cf = CloudFiles(failing_server, retry_policy=retry.RetryPolicy(attempts=1))
    assert "SECRETPW" not in repr(cf) and "bob:***@" in repr(cf)
    with pytest.raises(CloudFilesError) as info:
        cf.get("k")
    assert "SECRETPW" not in str(info.value) and "***" in str(info.value)
    results = cf.get(["a", "b"])
    assert all(r["error"] is not None and "SECRETPW" not in str(r["error"]) for r in results)
    from cloudfiles.scheduler import schedule

    assert list(schedule(str, [1, 2], progress=failing_server)) == ["1", "2"]  # a label holding the URL
    err = capsys.readouterr().err
    assert "SECRETPW" not in err and "bob:***@" in err


def test_password_redacted_in_cli_errors(failing_server):
    proc = subprocess.run([sys.executable, "-m", "cloudfiles_cli.main", "cat", failing_server + "k"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "SECRETPW" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


class _Unavailable(_Forbidden):
    def do_GET(self):
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET


def test_password_redacted_in_retry_log_lines(caplog):
    from cloudfiles import retry

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://bob:SECRETPW@127.0.0.1:{srv.server_address[1]}/d/"
        policy = retry.RetryPolicy(attempts=3, initial_window=0.01, max_window=0.02)
        with caplog.at_level("WARNING", logger="cloudfiles"):
            with pytest.raises(CloudFilesError):
                CloudFiles(url, retry_policy=policy).get("k")
    finally:
        srv.shutdown()
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2, retries
    assert all("SECRETPW" not in m for m in retries)
