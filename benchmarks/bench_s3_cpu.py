"""Client CPU per small S3 request: cloudfiles vs the reference cloud-files vs obstore.

One moto S3 server runs in its own process; each client runs in a fresh
subprocess and measures ``time.process_time()`` (all of its threads) around
just its request loop: N puts of 1 KiB objects, then N gets of them, over T
threads. Server CPU is not counted. Usage::

    python benchmarks/bench_s3_cpu.py [--requests 2000] [--threads 20] [--size 1024] [--repeat 1]
        [--clients cloudfiles,cf-green,reference,obstore]

The reference library runs under the python ``common.ensure_reference_python()``
finds (``$CLOUDFILES_REF_PYTHON``, else ``$CLOUDFILES_REF_VENV`` or
benchmarks/.venv-ref, created with ``pip install cloud-files`` when missing).
obstore must be installed in this interpreter. The moto server is
``common.start_moto()`` (keep-alive, as S3 is).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

REPO = common.REPO_ROOT
ACCESS, SECRET, REGION = (common.MOTO_SECRETS[k] for k in
                          ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"))

# Each client script gets: endpoint bucket prefix n threads size [repo]; prints a JSON line.
# Ours and the reference share one script (the same public API); only ours is
# given the repository root to put first on sys.path.
_CLOUDFILES_CLIENT = r'''
import json, sys, time
if len(sys.argv) > 8 and sys.argv[8] == "green":
    import gevent.monkey
    gevent.monkey.patch_all()
if len(sys.argv) > 7:
    sys.path.insert(0, sys.argv[7])
from cloudfiles import CloudFiles
endpoint, bucket, prefix, n, threads, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
secrets = {"AWS_ACCESS_KEY_ID": "%s", "AWS_SECRET_ACCESS_KEY": "%s", "AWS_DEFAULT_REGION": "%s"}
cf = CloudFiles(f"s3://{endpoint}/{bucket}/{prefix}", secrets=secrets, num_threads=threads,
                green=len(sys.argv) > 8 and sys.argv[8] == "green")
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
''' % (ACCESS, SECRET, REGION)

CLIENTS = {
    "cloudfiles": _CLOUDFILES_CLIENT,
    "cf-green": _CLOUDFILES_CLIENT,  # ours with green=True after gevent.monkey.patch_all()
    "reference": _CLOUDFILES_CLIENT,
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


def run_client(name: str, python: str, endpoint: str, bucket: str, n: int, threads: int, size: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=f"_{name}.py", delete=False) as f:
        f.write(CLIENTS[name])
        script = f.name
    try:
        # no PYTHON* variables: ours finds the checkout through argv, the others must not
        env = common.child_env(ours=False, base=dict(os.environ, AWS_EC2_METADATA_DISABLED="true"))
        argv = [python, script, endpoint, bucket, f"p-{uuid.uuid4().hex[:8]}", str(n), str(threads), str(size)]
        if name in ("cloudfiles", "cf-green"):
            argv.append(REPO)
        if name == "cf-green":
            argv.append("green")
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
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
    ap.add_argument("--clients", default="cloudfiles,reference,obstore",
                    help="comma-separated: cloudfiles, cf-green (ours on gevent), reference, obstore")
    args = ap.parse_args()

    pythons = {"cloudfiles": sys.executable, "cf-green": sys.executable, "obstore": sys.executable}
    names = args.clients.split(",")
    if "reference" in names:
        pythons["reference"] = common.ensure_reference_python()
    server = common.start_moto()
    endpoint = server.endpoint
    try:
        bucket = server.make_bucket()
        results = {}
        for name in names:
            runs = [run_client(name, pythons[name], endpoint, bucket, args.requests, args.threads, args.size)
                    for _ in range(args.repeat)]
            results[name] = {k: min(r[k] for r in runs) for k in runs[0]}
    finally:
        server.stop()

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
