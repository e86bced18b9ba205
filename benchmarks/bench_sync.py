"""How sync's listing and comparison scale: time per key and memory of the planner,
and the requests a sync sends to S3 (moto).

Part 1 (mem://, no server): a source and a destination of N keys each, where 1%
of the keys changed size, 1% are new and 1% are only at the destination. It
times ``cloudfiles.sync.plan`` (the merge join over both listings, ``delete=True``)
and measures, with tracemalloc, the peak memory the planner allocates on top of
the stores themselves -- next to what holding one side's listing as a dict would
cost (what a per-key lookup design needs).

Part 2 (file:// -> S3 on moto, through a counting proxy): the first sync of F
small files, then a sync with nothing changed, then one with 1% changed:
wall time and requests by kind (listing pages, object GET/HEAD, writes).

    python benchmarks/bench_sync.py [--keys 100000 1000000] [--files 2000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402


def _mem_pair(n: int):
    from cloudfiles import CloudFiles

    tag = uuid.uuid4().hex[:8]
    src, dest = CloudFiles(f"mem://bench-src-{tag}/r"), CloudFiles(f"mem://bench-dest-{tag}/r")
    keys = [f"d{i % 100:02d}/k{i:08d}" for i in range(n)]
    src.puts(((k, b"x") for k in keys), compress=None)
    dest_items = []
    for i, k in enumerate(keys):
        if i % 100 == 0:
            continue  # new at the source
        dest_items.append((k, b"yy" if i % 100 == 1 else b"x"))  # 1%: another size
    dest_items += [(f"d{i % 100:02d}/k{i:08d}x", b"z") for i in range(0, n, 100)]  # only at the destination
    dest.puts(iter(dest_items), compress=None)
    return src, dest


def bench_plan(n: int) -> list:
    from cloudfiles.sync import plan

    src, dest = _mem_pair(n)
    t0 = time.perf_counter()
    kinds: dict = {}
    for action in plan(src, dest, delete=True):
        kinds[action.kind] = kinds.get(action.kind, 0) + 1
    wall = time.perf_counter() - t0

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in plan(src, dest, delete=True):
        pass
    peak_plan = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    held = dict(dest.list_sizes())
    peak_dict = tracemalloc.get_traced_memory()[1] - base
    del held
    tracemalloc.stop()
    return [f"{n:,}", f"{wall:.2f}", f"{wall / (2 * n) * 1e6:.2f}", kinds.get("copy", 0), kinds.get("skip", 0),
            kinds.get("delete", 0), f"{peak_plan / 2**10:,.0f}", f"{peak_dict / 2**10:,.0f}"]


def _requests(px) -> dict:
    out = {"list": 0, "GET/HEAD": 0, "PUT/POST/DELETE": 0}
    for s in px.seen:
        if "list-type=2" in s.target:
            out["list"] += 1
        elif s.method in ("GET", "HEAD"):
            out["GET/HEAD"] += 1
        else:
            out["PUT/POST/DELETE"] += 1
    return out


def bench_s3(files: int) -> list:
    import cloudfiles
    from cloudfiles import CloudFiles
    from tests.faultproxy import FaultProxy

    rows = []
    tmp = tempfile.mkdtemp(prefix="bench-sync-")
    with common.start_moto() as moto:
        bucket = moto.make_bucket()
        with FaultProxy("127.0.0.1", urlsplit(moto.endpoint).port, style="s3") as px:
            root = os.path.join(tmp, "src")
            for i in range(files):
                d = os.path.join(root, f"d{i % 20:02d}")
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, f"f{i:06d}"), "wb") as f:
                    f.write(os.urandom(512))
            src = CloudFiles("file://" + root)
            dest = CloudFiles(f"s3://{px.url}/{bucket}/data", secrets=moto.secrets)
            for label, change in (("first sync", None), ("nothing changed", None), ("1% changed", 100)):
                if change:
                    for i in range(0, files, change):
                        with open(os.path.join(root, f"d{i % 20:02d}", f"f{i:06d}"), "ab") as f:
                            f.write(b"+")
                px.reset()
                t0 = time.perf_counter()
                res = cloudfiles.sync(src, dest, delete=True)
                wall = time.perf_counter() - t0
                req = _requests(px)
                rows.append([label, f"{files:,}", res.copied, res.skipped, f"{wall:.2f}", req["list"],
                             req["GET/HEAD"], req["PUT/POST/DELETE"]])
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--files", type=int, default=2000)
    args = ap.parse_args()
    print(f"# machine: {common.machine_info()}")
    print("\n## planner over two mem:// listings (delete=True)\n")
    rows = [bench_plan(n) for n in args.keys]
    print(common.format_table(["keys/side", "plan s", "us/key", "copy", "skip", "delete",
                               "planner peak KiB", "one listing as dict KiB"], rows))
    print("\n## file:// -> s3:// (moto, counted by a proxy), sync --delete\n")
    print(common.format_table(["run", "files", "copied", "skipped", "wall s", "list requests",
                               "object GET/HEAD", "writes"], bench_s3(args.files)))


if __name__ == "__main__":
    main()
