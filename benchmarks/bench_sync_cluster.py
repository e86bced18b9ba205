"""Where `sync --checksum` reads its bytes: the driver (local threads) or the workers.

Two file:// trees of N files of the same sizes, every 5th file with other contents,
so each sync must read and hash both sides of every file. Each mode runs
``cloudfiles.sync(src, dest, checksum=True, dry_run=True)`` (a dry run: the trees
stay as they are, so the modes see the same work) and reports the bytes read by
the driver process and by the worker processes (``rchar`` of /proc/PID/io: files
and sockets alike), the wall time and the files the sync would copy.

    python benchmarks/bench_sync_cluster.py --files 200 --size 262144
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rchar() -> int:
    with open("/proc/self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def make_trees(root: str, n: int, size: int) -> tuple[str, str, int]:
    src, dest = os.path.join(root, "src"), os.path.join(root, "dest")
    changed = 0
    for i in range(n):
        rel = f"d{i % 10}/f{i:05d}.bin"
        data = os.urandom(size)
        for base, content in ((src, data), (dest, data if i % 5 else os.urandom(size))):
            path = os.path.join(base, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
        changed += i % 5 == 0
    return "file://" + src, "file://" + dest, changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--size", type=int, default=256 << 10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=50)
    args = ap.parse_args()

    import cloudfiles
    import distributed

    root = tempfile.mkdtemp(prefix="bench-sync-cluster-")
    try:
        src, dest, changed = make_trees(root, args.files, args.size)
        hashed = 2 * args.files * args.size
        cluster = distributed.LocalCluster(n_workers=args.workers, processes=True, threads_per_worker=1,
                                           dashboard_address=None, silence_logs=50)
        client = distributed.Client(cluster)
        rows = []
        try:
            for mode, executor in (("threads", None), (f"dask x{args.workers}", client)):
                d0, w0, t0 = rchar(), sum(client.run(rchar).values()), time.perf_counter()
                res = cloudfiles.sync(src, dest, checksum=True, dry_run=True, executor=executor,
                                      batch_size=args.batch_size)
                wall = time.perf_counter() - t0
                d, w = rchar() - d0, sum(client.run(rchar).values()) - w0
                rows.append((mode, args.files, hashed, d, w, wall, res.copied))
                assert res.copied == changed and res.ok, res.summary()
        finally:
            client.close()
            cluster.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    mib = 1 << 20
    print("mode     | files | MiB to hash | driver read MiB | workers read MiB | wall s | would copy")
    print("---------+-------+-------------+-----------------+------------------+--------+-----------")
    for mode, n, h, d, w, wall, copied in rows:
        print(f"{mode:<8} | {n:5d} | {h / mib:11.1f} | {d / mib:15.1f} | {w / mib:16.1f} | {wall:6.2f} | {copied:10d}")


if __name__ == "__main__":
    main()
