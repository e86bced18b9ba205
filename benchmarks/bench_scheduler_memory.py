"""What a Dask scheduler holds while cloudfiles ships K keys in batches.

K keys are written to mem:// in this (driver) process and listed back lazily;
the listing is cut into batches of --batch-size and shipped exactly as
``executor=client`` ships them (``cloudfiles.jobs.ship``: at most two batches per
worker thread in flight). The op is ``exists`` against the workers' own, empty
mem:// -- a near no-op, so what is measured is the scheduler and the driver,
not storage. A real ``dask scheduler`` and two ``dask worker`` processes run as
subprocesses; the scheduler's RSS is sampled every 50 ms (psutil).

    python benchmarks/bench_scheduler_memory.py --keys 1000000 2000000 [--batch-size 500]

It prints, per K: tasks run, batch payload bytes (pickled spec), scheduler RSS
before and at peak, driver peak RSS (which includes the K mem:// objects
themselves), wall time, and the extrapolation to 100M keys (tasks = K / batch
size; memory: a linear upper bound from the peak growth between the two K).
"""
from __future__ import annotations

import argparse
import os
import pickle
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    import psutil
    from distributed import Client

    from cloudfiles import CloudFiles
    from cloudfiles.jobs import BatchSpec, batches, ship

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, nargs="+", default=[1_000_000, 2_000_000])
    ap.add_argument("--batch-size", type=int, default=500)
    opts = ap.parse_args()

    work = tempfile.mkdtemp(prefix="bench_sched_")
    env = common.child_env(True)
    dask = [shutil.which("dask") or "dask"]
    addr = f"tcp://127.0.0.1:{_port()}"
    procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", addr.rsplit(":", 1)[1],
                                      "--no-dashboard"], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    rows, measured = [], []
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(dask + ["worker", addr, "--nthreads", "1", "--no-dashboard",
                                                  "--local-directory", work], env=env, cwd=work,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = Client(addr, timeout=60)
        while len(client.scheduler_info()["workers"]) < 2:
            time.sleep(0.2)
        sched = psutil.Process(procs[0].pid)
        for k in opts.keys:
            cf = CloudFiles(f"mem://bench-sched-{k}/")
            for group in batches((f"d{i % 1000:03d}/f{i:010d}" for i in range(k)), 10_000):
                cf.puts([(name, b"") for name in group])
            before = sched.memory_info().rss
            peak = [before]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], sched.memory_info().rss)
                    time.sleep(0.05)

            t = threading.Thread(target=sample, daemon=True)
            t.start()
            specs = (BatchSpec("exists", cf.cloudpath, {}, group)
                     for group in batches(cf.list(), opts.batch_size))
            first = BatchSpec("exists", cf.cloudpath, {}, [f"d000/f{i:010d}" for i in range(opts.batch_size)])
            payload = len(pickle.dumps(first))
            t0 = time.perf_counter()
            tasks = files = 0
            for spec, part in ship(client, specs):
                tasks += 1
                files += len(part["found"])
            wall = time.perf_counter() - t0
            stop.set()
            t.join()
            assert files == k, (files, k)
            driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            measured.append((k, tasks, peak[0]))
            rows.append([k, opts.batch_size, tasks, payload, f"{before / 2**20:.0f}", f"{peak[0] / 2**20:.0f}",
                         f"{driver:.0f}", f"{wall:.0f}", f"{tasks / wall:.0f}"])
            cf.delete(list(cf.list()))
        client.close()
    finally:
        for p in reversed(procs):
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(common.format_table(["keys", "batch", "tasks", "spec bytes", "scheduler MiB before",
                               "scheduler MiB peak", "driver peak MiB", "wall s", "tasks/s"], rows))
    target = 100_000_000
    print(f"\n100M keys at batch {opts.batch_size}: {target // opts.batch_size:,} tasks in all, "
          f"at most 2 per worker thread in flight at once")
    if len(measured) >= 2:
        # peaks only grow (RSS is not returned between runs): compare peak with peak
        (k1, _, m1), (k2, _, m2) = measured[0], measured[-1]
        per_key = max(m2 - m1, 0) / (k2 - k1)
        print(f"scheduler peak RSS grew {(m2 - m1) / 2**20:+.1f} MiB from {k1:,} to {k2:,} keys "
              f"-> linear upper bound at 100M: {(m2 + per_key * (target - k2)) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
