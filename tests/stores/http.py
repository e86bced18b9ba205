"""http:// stores: a real static web server over a temporary directory.

``http`` runs nginx when it is installed (``nginx -p DIR -c CONF -g 'daemon
off;'`` with a generated config) and otherwise ``tests/rangeserver.py``;
``http-python`` (only listed when nginx exists) always runs the Python
server, so both are covered. Both serve a ``file://`` tree the same way:
``name`` falls back to ``name.gz .br .zstd .xz .bz2`` with the matching
``Content-Encoding``, single byte ranges work on the stored bytes, and
directories (URLs ending in '/') are HTML index pages.

Fixtures other tests can reuse (session scoped, started once, stopped at exit):

* ``http_server`` -> :class:`HTTPServerInfo` (``root``: the served directory,
  ``url``: ``http://127.0.0.1:PORT``, ``kind``: "nginx" or "python").
  Write files under ``root / sub`` (e.g. with ``CloudFiles("file://...")``)
  and read them at ``f"{url}/{sub}/"``.
* ``http_python_server``: the same, always the Python server.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from cloudfiles import CloudFiles

from .base import Store

HAVE_NGINX = shutil.which("nginx") is not None
NAMES = ["http", "http-python"] if HAVE_NGINX else ["http"]
_REPO = Path(__file__).resolve().parents[2]


@dataclass
class HTTPServerInfo:
    """A running test web server: what it serves and where."""

    root: Path
    url: str
    kind: str

    def fresh(self) -> tuple[Path, str]:
        """A new empty directory under the root and its URL (ending in '/')."""
        sub = uuid.uuid4().hex[:12]
        (self.root / sub).mkdir()
        return self.root / sub, f"{self.url}/{sub}/"


_NGINX_CONF = """\
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    default_type application/octet-stream;
    types {{ }}
    sendfile on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    # Content-Encoding only when try_files fell back from NAME to NAME.SUFFIX.
    map "$cf_orig|$uri" $cf_encoding {{
        default "";
        "~^(.*)\\|\\1\\.gz$" gzip;
        "~^(.*)\\|\\1\\.br$" br;
        "~^(.*)\\|\\1\\.zstd$" zstd;
        "~^(.*)\\|\\1\\.xz$" xz;
        "~^(.*)\\|\\1\\.bz2$" bzip2;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location ~ /$ {{ autoindex on; }}
        location / {{
            set $cf_orig $uri;
            add_header Content-Encoding $cf_encoding;
            try_files $uri $uri.gz $uri.br $uri.zstd $uri.xz $uri.bz2 =404;
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = log.read_text() if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}: {detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on port {port}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _start_nginx(root: Path, workdir: Path) -> tuple[subprocess.Popen, int]:
    for _ in range(5):
        port = _free_port()
        conf = workdir / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(_NGINX_CONF.format(user=user, dir=workdir, port=port, root=root))
        log = workdir / "error.log"
        proc = subprocess.Popen(
            ["nginx", "-p", str(workdir), "-c", str(conf), "-e", str(log), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            _wait_listening(port, proc, "nginx", log)
            return proc, port
        except RuntimeError:
            _stop(proc)
            if "Address already in use" not in (log.read_text() if log.exists() else ""):
                raise
    raise RuntimeError("nginx: no free port after 5 attempts")


def _start_python(root: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.rangeserver", str(root), "--port", "0"],
        cwd=str(_REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        _stop(proc)
        raise RuntimeError(f"tests.rangeserver failed to start: {line} {proc.stderr.read()}")
    port = int(line)
    _wait_listening(port, proc, "tests.rangeserver")
    return proc, port


@pytest.fixture(scope="session")
def http_python_server(tmp_path_factory) -> Iterator[HTTPServerInfo]:
    root = tmp_path_factory.mktemp("http-python-root")
    proc, port = _start_python(root)
    try:
        yield HTTPServerInfo(root, f"http://127.0.0.1:{port}", "python")
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def http_server(request, tmp_path_factory) -> Iterator[HTTPServerInfo]:
    if not HAVE_NGINX:
        yield request.getfixturevalue("http_python_server")
        return
    root = tmp_path_factory.mktemp("http-root")
    workdir = tmp_path_factory.mktemp("nginx")
    proc, port = _start_nginx(root, workdir)
    try:
        yield HTTPServerInfo(root, f"http://127.0.0.1:{port}", "nginx")
    finally:
        _stop(proc)


def _store(name: str, server: HTTPServerInfo) -> Store:
    directory, url = server.fresh()
    return Store(
        name, url, writable=False, keeps_metadata=False,
        writer_factory=lambda: CloudFiles("file://" + str(directory)),
        extra={"server": server, "directory": directory},
    )


@pytest.fixture
def store_http(http_server) -> Store:
    return _store("http", http_server)


@pytest.fixture(name="store_http-python")
def store_http_python(http_python_server) -> Store:
    return _store("http-python", http_python_server)
