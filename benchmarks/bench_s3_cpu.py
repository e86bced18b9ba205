"""Client CPU per small S3 request: cloudfiles vs the reference cloud-files vs obstore.

One moto S3 server runs in its own process; each client runs in a fresh
subprocess and measures ``time.process_time()`` (all of its threads) around
just its request loop: N puts of 1 KiB objects, then N gets of them, over T
threads. Server CPU is not counted. Usage::

    python benchmarks/bench_s3_cpu.py [--requests 2000] [--threads 20] [--size 1024] [--repeat 1]

The reference library runs under ``$CLOUDFILES_REF_PYTHON`` if set, else
``benchmarks/.venv-ref/bin/python``, which is created (``pip install
cloud-files``) when missing. obstore must be installed in this interpreter.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ACCESS, SECRET, REGION = "benchkey", "benchsecret", "us-east-1"

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

# Each client script gets: endpoint bucket prefix n threads size; prints a JSON line.
CLIENTS = {
    "cloudfiles": r'''
import json, sys, time
sys.path.insert(0, sys.argv[7])
from cloudfiles import CloudFiles
endpoint, bucket, prefix, n, threads, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
secrets = {"AWS_ACCESS_KEY_ID": "%s", "AWS_SECRET_ACCESS_KEY": "%s", "AWS_DEFAULT_REGION": "%s"}
cf = CloudFiles(f"s3://{endpoint}/{bucket}/{prefix}", secrets=secrets, num_threads=threads)
data = b"x" * size
files = [(f"k{i}", data) for i in range(n)]
cf.put("warm", data); cf.get("warm")
t0, w0 = time.process_time(), time.perf_counter()
cf.puts(files, compress=None)
t1, w1 = time.process_time(), time.perf_counter()
res = cf.get([k for k, _ in files])
t2, w2 = time.process_time(), time.perf_counter()
assert all(r["error"] is None and r["content"] == data for r in res), "bad get"
print(json.dumps({"put_cpu": t1 - t0, "get_cpu": t2 - t1, "put_wall": w1 - w0, "get_wall": w2 - w1}))
''' % (ACCESS, SECRET, REGION),
    "reference": r'''
import json, sys, time
from cloudfiles import CloudFiles
endpoint, bucket, prefix, n, threads, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
secrets = {"AWS_ACCESS_KEY_ID": "%s", "AWS_SECRET_ACCESS_KEY": "%s", "AWS_DEFAULT_REGION": "%s"}
cf = CloudFiles(f"s3://{endpoint}/{bucket}/{prefix}", secrets=secrets, num_threads=threads)
data = b"x" * size
files = [(f"k{i}", data) for i in range(n)]
cf.put("warm", data, compress=None); cf.get("warm")
t0, w0 = time.process_time(), time.perf_counter()
cf.puts(files, compress=None)
t1, w1 = time.process_time(), time.perf_counter()
res = cf.get([k for k, _ in files])
t2, w2 = time.process_time(), time.perf_counter()
assert all(r["error"] is None and r["content"] == data for r in res), "bad get"
print(json.dumps({"put_cpu": t1 - t0, "get_cpu": t2 - t1, "put_wall": w1 - w0, "get_wall": w2 - w1}))
''' % (ACCESS, SECRET, REGION),
    "obstore": r'''
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
import obstore as obs
from obstore.store import S3Store
endpoint, bucket, prefix, n, threads, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
store = S3Store(bucket, endpoint=endpoint, access_key_id="%s", secret_access_key="%s", region="%s",
                client_options={"allow_http": True}, virtual_hosted_style_request=False)
data = b"x" * size
keys = [f"{prefix}/k{i}" for i in range(n)]
obs.put(store, "warm", data); obs.get(store, "warm").bytes()
with ThreadPoolExecutor(threads) as ex:
    t0, w0 = time.process_time(), time.perf_counter()
    list(ex.map(lambda k: obs.put(store, k, data), keys))
    t1, w1 = time.process_time(), time.perf_counter()
    got = list(ex.map(lambda k: bytes(obs.get(store, k).bytes()), keys))
    t2, w2 = time.process_time(), time.perf_counter()
assert all(g == data for g in got), "bad get"
print(json.dumps({"put_cpu": t1 - t0, "get_cpu": t2 - t1, "put_wall": w1 - w0, "get_wall": w2 - w1}))
''' % (ACCESS, SECRET, REGION),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", MOTO_SERVER, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=1).read()
            return proc, endpoint
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"moto server did not start on {endpoint}")
            time.sleep(0.05)


def make_bucket(endpoint: str, name: str) -> None:
    # moto (without auth) accepts an unsigned CreateBucket; avoids needing boto3 here.
    req = urllib.request.Request(f"{endpoint}/{name}", method="PUT", data=b"")
    urllib.request.urlopen(req, timeout=10).read()


def reference_python() -> str:
    override = os.environ.get("CLOUDFILES_REF_PYTHON")
    if override:
        return override
    venv = os.path.join(HERE, ".venv-ref")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        print(f"creating {venv} with cloud-files (set CLOUDFILES_REF_PYTHON to skip) ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "cloud-files"])
    return py


def run_client(name: str, python: str, endpoint: str, bucket: str, n: int, threads: int, size: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=f"_{name}.py", delete=False) as f:
        f.write(CLIENTS[name])
        script = f.name
    try:
        env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
        out = subprocess.run([python, script, endpoint, bucket, f"p-{uuid.uuid4().hex[:8]}", str(n), str(threads),
                              str(size), REPO], capture_output=True, text=True, env=env, timeout=900)
    finally:
        os.unlink(script)
    if out.returncode != 0:
        raise SystemExit(f"{name} client failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=20)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=1, help="runs per client; the best (least CPU) is kept")
    ap.add_argument("--clients", default="cloudfiles,reference,obstore")
    args = ap.parse_args()

    pythons = {"cloudfiles": sys.executable, "obstore": sys.executable}
    names = args.clients.split(",")
    if "reference" in names:
        pythons["reference"] = reference_python()
    proc, endpoint = start_moto()
    try:
        bucket = f"bench-{uuid.uuid4().hex[:10]}"
        make_bucket(endpoint, bucket)
        results = {}
        for name in names:
            runs = [run_client(name, pythons[name], endpoint, bucket, args.requests, args.threads, args.size)
                    for _ in range(args.repeat)]
            results[name] = {k: min(r[k] for r in runs) for k in runs[0]}
    finally:
        proc.terminate()
        proc.wait()

    n = args.requests
    print(f"\nclient CPU per request: {n} x {args.size} B puts then gets, {args.threads} threads, moto at {endpoint}\n")
    print(f"{'client':<12} {'put ms':>8} {'get ms':>8} {'put/ref':>8} {'get/ref':>8} {'put/obs':>8} {'get/obs':>8}"
          f" {'put req/s':>10} {'get req/s':>10}")
    for name, r in results.items():
        put_ms, get_ms = 1000 * r["put_cpu"] / n, 1000 * r["get_cpu"] / n
        def ratio(other: str, k: str) -> str:
            if other not in results:
                return "-"
            return f"{r[k] / results[other][k]:.2f}"
        print(f"{name:<12} {put_ms:8.3f} {get_ms:8.3f} {ratio('reference', 'put_cpu'):>8} "
              f"{ratio('reference', 'get_cpu'):>8} {ratio('obstore', 'put_cpu'):>8} {ratio('obstore', 'get_cpu'):>8}"
              f" {n / r['put_wall']:10.0f} {n / r['get_wall']:10.0f}")


if __name__ == "__main__":
    main()
