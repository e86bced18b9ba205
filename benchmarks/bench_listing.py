"""Peak RSS and CPU of a recursive file:// listing as the file count grows.

    python benchmarks/bench_listing.py                      # 1k, 10k, 100k files
    python benchmarks/bench_listing.py --counts 1000,20000

Each row is one process measured alone (``common.run_measured``): ``cloudfiles
ls -r`` of the tree (output to /dev/null), and a library loop over
``CloudFiles(...).list_meta()`` that keeps nothing (size and mtime from one
stat per file). The tree has 100 files per directory, 10 directories per
level above them. A streamed listing's peak RSS stays flat as the count
grows; a listing that builds and sorts the whole tree first grows with it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

PER_DIR = 100

LOOP = ("import sys\nfrom cloudfiles import CloudFiles\nn = 0\n"
        "for meta in CloudFiles('file://' + sys.argv[1]).list_meta():\n    n += meta.size is not None\n"
        "assert n == int(sys.argv[2]), n\n")


def make_tree(root: str, count: int) -> None:
    for i in range(count):
        d = i // PER_DIR
        directory = os.path.join(root, f"d{d // 10:04d}", f"e{d % 10}")
        if i % PER_DIR == 0:
            os.makedirs(directory)
        with open(os.path.join(directory, f"f{i % PER_DIR:03d}"), "wb") as f:
            f.write(b"x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000,100000", help="file counts, comma-separated")
    args = parser.parse_args()
    env = common.child_env(ours=True)
    rows = []
    work = tempfile.mkdtemp(prefix="bench-listing-")
    try:
        for count in (int(c) for c in args.counts.split(",")):
            root = os.path.join(work, str(count))
            make_tree(root, count)
            ls = common.run_measured([sys.executable, "-m", "cloudfiles_cli.main", "ls", "-r", root], env=env)
            loop = common.run_measured([sys.executable, "-c", LOOP, root, str(count)], env=env)
            rows.append([count, f"{ls.wall:.2f}", f"{ls.cpu:.2f}", f"{ls.peak_rss_mib:.1f}",
                         f"{loop.cpu:.2f}", f"{loop.peak_rss_mib:.1f}"])
            shutil.rmtree(root)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("file:// recursive listing: peak RSS (MiB, incl. interpreter) and CPU (s) by file count")
    print(common.format_table(["files", "ls -r wall", "ls -r cpu", "ls -r rss", "list_meta cpu", "list_meta rss"],
                              rows))


if __name__ == "__main__":
    main()
