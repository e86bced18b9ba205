"""Dataset push/pull against a plain recursive copy of the same tree.

    python benchmarks/bench_datasets.py                 # file:// and S3 (moto), 5,000 small + 3 x 20 MB
    python benchmarks/bench_datasets.py --skip-s3 --small 2000 --large 2 --repeat 3

Each operation runs as the real CLI in a fresh process (`cloudfiles cp -r`
versus `cloudfiles dataset push` / `pull`), on the same tree and backend, so
both pay the same start-up. The dataset layer adds a sha256 of every file, a
manifest, a listing for resume and dedup, and on pull a verification of every
file plus the atomic install. The overhead column is
``(dataset - plain) / plain`` of the best of ``--repeat`` runs (each run on a
fresh remote and a fresh local store), in wall time and in the process's
CPU time (user + system, less sensitive to other load). The library's own
``CloudFiles(src).transfer_to(dest)`` in a fresh process is shown as a second
baseline.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

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


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """Run ``argv``; return (wall seconds, CPU seconds user+system of the child)."""
    m = common.run_measured(argv, env=env)
    return m.wall, m.cpu


def cli(args: list[str], env: dict) -> tuple[float, float]:
    """``cloudfiles ARGS`` in a fresh process."""
    return timed([sys.executable, "-m", "cloudfiles_cli.main", *args], env)


_TRANSFER = "import sys; from cloudfiles import CloudFiles; CloudFiles(sys.argv[1]).transfer_to(sys.argv[2])"


def transfer(src: str, dest: str, env: dict) -> tuple[float, float]:
    """``CloudFiles(src).transfer_to(dest)`` in a fresh process."""
    return timed([sys.executable, "-c", _TRANSFER, src, dest], env)


OPS = ("cp up", "lib up", "push", "cp down", "lib down", "pull")


def run_backend(label: str, new_remote, src: str, work: str, repeat: int, env: dict) -> dict:
    """Best-of-``repeat`` wall and CPU times of plain copies (CLI and library) and dataset push/pull.

    The order of the three uploads (and of the three downloads) rotates between
    repetitions so that none is always first on a cold cache.
    """
    best = {k: [float("inf"), float("inf")] for k in OPS}

    def keep(op: str, t: tuple[float, float]) -> None:
        best[op] = [min(best[op][0], t[0]), min(best[op][1], t[1])]

    for r in range(repeat):
        plain_remote, ds_remote = new_remote(f"plain{r}"), new_remote(f"ds{r}")
        lib_remote, down_lib = new_remote(f"lib{r}"), os.path.join(work, f"downlib{r}")
        home = os.path.join(work, f"home{r}")
        down_plain, home2 = os.path.join(work, f"down{r}"), os.path.join(work, f"home2-{r}")
        # register (a local copy into the store) is not part of the push being measured
        cli(["dataset", "--remote", ds_remote, "--home", home, "register", src, "bench"], env)
        ups = [("cp up", lambda: cli(["cp", "-r", src + "/", plain_remote + "/"], env)),
               ("push", lambda: cli(["dataset", "--remote", ds_remote, "--home", home, "push", "bench"], env)),
               ("lib up", lambda: transfer("file://" + src + "/", lib_remote + "/", env))]
        downs = [("cp down", lambda: cli(["cp", "-r", plain_remote + "/", down_plain + "/"], env)),
                 ("pull", lambda: cli(["dataset", "--remote", ds_remote, "--home", home2, "pull", "bench"], env)),
                 ("lib down", lambda: transfer(lib_remote + "/", "file://" + down_lib + "/", env))]
        for group in (ups, downs):
            k = r % len(group)
            for op, fn in group[k:] + group[:k]:
                keep(op, fn())
        for d in (home, home2, down_plain, down_lib):
            shutil.rmtree(d, ignore_errors=True)
    return {"backend": label, **best}


def print_row(r: dict) -> None:
    """One backend's times and the dataset layer's overhead against each plain copy."""
    def pct(a: float, b: float) -> str:
        return f"{(a - b) / b * 100:+.1f}%"

    print(f"\n{r['backend']}: best of runs, wall seconds (CPU seconds of the process)")
    print("".join(f"{h:>19}" for h in ("", "cp -r", "transfer_to", "dataset", "vs cp -r", "vs transfer_to")))
    for direction, plain, lib, ds in (("upload", "cp up", "lib up", "push"), ("download", "cp down", "lib down", "pull")):
        cells = [direction] + [f"{r[k][0]:.2f} ({r[k][1]:.2f})" for k in (plain, lib, ds)]
        cells += [f"{pct(r[ds][0], r[plain][0])} ({pct(r[ds][1], r[plain][1])})",
                  f"{pct(r[ds][0], r[lib][0])} ({pct(r[ds][1], r[lib][1])})"]
        print("".join(f"{c:>19}" for c in cells), flush=True)

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
    env = common.child_env(ours=True, base=dict(os.environ, HOME=os.path.join(work, "userhome")))
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
            server = common.start_moto()
            s3env = dict(env, **server.secrets)

            def s3_remote(tag: str) -> str:
                return server.cloudpath(server.make_bucket(), tag).rstrip("/")

            rows.append(run_backend("s3 (moto)", s3_remote, src, work, args.repeat, s3env))
            print_row(rows[-1])
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
