"""fsspec clients on the local S3 server: cloudfiles.fsspec vs s3fs vs obstore's fsspec shim.

Same moto server, same data, same run. Three workloads a pandas / zarr user runs:

* ``pd.read_parquet`` of one ~200 MB parquet file,
* reading a zarr 3 array of 1,000 chunks through ``zarr.storage.FsspecStore``,
* ``fs.cat`` of 2,000 small files (one call with a list).

Each workload runs in a fresh subprocess per client; the table gives wall time
and client CPU (user + system of that process, every thread included) and the
ratios to s3fs. s3fs and obstore live in their own virtual environment
(benchmarks/.venv-peers, created on first use) because s3fs pins aiobotocore,
which pins botocore. Run::

    python benchmarks/bench_fsspec.py [--repeat 3] [--parquet-mb 200]
"""
from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

PEERS_VENV = os.path.join(common.BENCH_DIR, ".venv-peers")
PEER_PACKAGES = ["s3fs", "obstore", "pandas", "pyarrow", "zarr>=3", "numpy"]

WORKLOAD = r"""
import os, resource, time
ep, bucket, key, secret = PARAMS["endpoint"], PARAMS["bucket"], PARAMS["key"], PARAMS["secret"]
lib = PARAMS["lib"]
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
if lib == "cloudfiles":
    import cloudfiles.fsspec as cff
    cff.register("s3")
    opts = {"endpoint": ep, "secrets": {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}}
elif lib == "s3fs":
    opts = {"key": key, "secret": secret, "client_kwargs": {"endpoint_url": ep, "region_name": "us-east-1"}}
else:
    from obstore.fsspec import register
    register("s3")
    opts = {"endpoint": ep, "access_key_id": key, "secret_access_key": secret, "region": "us-east-1",
            "client_options": {"allow_http": True}}
import fsspec, pandas as pd, zarr

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

w0, c0 = time.perf_counter(), cpu()
what = PARAMS["what"]
if what == "parquet":
    n = len(pd.read_parquet(f"s3://{bucket}/big.parquet", storage_options=opts))
elif what == "zarr":
    store = zarr.storage.FsspecStore.from_url(f"s3://{bucket}/arr", storage_options=opts, read_only=True)
    n = int(zarr.open_array(store=store, mode="r")[:].size)
else:
    fs = fsspec.filesystem("s3", **opts)
    got = fs.cat([f"{bucket}/small/{i:05d}" for i in range(PARAMS["files"])])
    n = sum(len(v) for v in got.values())
emit({"wall": time.perf_counter() - w0, "cpu": cpu() - c0, "n": n})
"""


def peers_python() -> str:
    py = os.path.join(PEERS_VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", PEERS_VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return py


def populate(server: common.MotoServer, bucket: str, parquet_mb: int, files: int) -> None:
    import numpy as np
    import pandas as pd
    import zarr

    from cloudfiles import CloudFiles
    import cloudfiles.fsspec as cff

    cf = CloudFiles(server.cloudpath(bucket), secrets=server.secrets)
    rows = parquet_mb * 1024 * 1024 // 16
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    pd.DataFrame({"a": rng.random(rows), "b": rng.integers(0, 1 << 62, rows)}).to_parquet(buf, compression=None)
    cf.put("big.parquet", buf.getvalue())
    cf.puts([(f"small/{i:05d}", os.urandom(1024)) for i in range(files)])
    cff.register("s3")
    store = zarr.storage.FsspecStore.from_url(
        f"s3://{bucket}/arr", storage_options={"endpoint": server.endpoint, "secrets": server.secrets})
    z = zarr.open_array(store=store, mode="w", shape=(1000, 4096), chunks=(40, 100), dtype="f4")  # 25 x 41 chunks
    z[:] = rng.random((1000, 4096), dtype="f4")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--parquet-mb", type=int, default=200)
    ap.add_argument("--files", type=int, default=2000)
    args = ap.parse_args()
    peers = common.Interpreter("peers", peers_python(), [], "s3fs")
    with common.start_moto() as server:
        bucket = server.make_bucket()
        populate(server, bucket, args.parquet_mb, args.files)
        secrets = server.secrets
        base = {"endpoint": server.endpoint, "bucket": bucket, "files": args.files,
                "key": secrets["AWS_ACCESS_KEY_ID"], "secret": secrets["AWS_SECRET_ACCESS_KEY"]}
        rows = []
        for what in ("parquet", "zarr", "cat"):
            res = {}
            for lib, interp in (("cloudfiles", common.ours()), ("s3fs", peers), ("obstore", peers)):
                runs = [common.run_snippet(interp, WORKLOAD, dict(base, lib=lib, what=what), timeout=1800)
                        for _ in range(args.repeat)]
                res[lib] = (common.median([r["wall"] for r in runs]), common.median([r["cpu"] for r in runs]),
                            runs[0]["n"])
            ref_wall, ref_cpu = res["s3fs"][0], res["s3fs"][1]
            for lib, (wall, cpu, n) in res.items():
                rows.append([what, lib, f"{wall:.3f}", f"{cpu:.3f}", f"{ref_wall / wall:.2f}x",
                             f"{cpu / ref_cpu:.2f}", n])
    print(common.format_table(["workload", "client", "wall s", "cpu s", "speed vs s3fs", "cpu / s3fs", "n"], rows))
    print(common.machine_info())


if __name__ == "__main__":
    main()
