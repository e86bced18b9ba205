"""A small static HTTP server for tests, used when nginx is not installed.

It serves a directory the way the nginx config in ``tests/stores/http.py``
does, so a ``file://`` tree reads the same over HTTP:

* ``GET/HEAD /name`` serves ``name``, else the first of ``name.gz .br .zstd
  .xz .bz2`` with the matching ``Content-Encoding`` (the stored bytes, never
  decoded); a direct request for ``name.gz`` gets no Content-Encoding.
* Single byte ranges on the stored bytes: ``bytes=a-b``, ``bytes=a-``,
  ``bytes=-n`` (206 with Content-Range); a range starting past the end is
  416 with ``Content-Range: bytes */SIZE``; malformed or multi-range
  headers are ignored (200), as RFC 9110 allows.
* ``/dir/`` is an HTML index page (``http.server`` style); ``/dir`` redirects.

Run: ``python -m tests.rangeserver ROOT [--port N]``; prints ``PORT`` on the
first stdout line once listening (``--port 0`` picks a free port).
"""
from __future__ import annotations

import argparse
import email.utils
import os
import re
import shutil
import sys
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

SUFFIXES = [(".gz", "gzip"), (".br", "br"), (".zstd", "zstd"), (".xz", "xz"), (".bz2", "bzip2")]
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus ranges and pre-compressed variants."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the pools expect
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle
    # plus the client's delayed ACK stalls every keep-alive response ~40 ms.
    disable_nagle_algorithm = True
    server_version = "cloudfiles-rangeserver"

    def log_message(self, format: str, *args) -> None:  # quiet
        pass

    def send_head(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path) or self.path.split("?", 1)[0].endswith("/"):
            return super().send_head()  # index page, redirect or 404
        encoding = None
        if not os.path.isfile(path):
            for suffix, enc in SUFFIXES:
                if os.path.isfile(path + suffix):
                    path, encoding = path + suffix, enc
                    break
            else:
                self.send_error(HTTPStatus.NOT_FOUND, "File not found")
                return None
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            st = os.fstat(f.fileno())
            size = st.st_size
            first, last = 0, size - 1
            status = HTTPStatus.OK
            header = self.headers.get("Range")
            m = _RANGE.match(header.strip()) if header else None
            if m and (m.group(1) or m.group(2)):
                a, b = m.group(1), m.group(2)
                if a == "":  # suffix: the last N bytes
                    n = int(b)
                    if n == 0 or size == 0:
                        return self._unsatisfiable(f, size)
                    first = max(0, size - n)
                else:
                    first = int(a)
                    if first >= size:
                        return self._unsatisfiable(f, size)
                    if b != "":
                        if int(b) < first:
                            first, last = 0, size - 1  # invalid: ignore the header
                        else:
                            last = min(int(b), size - 1)
                            status = HTTPStatus.PARTIAL_CONTENT
                    else:
                        status = HTTPStatus.PARTIAL_CONTENT
                if a == "":
                    status = HTTPStatus.PARTIAL_CONTENT
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            self.send_header("ETag", f'"{int(st.st_mtime):x}-{size:x}"')
            length = max(0, last - first + 1)
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            f.seek(first)
            return _Limited(f, length)
        except BaseException:
            f.close()
            raise

    def _unsatisfiable(self, f, size: int):
        f.close()
        self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
        self.send_header("Content-Range", f"bytes */{size}")
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def copyfile(self, source, outputfile) -> None:
        shutil.copyfileobj(source, outputfile, 256 * 1024)


class _Limited:
    """A file object that yields at most ``n`` bytes from its current position."""

    def __init__(self, f, n: int):
        self.f, self.left = f, n

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        want = self.left if size is None or size < 0 else min(size, self.left)
        data = self.f.read(want)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.f.close()


def make_server(root: str, port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A threading server for ``root`` on ``host:port`` (not yet serving)."""

    class Handler(RangeHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    server = make_server(os.path.abspath(args.root), args.port)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
