"""Helpers shared by the benchmark scripts.

Both this library and the reference ``cloud-files`` release install a module
named ``cloudfiles``, so they cannot be imported into one interpreter. Every
benchmark therefore runs its workload in subprocesses: ours under
``sys.executable`` with the repository root put first on ``sys.path``, the
reference under a python from its own virtual environment. This module finds
or creates that environment, runs a snippet in a chosen interpreter and
collects the JSON it reports, and prints plain-text tables. It also holds the
pieces the scripts share around that: a free local port, waiting for a local
server, a keep-alive moto S3 server, the reference CLI executable, and running
a command while measuring its wall time, CPU time and peak memory.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
DEFAULT_REF_VENV = os.path.join(BENCH_DIR, ".venv-ref")
REF_PACKAGE = "cloud-files"
RESULT_MARK = "@@BENCH-RESULT@@"

# Prepended to every snippet: it fixes sys.path (the interpreter runs with -I,
# so neither the cwd nor PYTHONPATH leak in), reads the parameters from stdin,
# and gives the snippet ``emit(obj)`` to report its JSON result.
_PRELUDE = """\
import json as _bench_json, sys as _bench_sys
_bench_sys.path[:0] = {sys_path!r}
PARAMS = _bench_json.loads(_bench_sys.stdin.read() or "{{}}")
def emit(obj):
    _bench_sys.stdout.write("\\n{mark} " + _bench_json.dumps(obj) + "\\n")
    _bench_sys.stdout.flush()
"""


class BenchmarkError(RuntimeError):
    """A benchmark could not run: missing interpreter, failed worker, bad output."""


@dataclass
class Interpreter:
    """A python to run a workload in, and what to put first on its sys.path."""

    label: str
    python: str
    sys_path: list[str] = field(default_factory=list)
    dist: str = "cloudfiles"  # the distribution whose version is reported


def ours() -> Interpreter:
    """This checkout's library under the current interpreter."""
    return Interpreter("ours", sys.executable, [REPO_ROOT], "cloudfiles")


def reference(python: Optional[str] = None) -> Interpreter:
    """The reference ``cloud-files`` under its own virtual environment's python."""
    return Interpreter("reference", python or ensure_reference_python(), [], REF_PACKAGE)


def ensure_reference_python(venv_dir: Optional[str] = None, package: str = REF_PACKAGE) -> str:
    """Return a python that imports the reference ``cloud-files`` as ``cloudfiles``.

    Uses ``$CLOUDFILES_REF_PYTHON`` when set; otherwise ``<venv_dir>/bin/python``
    (``venv_dir`` defaults to ``$CLOUDFILES_REF_VENV``, else benchmarks/.venv-ref),
    creating the venv and pip-installing ``package`` (``$CLOUDFILES_REF_VERSION``
    pins a version) the first time. The reference needs a venv of its own
    because both libraries are imported as ``cloudfiles``.
    """
    env_python = os.environ.get("CLOUDFILES_REF_PYTHON")
    if env_python:
        if not (os.path.isfile(env_python) and os.access(env_python, os.X_OK)):
            raise BenchmarkError(f"CLOUDFILES_REF_PYTHON={env_python!r} is not an executable file")
        return env_python
    venv_dir = venv_dir or os.environ.get("CLOUDFILES_REF_VENV") or DEFAULT_REF_VENV
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = os.path.join(venv_dir, bindir, "python.exe" if os.name == "nt" else "python")
    if os.path.isfile(python) and _imports_reference(python):
        return python
    spec = package
    pinned = os.environ.get("CLOUDFILES_REF_VERSION")
    if pinned:
        spec = f"{package}=={pinned}"
    print(f"creating reference venv {venv_dir} with {spec} ...", file=sys.stderr)
    try:
        if not os.path.isfile(python):
            subprocess.run([sys.executable, "-m", "venv", venv_dir], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", spec], check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise BenchmarkError(f"could not create the reference venv at {venv_dir}: {err}") from err
    if not _imports_reference(python):
        raise BenchmarkError(f"{python} still cannot import the reference {package}")
    return python


def _imports_reference(python: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-I", "-c", f"import cloudfiles, importlib.metadata as m; print(m.version({REF_PACKAGE!r}))"],
            capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def reference_cli() -> str:
    """The reference's ``cloudfiles`` command-line executable.

    It is the one installed next to the python ``ensure_reference_python()``
    returns (so ``$CLOUDFILES_REF_PYTHON`` / ``$CLOUDFILES_REF_VENV`` select it
    too); the venv is created first if needed.
    """
    python = ensure_reference_python()
    exe = os.path.join(os.path.dirname(python), "cloudfiles.exe" if os.name == "nt" else "cloudfiles")
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise BenchmarkError(f"the reference python {python} has no `cloudfiles` executable next to it ({exe})")
    return exe


def library_info_snippet() -> str:
    """Code that, run in an interpreter, describes the ``cloudfiles`` it imports."""
    return (
        "import cloudfiles, importlib.metadata as _m, platform as _p\n"
        "def _v(n):\n"
        "    try:\n"
        "        return _m.version(n)\n"
        "    except _m.PackageNotFoundError:\n"
        "        return None\n"
        "emit({'module_file': cloudfiles.__file__, 'version': _v(PARAMS['dist']),"
        " 'python': _p.python_version()})\n"
    )


def library_info(interp: Interpreter) -> dict:
    """Which ``cloudfiles`` the interpreter imports: module file, version, python version.

    Raises BenchmarkError if "ours" would import something other than this
    checkout, or the reference would import this checkout: either would make
    a comparison meaningless.
    """
    info = run_snippet(interp, library_info_snippet(), {"dist": interp.dist}, timeout=120)
    # The reference venv may live inside the checkout (benchmarks/.venv-ref), so
    # compare the package directory itself, not a path prefix.
    in_repo = os.path.dirname(os.path.abspath(info["module_file"])) == os.path.join(REPO_ROOT, "cloudfiles")
    if interp.label == "ours" and not in_repo:
        raise BenchmarkError(f"ours imported {info['module_file']}, not this checkout {REPO_ROOT}")
    if interp.label != "ours" and in_repo:
        raise BenchmarkError(f"the reference python {interp.python} imported this checkout's cloudfiles")
    return info


def run_snippet(interp: Interpreter, code: str, params: Optional[dict] = None,
                timeout: float = 600, cwd: Optional[str] = None) -> Any:
    """Run ``code`` in ``interp`` and return the JSON object it ``emit()``-ed.

    ``params`` reaches the snippet as the dict ``PARAMS`` (sent as JSON on
    stdin). The interpreter runs isolated (``-I``) from a neutral working
    directory so the only ``cloudfiles`` it can see is the intended one.
    Anything else the snippet prints passes through to our stderr.
    """
    prelude = _PRELUDE.format(sys_path=list(interp.sys_path), mark=RESULT_MARK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        proc = subprocess.run(
            [interp.python, "-I", "-c", prelude + code],
            input=json.dumps(params or {}), capture_output=True, text=True,
            timeout=timeout, cwd=cwd or tempfile.gettempdir(), env=env,
        )
    except subprocess.TimeoutExpired as err:
        raise BenchmarkError(f"{interp.label} worker timed out after {timeout:.0f}s") from err
    except OSError as err:
        raise BenchmarkError(f"cannot run {interp.python}: {err}") from err
    result = None
    passthrough = []
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
        elif line.strip():
            passthrough.append(line)
    if passthrough:
        print("\n".join(passthrough), file=sys.stderr)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
        raise BenchmarkError(f"{interp.label} worker ({interp.python}) exited {proc.returncode}:\n{tail}")
    if proc.stderr.strip():
        print(proc.stderr.rstrip(), file=sys.stderr)
    if result is None:
        raise BenchmarkError(f"{interp.label} worker printed no {RESULT_MARK} line")
    return result


def geomean(values: Iterable[float]) -> float:
    """Geometric mean of positive numbers (NaN if there are none)."""
    vals = list(values)
    if not vals:
        return float("nan")
    if any(v <= 0 for v in vals):
        raise ValueError(f"geometric mean needs positive values, got {vals}")
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def median(values: Sequence[float]) -> float:
    """Middle value (mean of the two middle ones for an even count)."""
    s = sorted(values)
    if not s:
        raise ValueError("median of no values")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Optional[Sequence[bool]] = None) -> str:
    """A plain-text table: numeric columns right-aligned, others left-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    if numeric is None:
        numeric = [all(_looks_numeric(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return " | ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric)).rstrip()

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def _looks_numeric(s: str) -> bool:
    try:
        float(s.replace(",", "").rstrip("x%"))
        return True
    except ValueError:
        return False


def machine_info() -> dict:
    """Where the numbers were measured."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
    }


def _git_commit() -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", REPO_ROOT, "status", "--porcelain", "--", "cloudfiles"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return out.stdout.strip() + ("+dirty(cloudfiles/)" if dirty else "")


# ---------------------------------------------------------------------------
# Local servers and measured subprocesses.


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for a server we start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: Optional[subprocess.Popen] = None, timeout: float = 60.0) -> None:
    """Block until something answers HTTP at ``url`` (any status counts).

    Raises BenchmarkError (killing ``proc``) if ``proc`` exits first or
    nothing answers within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # an error status is still an answer
        except OSError:
            exited = proc is not None and proc.poll() is not None
            if exited or time.monotonic() > deadline:
                if proc is not None:
                    proc.kill()
                    proc.wait()
                why = "exited" if exited else f"did not answer within {timeout:.0f}s"
                raise BenchmarkError(f"server for {url} {why}")
            time.sleep(0.05)


# moto's own ``python -m moto.server`` (werkzeug's dev server) closes the connection
# after every response; serving its WSGI app with gevent's server keeps connections
# alive, as S3 does, so the clients' connection reuse is exercised and measured
# (the same server tests/stores/s3.py runs).
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

# moto checks no signatures by default, so any keys work; both libraries need some.
MOTO_SECRETS = {"AWS_ACCESS_KEY_ID": "benchkey", "AWS_SECRET_ACCESS_KEY": "benchsecret",
                "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class MotoServer:
    """A moto S3 server in a subprocess of ours, at ``endpoint`` (``http://127.0.0.1:PORT``)."""

    endpoint: str
    process: subprocess.Popen = field(repr=False)
    secrets: dict = field(default_factory=lambda: dict(MOTO_SECRETS))

    def make_bucket(self, name: Optional[str] = None) -> str:
        """Create a bucket (a random ``bench-...`` name by default) and return its name."""
        name = name or f"bench-{uuid.uuid4().hex[:10]}"
        make_bucket(self.endpoint, name)
        return name

    def cloudpath(self, bucket: str, prefix: str = "") -> str:
        """``s3://http://127.0.0.1:PORT/BUCKET/PREFIX``: a cloudpath both libraries accept."""
        return f"s3://{self.endpoint}/{bucket}/{prefix}"

    def stop(self) -> None:
        """Terminate the server and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "MotoServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_moto(timeout: float = 60.0) -> MotoServer:
    """Start the keep-alive moto server (MOTO_SERVER) on a free port; return it once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", MOTO_SERVER, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(endpoint + "/moto-api/data.json", proc, timeout)
    return MotoServer(endpoint, proc)


def make_bucket(endpoint: str, name: str) -> None:
    """Create bucket ``name`` with an unsigned PUT (moto accepts it; no boto3 needed)."""
    req = urllib.request.Request(f"{endpoint}/{name}", method="PUT", data=b"")
    urllib.request.urlopen(req, timeout=30).read()


def child_env(ours: bool, base: Optional[dict] = None) -> dict:
    """Environment for a client process that must import exactly one of the two libraries.

    Drops every ``PYTHON*`` variable from ``base`` (default ``os.environ``);
    for ours, sets ``PYTHONPATH`` to this checkout. Run such processes from a
    neutral directory (``run_measured`` does): with ``python -c`` the working
    directory comes first on ``sys.path``, and from the repository root even
    the reference's python would import this checkout's ``cloudfiles``.
    """
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("PYTHON")}
    if ours:
        env["PYTHONPATH"] = REPO_ROOT
    return env


@dataclass
class Measured:
    """What one finished subprocess cost: wall seconds, CPU seconds (user + system), peak RSS."""

    wall: float
    cpu: float
    peak_rss_mib: float


def run_measured(argv: Sequence[str], env: Optional[dict] = None, timeout: float = 3600,
                 stdout: Any = subprocess.DEVNULL, cwd: Optional[str] = None) -> Measured:
    """Run ``argv`` to completion and measure that process alone (``wait4`` rusage).

    CPU and peak RSS are the child's own (plus any of its children it
    waited for), never the benchmark's or a server's. It runs in ``cwd``
    (default: the temp directory, so the checkout is not on its path by
    accident; see ``child_env``). stderr goes to a temporary file (no pipe to
    fill up) and its tail is in the BenchmarkError raised on a non-zero exit
    or a timeout.
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), env=env, stdout=stdout, stderr=err,
                                cwd=cwd or tempfile.gettempdir())
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-3000:]
            what = f"timed out after {timeout:.0f}s" if wall >= timeout else f"failed ({proc.returncode})"
            raise BenchmarkError(f"{' '.join(argv)} {what}:\n{tail}")
    rss_kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return Measured(wall, usage.ru_utime + usage.ru_stime, rss_kib / 1024)


def file_md5(path: str, block: int = 8 * 1024 * 1024) -> str:
    """md5 hex of a local file, read in blocks (benchmarks check every byte they moved)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while True:
            b = f.read(block)
            if not b:
                return h.hexdigest()
            h.update(b)
