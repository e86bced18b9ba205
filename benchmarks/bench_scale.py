"""`cloudfiles cp -r` on local threads vs a Dask cluster (--cluster local:1, local:2).

Two data sets -- N small files and M x 50 MB files -- copied file:// -> S3 and
S3 -> S3 (moto). Each copy runs as its own `cloudfiles` process; its CPU is
taken from ``wait4`` and so includes every process it started and reaped (the
LocalCluster's scheduler thread, nannies and workers), not the moto servers'.
Each mode's fixed cost (interpreter start, imports, a cluster's start-up) is
measured with a one-file copy in that mode and shown apart; "cpu ms/file" is
what is left, per file, and "dask overhead" compares it with local threads
(target: at most +20%). Files lost: objects missing or of the wrong size at
the destination afterwards (must be 0).

With one moto server S3 -> S3 is a server-side copy; ``--two-servers`` puts the
source and destination on different servers, so the bytes go through the
workers, and shows the scaling from one worker to two.

    python benchmarks/bench_scale.py --small 2000 --large 4            # a few minutes
    python benchmarks/bench_scale.py --small 20000 --large 20 --two-servers   # the full run
    python benchmarks/bench_scale.py --idle-seconds 10 --small 0 --large 0    # Dask's own idle CPU
    python benchmarks/bench_scale.py --small 20000 --large 0 --two-servers --repeat 3   # medians

On a small shared machine one run of each mode decides little (the local-threads
baseline alone moves by 15-30% between runs); ``--repeat N`` runs the modes N
times, interleaved and in rotated order, and reports medians and each run's range.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

MODES = [("threads", []), ("local:1", ["--cluster", "local:1"]), ("local:2", ["--cluster", "local:2"])]
LARGE = 50 * 1024 * 1024


def make_tree(root: str, n: int, size_of) -> dict:
    sizes = {}
    for i in range(n):
        rel = f"d{i % 20:02d}/f{i:06d}.bin"
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        size = size_of(i)
        with open(path, "wb") as f:
            if size > 1 << 20:
                chunk = os.urandom(1 << 20)
                for _ in range(size >> 20):
                    f.write(chunk)
            else:
                f.write(os.urandom(size))
        sizes[rel] = size
    return sizes


def cp(args: list, env: dict) -> common.Measured:
    return common.run_measured([sys.executable, "-m", "cloudfiles_cli.main", "cp", "-r", *args], env=env)


def lost(url: str, sizes: dict) -> int:
    from cloudfiles import CloudFiles

    got = dict(CloudFiles(url, secrets=common.MOTO_SECRETS).list_sizes())
    return sum(1 for k, s in sizes.items() if got.get(k) != s)


def wipe(url: str) -> None:
    from cloudfiles import CloudFiles

    cf = CloudFiles(url, secrets=common.MOTO_SECRETS)
    cf.delete(list(cf.list()))


def idle_cpu(seconds: float) -> list[list]:
    """CPU an idle ``LocalCluster`` of two workers burns per second, with Dask's default
    settings and with the ones ``--cluster local:N`` uses (cloudfiles.distributed.QUIET_CLUSTER)."""
    import time

    import dask
    import distributed
    import psutil

    from cloudfiles.distributed import QUIET_CLUSTER

    def tree_cpu() -> float:
        me = psutil.Process()
        total = 0.0
        for p in [me] + me.children(recursive=True):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    rows = []
    for label, cfg in (("dask defaults", {}), ("local:N (QUIET_CLUSTER)", QUIET_CLUSTER)):
        with dask.config.set(cfg):
            cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                               dashboard_address=None, silence_logs=40)
            try:
                with distributed.Client(cluster):
                    time.sleep(3)  # let start-up settle
                    before = tree_cpu()
                    time.sleep(seconds)
                    rows.append([label, f"{(tree_cpu() - before) / seconds * 100:.1f}%"])
            finally:
                cluster.close()
    return rows


@dataclass
class Run:
    wall: float
    cpu: float
    start: float      # the fixed cost: a one-file copy in the same mode
    per_file: float   # cpu ms per file without that fixed cost
    lost: int


def copy_once(work: str, src: str, dest_server, extra: list, batch_size, n: int, sizes: dict, env: dict) -> Run:
    """One measured ``cp -r src`` to a fresh bucket, checked and wiped afterwards."""
    if batch_size and extra:
        extra = extra + ["--batch-size", str(batch_size)]
    # The fixed cost (interpreter start, imports, and a cluster's start-up): a one-file copy.
    one = os.path.join(work, "one")
    os.makedirs(one, exist_ok=True)
    with open(os.path.join(one, "x"), "wb") as f:
        f.write(b"x")
    url = dest_server.cloudpath(dest_server.make_bucket(), "one")
    start = cp([*extra, one, url], env).cpu
    dest = dest_server.cloudpath(dest_server.make_bucket(), "copy")
    m = cp([*extra, src, dest], env)
    missing = lost(dest, sizes)
    wipe(dest)
    return Run(m.wall, m.cpu, start, max(m.cpu - start, 0.0) / n * 1000, missing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=2000, help="small files (1-8 KiB)")
    ap.add_argument("--large", type=int, default=4, help="50 MB files")
    ap.add_argument("--two-servers", action="store_true", help="source and destination S3 on different servers")
    ap.add_argument("--batch-size", type=int, default=None, help="files per cluster batch (default 500)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every mode this many times, interleaved, and report medians")
    ap.add_argument("--idle-seconds", type=float, default=0,
                    help="first measure an idle two-worker cluster's CPU for this long, with Dask's "
                         "defaults and with local:N's settings")
    opts = ap.parse_args()
    if opts.repeat < 1:
        ap.error("--repeat must be at least 1")
    if opts.idle_seconds > 0:
        print(common.format_table(["idle 2-worker cluster", "CPU, % of one core"], idle_cpu(opts.idle_seconds)))
        print()

    env = common.child_env(True, dict(os.environ, **common.MOTO_SECRETS))
    work = tempfile.mkdtemp(prefix="bench_scale_")
    servers = [common.start_moto()]
    if opts.two_servers:
        servers.append(common.start_moto())
    src_server, dest_server = servers[0], servers[-1]
    rows = []
    try:
        sets = [("small", opts.small, lambda i: 1024 + (i * 7919) % 7168), ("50MB", opts.large, lambda i: LARGE)]
        for name, n, size_of in sets:
            if n <= 0:
                continue
            local = os.path.join(work, name)
            sizes = make_tree(local, n, size_of)
            staged = src_server.cloudpath(src_server.make_bucket(), name)
            cp([local, staged], env)  # the S3 source, not measured
            for route, src in (("file->s3", local), ("s3->s3", staged)):
                runs: dict = {mode: [] for mode, _ in MODES}
                for rep in range(opts.repeat):
                    order = MODES[rep % len(MODES):] + MODES[:rep % len(MODES)]  # interleaved, rotated
                    for mode, extra in order:
                        runs[mode].append(copy_once(work, src, dest_server, extra, opts.batch_size, n, sizes, env))
                base = statistics.median(r.per_file for r in runs["threads"])
                for mode, _ in MODES:
                    rs = runs[mode]
                    per_file = statistics.median(r.per_file for r in rs)
                    over = "" if mode == "threads" else f"{(per_file / base - 1) * 100:+.0f}%"
                    spread = f"{min(r.per_file for r in rs):.2f}..{max(r.per_file for r in rs):.2f}"
                    rows.append([name, route, mode, n, f"{statistics.median(r.wall for r in rs):.1f}",
                                 f"{statistics.median(r.cpu for r in rs):.1f}",
                                 f"{statistics.median(r.start for r in rs):.1f}", f"{per_file:.2f}", spread,
                                 over, sum(r.lost for r in rs)])
        print(common.format_table(
            ["files", "route", "mode", "n", "wall s", "cpu s", "1-file cp cpu s", "cpu ms/file",
             "min..max", "dask overhead", "lost"], rows))
        if opts.repeat > 1:
            print(f"\nmedians of {opts.repeat} interleaved runs per mode; min..max: cpu ms/file of each run;"
                  " lost: summed over all runs")
        print(f"\nmoto servers: {len(servers)} ({'source and destination apart' if opts.two_servers else 'shared'});"
              f" machine: {common.machine_info()}")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
