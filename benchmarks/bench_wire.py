"""Client CPU per request of the HTTP wire layer alone (connection pool + framing + reader).

A minimal keep-alive HTTP/1.1 server (its own process, a fixed 1 KiB answer, no
per-request work to speak of) is read through ``CloudFiles("http://...").get``, so
what is measured is the client: facade, HTTP backend, :mod:`cloudfiles.connpool` and
:mod:`cloudfiles.http1`. Each client runs in a fresh subprocess and measures
``time.process_time()`` around its request loop. With ``--against PATH`` (another
checkout of cloudfiles) both are run, alternating, ``--rounds`` times; the least CPU
of each is kept, which is what survives the noise of a shared machine. Usage::

    python benchmarks/bench_wire.py [--requests 4000] [--threads 1,20] [--rounds 5] [--against PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

_SERVER = r'''
import socket, threading
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nContent-Type: application/octet-stream\r\n\r\n"
            + b"x" * 1024)
def serve(conn):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            buf = buf.partition(b"\r\n\r\n")[2]
            conn.sendall(RESPONSE)
    except OSError:
        pass
sock = socket.create_server(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
while True:
    conn, _ = sock.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''

_CLIENT = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
from cloudfiles import CloudFiles
port, n, threads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cf = CloudFiles(f"http://127.0.0.1:{port}/", num_threads=threads)
keys = [f"k{i}" for i in range(n)]
if threads == 1:
    for k in keys[:200]:
        cf.get(k)
    t0 = time.process_time()
    for k in keys:
        cf.get(k)
else:
    cf.get(keys[:200])
    t0 = time.process_time()
    assert all(r["error"] is None for r in cf.get(keys))
print(json.dumps({"cpu": time.process_time() - t0}))
'''


def _client(repo: str, port: int, n: int, threads: int) -> float:
    out = subprocess.run([sys.executable, "-c", _CLIENT, repo, str(port), str(n), str(threads)],
                         capture_output=True, text=True, timeout=600,
                         env=common.child_env(ours=False, base=dict(os.environ)))
    if out.returncode != 0:
        raise SystemExit(f"client ({repo}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["cpu"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--threads", default="1,20")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--against", help="another cloudfiles checkout to compare with")
    args = ap.parse_args()
    repos = {"this": common.REPO_ROOT}
    if args.against:
        repos["against"] = os.path.abspath(args.against)
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        best: dict = {}
        for threads in (int(t) for t in args.threads.split(",")):
            for _ in range(args.rounds):
                for name, repo in repos.items():
                    cpu = _client(repo, port, args.requests, threads)
                    key = (name, threads)
                    best[key] = min(best.get(key, cpu), cpu)
    finally:
        server.kill()
        server.wait()
    n = args.requests
    print(f"\nclient CPU per 1 KiB GET over keep-alive HTTP/1.1: {n} requests, best of {args.rounds}\n")
    print(f"{'checkout':<10} {'threads':>7} {'ms/req':>8}  path")
    for (name, threads), cpu in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][0] != "this")):
        print(f"{name:<10} {threads:7d} {1000 * cpu / n:8.4f}  {repos[name]}")


if __name__ == "__main__":
    main()
