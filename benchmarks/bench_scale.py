"""`cloudfiles cp -r` on local threads vs a Dask cluster (--cluster local:1, local:2).

Two data sets -- N small files and M x 50 MB files -- copied file:// -> S3 and
S3 -> S3 (moto). Each copy runs as its own `cloudfiles` process; its CPU is
taken from ``wait4`` and so includes every process it started and reaped (the
LocalCluster's scheduler thread, nannies and workers), not the moto servers'.
A cluster's fixed start-up cost is measured with a one-file copy and shown
apart; "dask overhead" compares CPU per file without it against local threads
(target: at most +20%). Files lost: objects missing or of the wrong size at
the destination afterwards (must be 0).

With one moto server S3 -> S3 is a server-side copy; ``--two-servers`` puts the
source and destination on different servers, so the bytes go through the
workers, and shows the scaling from one worker to two.

    python benchmarks/bench_scale.py --small 2000 --large 4            # a few minutes
    python benchmarks/bench_scale.py --small 20000 --large 20 --two-servers   # the full run
    python benchmarks/bench_scale.py --idle-seconds 10 --small 0 --large 0    # Dask's own idle CPU
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=2000, help="small files (1-8 KiB)")
    ap.add_argument("--large", type=int, default=4, help="50 MB files")
    ap.add_argument("--two-servers", action="store_true", help="source and destination S3 on different servers")
    ap.add_argument("--batch-size", type=int, default=None, help="files per cluster batch (default 500)")
    ap.add_argument("--idle-seconds", type=float, default=0,
                    help="first measure an idle two-worker cluster's CPU for this long, with Dask's "
                         "defaults and with local:N's settings")
    opts = ap.parse_args()
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
                base = None
                for mode, extra in MODES:
                    if opts.batch_size and extra:
                        extra = extra + ["--batch-size", str(opts.batch_size)]
                    start = 0.0
                    if extra:  # the cluster's fixed cost: a one-file copy
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
                    per_file = max(m.cpu - start, 0.0) / n * 1000
                    if mode == "threads":
                        base = per_file
                    over = "" if base is None or mode == "threads" else f"{(per_file / base - 1) * 100:+.0f}%"
                    rows.append([name, route, mode, n, f"{m.wall:.1f}", f"{m.cpu:.1f}", f"{start:.1f}",
                                 f"{per_file:.2f}", over, missing])
        print(common.format_table(
            ["files", "route", "mode", "n", "wall s", "cpu s", "cluster start cpu s", "cpu ms/file",
             "dask overhead", "lost"], rows))
        print(f"\nmoto servers: {len(servers)} ({'source and destination apart' if opts.two_servers else 'shared'});"
              f" machine: {common.machine_info()}")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
