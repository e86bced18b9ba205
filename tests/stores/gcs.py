"""gs:// store: the extended gcp-storage-emulator (tests/emulators/gcs_launcher.py).

Fixtures for any test module (registered through tests/conftest.py):

``gcs_server`` (session)
    One emulator subprocess on a free 127.0.0.1 port, started on first use and
    stopped at exit. Attributes and helpers:

    * ``endpoint``: ``http://127.0.0.1:PORT`` (use as ``STORAGE_EMULATOR_HOST``,
      or ``secrets={"endpoint": endpoint}``; child processes such as the CLI
      need ``STORAGE_EMULATOR_HOST`` in their environment).
    * ``create_bucket(name=None, **resource) -> name``: a new bucket (random name
      unless given); ``resource`` adds bucket fields, e.g.
      ``billing={"requesterPays": True}`` or ``labels={"cf-emulator-auth": "required"}``.
    * ``stats() -> dict``: the emulator's counters (requests by kind, tokens
      issued, userProject values seen).
    * ``configure(batch_status=503 | None, corrupt_downloads=N)``: test switches.
    * ``token_uri``: the emulator's OAuth2 token endpoint, for test service accounts.

``store_gcs``
    A :class:`tests.stores.base.Store` for ``gs://<fresh bucket>/prefix`` with
    ``STORAGE_EMULATOR_HOST`` pointed at the emulator for the test's duration.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from typing import Any, Optional

import pytest

from .base import Store

NAMES = ["gcs"]
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class GCSServer:
    """A running emulator subprocess."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.emulators.gcs_launcher", "--host", "127.0.0.1", "--port", "0"],
            cwd=_REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self._first_line(timeout=30)
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"gcs emulator did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.token_uri = f"{self.endpoint}/token"

    def _first_line(self, timeout: float) -> str:
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return box[0].strip() if box else ""

    def _call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def create_bucket(self, name: Optional[str] = None, **resource: Any) -> str:
        name = name or f"cf-test-{uuid.uuid4().hex[:12]}"
        self._call("POST", "/storage/v1/b?project=test", {"name": name, **resource})
        return name

    def stats(self) -> dict:
        return self._call("GET", "/_cf/stats")

    def configure(self, **settings: Any) -> dict:
        """Change the emulator's test switches (see tests/emulators/gcs_launcher.py)."""
        return self._call("POST", "/_cf/config", settings)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@pytest.fixture(scope="session")
def gcs_server():
    server = GCSServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store_gcs(gcs_server, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    bucket = gcs_server.create_bucket()
    return Store("gcs", f"gs://{bucket}/prefix")
