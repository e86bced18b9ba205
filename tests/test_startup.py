"""``import cloudfiles`` stays light (issue 16): what a command needs is imported
when it needs it. Counted, not timed: the modules ``import cloudfiles`` adds to
a fresh interpreter (whatever the interpreter's own start-up loaded is not
counted, so the test holds wherever it runs)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each costs milliseconds to import and none is needed to build a CloudFiles.
HEAVY = [
    "botocore", "boto3", "tenacity", "click", "gevent", "urllib3", "google.auth", "requests", "tqdm",
    "zstandard", "brotli", "crc32c", "ssl", "http.client", "email", "xml.etree.ElementTree", "logging",
    "concurrent.futures", "json", "socket", "datetime", "queue", "tornado",
    "cloudfiles.streaming", "cloudfiles.transfer", "cloudfiles.backends.s3", "cloudfiles.backends.gcs",
    "cloudfiles.backends.http", "cloudfiles.connections", "cloudfiles_cli",
]
# Today 26; a little room, so that a new heavy dependency shows up here.
MAX_NEW_MODULES = 32

_PROBE = (
    "import json, sys\n"
    "before = set(sys.modules)\n"
    "import cloudfiles\n"
    "{extra}"
    "print(json.dumps(sorted(set(sys.modules) - before)))\n"
)


def new_modules(extra: str = "") -> list[str]:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _PROBE.format(extra=extra)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out)


def test_import_cloudfiles_loads_no_heavy_module():
    new = new_modules()
    heavy = [m for m in HEAVY if m in new]
    assert heavy == [], f"import cloudfiles imported {heavy}"
    assert len(new) <= MAX_NEW_MODULES, f"import cloudfiles added {len(new)} modules: {new}"


def test_a_local_cloudfiles_needs_no_network_stack(tmp_path):
    extra = (f"cf = cloudfiles.CloudFiles('file://{tmp_path}')\n"
             "cf.put('a', b'x'); assert cf.get('a') == b'x'; assert list(cf.list()) == ['a']\n")
    new = new_modules(extra)
    network = [m for m in ("urllib3", "ssl", "http.client", "botocore", "gevent", "cloudfiles.backends.s3")
               if m in new]
    assert network == [], f"a file:// job imported {network}"
