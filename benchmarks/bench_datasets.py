"""Dataset push/pull against a plain recursive copy of the same tree.

    python benchmarks/bench_datasets.py                 # file:// and S3 (moto), 5,000 small + 3 x 20 MB
    python benchmarks/bench_datasets.py --skip-s3 --small 2000 --large 2 --repeat 3

Each operation runs as the real CLI in a fresh process (`cloudfiles cp -r`
versus `cloudfiles dataset push` / `pull`), on the same tree and backend, so
both pay the same start-up. The dataset layer adds a sha256 of every file, a
manifest, a listing for resume and dedup, and on pull a verification of every
file plus the atomic install. The overhead column is
``(dataset - plain) / plain`` of the best of ``--repeat`` runs (each run on a
fresh remote and a fresh local store). The library's own
``CloudFiles(src).transfer_to(dest)`` in a fresh process is shown as a second
baseline.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MB = 1000 * 1000


def make_tree(root: str, small: int, large: int, large_mb: int) -> tuple[int, int]:
    """A dataset tree: ``small`` files of 1-8 KB over two partitions and ``large`` files of ``large_mb`` MB."""
    rnd = random.Random(42)
    total = 0
    for i in range(small):
        part = "train" if i % 5 else "test"
        d = os.path.join(root, "data", part, f"shard{i % 20:02d}")
        os.makedirs(d, exist_ok=True)
        data = rnd.randbytes(rnd.randint(1024, 8192))
        with open(os.path.join(d, f"item{i:05d}.bin"), "wb") as f:
            f.write(data)
        total += len(data)
    os.makedirs(os.path.join(root, "data", "blobs"), exist_ok=True)
    for i in range(large):
        data = rnd.randbytes(large_mb * MB)
        with open(os.path.join(root, "data", "blobs", f"blob{i}.bin"), "wb") as f:
            f.write(data)
        total += len(data)
    with open(os.path.join(root, "meta.json"), "w") as f:
        f.write('{"benchmark": true}')
    return small + large + 1, total


def cli(args: list[str], env: dict) -> float:
    """Run ``cloudfiles ARGS`` in a fresh process; return its wall time in seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cloudfiles_cli.main", *args], env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"cloudfiles {' '.join(args)} failed: {proc.stderr.strip()}")
    return elapsed


_TRANSFER = "import sys; from cloudfiles import CloudFiles; CloudFiles(sys.argv[1]).transfer_to(sys.argv[2])"


def transfer(src: str, dest: str, env: dict) -> float:
    """``CloudFiles(src).transfer_to(dest)`` in a fresh process; wall time in seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _TRANSFER, src, dest], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"transfer {src} -> {dest} failed: {proc.stderr.strip()[-500:]}")
    return elapsed


def run_backend(label: str, new_remote, src: str, work: str, repeat: int, env: dict) -> dict:
    """Best-of-``repeat`` times for plain copies (CLI and library) up/down and dataset push/pull."""
    best = {k: float("inf") for k in ("cp up", "lib up", "push", "cp down", "lib down", "pull")}
    for r in range(repeat):
        plain_remote, ds_remote = new_remote(f"plain{r}"), new_remote(f"ds{r}")
        lib_remote, down_lib = new_remote(f"lib{r}"), os.path.join(work, f"downlib{r}")
        home = os.path.join(work, f"home{r}")
        down_plain, home2 = os.path.join(work, f"down{r}"), os.path.join(work, f"home2-{r}")
        # register (a local copy into the store) is not part of the push being measured
        cli(["dataset", "--remote", ds_remote, "--home", home, "register", src, "bench"], env)
        best["cp up"] = min(best["cp up"], cli(["cp", "-r", src + "/", plain_remote + "/"], env))
        best["push"] = min(best["push"], cli(["dataset", "--remote", ds_remote, "--home", home, "push", "bench"], env))
        best["lib up"] = min(best["lib up"], transfer("file://" + src + "/", lib_remote + "/", env))
        best["cp down"] = min(best["cp down"], cli(["cp", "-r", plain_remote + "/", down_plain + "/"], env))
        best["pull"] = min(best["pull"], cli(["dataset", "--remote", ds_remote, "--home", home2, "pull", "bench"], env))
        best["lib down"] = min(best["lib down"], transfer(lib_remote + "/", "file://" + down_lib + "/", env))
        for d in (home, home2, down_plain, down_lib):
            shutil.rmtree(d, ignore_errors=True)
    return {"backend": label, **best}


def print_row(r: dict) -> None:
    """One backend's times and overheads (dataset vs cp -r CLI and vs library transfer_to)."""
    def pct(a: float, b: float) -> str:
        return f"{(a - b) / b * 100:+.1f}%"

    print(f"\n{r['backend']}  (seconds, best of runs)")
    print("".join(f"{h:>12}" for h in ("", "cp -r", "transfer_to", "dataset", "vs cp -r", "vs transfer")))
    for direction, plain, lib, ds in (("upload", "cp up", "lib up", "push"), ("download", "cp down", "lib down", "pull")):
        cells = [direction, f"{r[plain]:.2f}", f"{r[lib]:.2f}", f"{r[ds]:.2f}", pct(r[ds], r[plain]), pct(r[ds], r[lib])]
        print("".join(f"{c:>12}" for c in cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=5000)
    ap.add_argument("--large", type=int, default=3)
    ap.add_argument("--large-mb", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-s3", action="store_true")
    ap.add_argument("--skip-file", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="bench-datasets-")
    env = dict(os.environ, PYTHONPATH=REPO, HOME=os.path.join(work, "userhome"))
    rows = []
    server = None
    try:
        src = os.path.join(work, "src")
        nfiles, nbytes = make_tree(src, args.small, args.large, args.large_mb)
        print(f"tree: {nfiles} files, {nbytes / MB:.1f} MB; best of {args.repeat}; {os.cpu_count()} cores",
              flush=True)
        if not args.skip_file:
            rows.append(run_backend("file://", lambda tag: "file://" + os.path.join(work, "remote-" + tag),
                                    src, work, args.repeat, env))
            print_row(rows[-1])
        if not args.skip_s3:
            sys.path.insert(0, REPO)
            from tests.stores.s3 import start_s3_server

            server = start_s3_server()
            s3env = dict(env, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key)

            def s3_remote(tag: str) -> str:
                return server.cloudpath(server.make_bucket(), tag).rstrip("/")

            rows.append(run_backend("s3 (moto)", s3_remote, src, work, args.repeat, s3env))
            print_row(rows[-1])
    finally:
        if server is not None:
            server.process.terminate()
            server.process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
