"""Large-object throughput and peak memory: this library vs the reference
cloud-files release vs obstore (and, over HTTP, curl and aria2c -x8: the
machine's best single- and multi-stream downloaders, Debian packages), on the
same data and servers in one run.

    python benchmarks/bench_large.py                  # 1 GiB via nginx and moto
    python benchmarks/bench_large.py --size-mib 256 --skip-s3
    python benchmarks/bench_large.py --rss-sizes 1024,4096   # RSS independent of size?

Each client runs in its own process (the reference lives in its own virtual
environment, see ``common.ensure_reference_python``: CLOUDFILES_REF_PYTHON,
else CLOUDFILES_REF_VENV or benchmarks/.venv-ref, created on demand); wall
time and the child's peak RSS (``common.run_measured``, from wait4) are
reported, with throughput in MB/s (10^6 bytes) and ratios against the
reference and obstore. HTTP is served by nginx, S3 by ``common.start_moto()``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

MiB = 1024 * 1024


def make_file(path: str, size: int) -> str:
    """Write ``size`` bytes of deterministic, incompressible data; return its md5."""
    md5 = hashlib.md5()
    block = b"".join(hashlib.sha512(str(i).encode()).digest() for i in range(16384))  # 1 MiB
    with open(path, "wb") as f:
        written = 0
        i = 0
        while written < size:
            chunk = block[: min(len(block), size - written)]
            if i:
                chunk = i.to_bytes(8, "little") + chunk[8:]
            f.write(chunk)
            md5.update(chunk)
            written += len(chunk)
            i += 1
    return md5.hexdigest()


class Nginx:
    def __init__(self, root: str):
        self.dir = tempfile.mkdtemp(prefix="bench-nginx-")
        self.port = common.free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(textwrap.dedent(f"""
                {"user root;" if os.geteuid() == 0 else ""}
                worker_processes 2;
                pid {self.dir}/nginx.pid;
                error_log {self.dir}/error.log;
                events {{ worker_connections 1024; }}
                http {{
                    access_log off;
                    sendfile on;
                    client_body_temp_path {self.dir}/body;
                    proxy_temp_path {self.dir}/proxy;
                    fastcgi_temp_path {self.dir}/fastcgi;
                    uwsgi_temp_path {self.dir}/uwsgi;
                    scgi_temp_path {self.dir}/scgi;
                    server {{
                        listen 127.0.0.1:{self.port};
                        root {root};
                        location / {{ autoindex on; }}
                    }}
                }}
            """))
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", conf, "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        common.wait_http(self.url + "/", self.proc, timeout=30)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# Client snippets: argv = [url_or_endpoint, ...]; each prints nothing on success.
OURS_HTTP = """
import sys
from cloudfiles import CloudFiles
CloudFiles(sys.argv[1]).download_file("big.bin", sys.argv[2])
"""
REF_HTTP = """
import sys, os
from cloudfiles import CloudFiles
CloudFiles(sys.argv[1]).transfer_to(CloudFiles("file://" + os.path.dirname(sys.argv[2])), ["big.bin"])
"""
OBSTORE_HTTP = """
import sys
import obstore
from obstore.store import HTTPStore
store = HTTPStore.from_url(sys.argv[1], client_options={"allow_http": True})
with open(sys.argv[2], "wb") as f:
    for chunk in obstore.get(store, "big.bin").stream(min_chunk_size=8 * 1024 * 1024):
        f.write(chunk)
"""
S3_SECRETS = common.MOTO_SECRETS
OURS_S3_UP = """
import sys, json
from cloudfiles import CloudFiles
cf = CloudFiles(f"s3://{sys.argv[1]}/{sys.argv[3]}/", secrets=json.loads(sys.argv[4]))
cf.upload_file(sys.argv[2], "big.bin")
"""
OURS_S3_DOWN = """
import sys, json
from cloudfiles import CloudFiles
cf = CloudFiles(f"s3://{sys.argv[1]}/{sys.argv[3]}/", secrets=json.loads(sys.argv[4]))
cf.download_file("big.bin", sys.argv[2])
"""
REF_S3_UP = """
import sys, json, os
from cloudfiles import CloudFiles
src = CloudFiles("file://" + os.path.dirname(sys.argv[2]))
dest = CloudFiles(f"s3://{sys.argv[1]}/{sys.argv[3]}/", secrets=json.loads(sys.argv[4]))
src.transfer_to(dest, [os.path.basename(sys.argv[2])])
"""
REF_S3_DOWN = """
import sys, json, os
from cloudfiles import CloudFiles
src = CloudFiles(f"s3://{sys.argv[1]}/{sys.argv[3]}/", secrets=json.loads(sys.argv[4]))
src.transfer_to(CloudFiles("file://" + os.path.dirname(sys.argv[2])), ["big.bin"])
"""
# obstore's S3 snippets start with the same store set-up from argv.
_OBSTORE_S3_STORE = """
import sys, json
import obstore
from obstore.store import S3Store
s = json.loads(sys.argv[4])
endpoint, bucket = sys.argv[1].rsplit("/", 1)
store = S3Store(bucket, endpoint=endpoint, access_key_id=s["AWS_ACCESS_KEY_ID"],
                secret_access_key=s["AWS_SECRET_ACCESS_KEY"], region="us-east-1", allow_http=True)
"""
OBSTORE_S3_UP = _OBSTORE_S3_STORE + """with open(sys.argv[2], "rb") as f:
    obstore.put(store, sys.argv[3] + "/big.bin", f, chunk_size=8 * 1024 * 1024, max_concurrency=8)
"""
OBSTORE_S3_DOWN = _OBSTORE_S3_STORE + """with open(sys.argv[2], "wb") as f:
    for chunk in obstore.get(store, sys.argv[3] + "/big.bin").stream(min_chunk_size=8 * 1024 * 1024):
        f.write(chunk)
"""


def run_client(python: str, code: str, args: list[str]) -> tuple[float, float]:
    """Run a client snippet; return (wall seconds, peak RSS MiB) of that process alone.

    Ours and obstore run under this interpreter with the checkout on PYTHONPATH;
    the reference under its own python without it, from a neutral directory.
    """
    env = common.child_env(ours=python == sys.executable)
    m = common.run_measured([python, "-c", code, *args], env=env, stdout=None)
    return m.wall, m.peak_rss_mib


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--s3-size-mib", type=int, default=None, help="object size for S3 (default: --size-mib)")
    ap.add_argument("--skip-s3", action="store_true")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--rss-sizes", default="", help="comma list of MiB sizes for the RSS-vs-size check (ours, HTTP)")
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--out-dir", default="/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
                    help="where downloads land (default /dev/shm, so the disk is not what is measured)")
    args = ap.parse_args()

    ref_py = common.ensure_reference_python()
    ours_py = sys.executable
    work = tempfile.mkdtemp(prefix="bench-large-")
    serve = os.path.join(work, "serve")
    out = tempfile.mkdtemp(prefix="bench-large-out-", dir=args.out_dir)
    os.makedirs(serve)
    size = args.size_mib * MiB
    rows = []

    def record(section, client, nbytes, wall, rss, ok):
        rows.append({"section": section, "client": client, "MB/s": nbytes / wall / 1e6, "wall_s": wall,
                     "peak_rss_mib": rss, "verified": ok})

    try:
        if not args.skip_http:
            if not shutil.which("nginx"):
                print("nginx not found: install it (apt-get install nginx) or pass --skip-http", file=sys.stderr)
                return 2
            digest = make_file(os.path.join(serve, "big.bin"), size)
            nginx = Nginx(serve)
            try:
                target = os.path.join(out, "big.bin")
                for client, py, code in (("cloudfiles", ours_py, OURS_HTTP), ("reference", ref_py, REF_HTTP),
                                         ("obstore", ours_py, OBSTORE_HTTP)):
                    wall, rss = run_client(py, code, [nginx.url + "/", target])
                    record(f"HTTP GET {args.size_mib} MiB", client, size, wall, rss, common.file_md5(target) == digest)
                    os.unlink(target)
                for tool, argv in (("curl", ["curl", "-sSf", "-o", target, nginx.url + "/big.bin"]),
                                   ("aria2c -x8", ["aria2c", "-q", "-x8", "-s8", "-k1M", "--allow-overwrite=true",
                                                   "--file-allocation=none", "-d", out, "-o", "big.bin",
                                                   nginx.url + "/big.bin"])):
                    if not shutil.which(argv[0]):
                        print(f"note: {argv[0]} is not installed; left out", file=sys.stderr)
                        continue
                    m = common.run_measured(argv)
                    record(f"HTTP GET {args.size_mib} MiB", tool, size, m.wall, m.peak_rss_mib,
                           common.file_md5(target) == digest)
                    os.unlink(target)
                for extra in [int(x) for x in args.rss_sizes.split(",") if x]:
                    make_file(os.path.join(serve, "big.bin"), extra * MiB)
                    wall, rss = run_client(ours_py, OURS_HTTP, [nginx.url + "/", target])
                    record(f"HTTP GET {extra} MiB (RSS check)", "cloudfiles", extra * MiB, wall, rss, True)
                    os.unlink(target)
            finally:
                nginx.stop()
            os.unlink(os.path.join(serve, "big.bin"))

        if not args.skip_s3:
            s3_size = (args.s3_size_mib or args.size_mib) * MiB
            src = os.path.join(work, "upload", "big.bin")
            os.makedirs(os.path.dirname(src))
            digest = make_file(src, s3_size)
            moto = common.start_moto()
            try:
                bucket = moto.make_bucket("bench")
                secrets = json.dumps(S3_SECRETS)
                mib = s3_size // MiB
                for client, py, up, down in (
                    ("cloudfiles", ours_py, OURS_S3_UP, OURS_S3_DOWN),
                    ("reference", ref_py, REF_S3_UP, REF_S3_DOWN),
                    ("obstore", ours_py, OBSTORE_S3_UP, OBSTORE_S3_DOWN),
                ):
                    prefix = f"run-{client}"
                    # every snippet gets "http://host:port/bucket"; ours and the reference
                    # build s3://http://host:port/bucket/prefix/ from it, obstore splits it.
                    a0 = f"{moto.endpoint}/{bucket}"
                    wall, rss = run_client(py, up, [a0, src, prefix, secrets])
                    record(f"S3 PUT {mib} MiB", client, s3_size, wall, rss, True)
                    target = os.path.join(out, "big.bin")
                    wall, rss = run_client(py, down, [a0, target, prefix, secrets])
                    record(f"S3 GET {mib} MiB", client, s3_size, wall, rss, common.file_md5(target) == digest)
                    os.unlink(target)
            finally:
                moto.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)

    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


def print_table(rows: list[dict]) -> None:
    by_section: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_section.setdefault(r["section"], {})[r["client"]] = r
    print(f"{'section':34} {'client':11} {'MB/s':>8} {'wall s':>8} {'peak RSS MiB':>13} {'verified':>9} "
          f"{'vs ref':>7} {'vs obstore':>10} {'of best tool':>13}")
    for section, clients in by_section.items():
        ref = clients.get("reference")
        obs = clients.get("obstore")
        tools = [r["MB/s"] for n, r in clients.items() if n in ("curl", "aria2c -x8")]
        best = max(tools) if tools else None
        for name, r in clients.items():
            vs_ref = f"{r['MB/s'] / ref['MB/s']:.2f}x" if ref else ""
            vs_obs = f"{r['MB/s'] / obs['MB/s']:.2f}x" if obs else ""
            vs_best = f"{r['MB/s'] / best:.2f}" if best else ""
            print(f"{section:34} {name:11} {r['MB/s']:8.1f} {r['wall_s']:8.2f} {r['peak_rss_mib']:13.0f} "
                  f"{str(r['verified']):>9} {vs_ref:>7} {vs_obs:>10} {vs_best:>13}")
    print("\n'of best tool': throughput as a fraction of the faster of curl and aria2c -x8 on the same "
          "nginx file (target for cloudfiles: >= 0.9)")


if __name__ == "__main__":
    sys.exit(main())
