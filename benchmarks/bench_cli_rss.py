"""Peak RSS of the ``cloudfiles`` command on single large files, every direction.

    python benchmarks/bench_cli_rss.py                    # 300 MiB object
    python benchmarks/bench_cli_rss.py --size-mib 600     # RSS must not grow with the size
    python benchmarks/bench_cli_rss.py --sizes 150,300    # both sizes in one table

Each row is one CLI process (``python -m cloudfiles_cli.main ...`` from this
checkout) measured alone with ``wait4`` (``common.run_measured``): wall time,
client CPU and peak RSS including the interpreter. S3 is the keep-alive moto
server (``common.start_moto``). Paths: upload file -> s3, download s3 -> file,
``cp s3://... -`` and ``cat`` to stdout (/dev/null), cloud to cloud (the same
moto server addressed as ``localhost`` instead of ``127.0.0.1``: another
endpoint, so the bytes flow through the client instead of a server-side
CopyObject), ``mv`` s3 -> file, file -> file and ``mv`` file -> s3. Files
written locally are checked against the source's md5.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

MiB = 1024 * 1024
BUDGET_MIB = 256


def make_file(path: str, size: int) -> str:
    """``size`` random bytes (incompressible) written in 4 MiB blocks; returns the md5."""
    md5 = hashlib.md5()
    block = os.urandom(4 * MiB)
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = block[: min(left, len(block))]
            f.write(chunk)
            md5.update(chunk)
            left -= len(chunk)
    return md5.hexdigest()


def run_rows(size_mib: int, moto: common.MotoServer, work: str) -> list[list]:
    env = common.child_env(True)
    env.update(moto.secrets)
    cli = [sys.executable, "-m", "cloudfiles_cli.main"]
    src = os.path.join(work, f"big-{size_mib}.bin")
    digest = make_file(src, size_mib * MiB)
    b1, b2 = moto.make_bucket(), moto.make_bucket()
    s3a = moto.cloudpath(b1, f"big-{size_mib}.bin")
    # the same server under another host name: a different "service", so no server-side copy
    s3b = moto.cloudpath(b2, f"big-{size_mib}.bin").replace("127.0.0.1", "localhost")
    down = os.path.join(work, f"down-{size_mib}.bin")
    moved = os.path.join(work, f"moved-{size_mib}.bin")
    local2 = os.path.join(work, f"local2-{size_mib}.bin")
    rows = []

    def row(label: str, argv: list, check: str | None = None, stdout=None) -> None:
        m = common.run_measured(cli + argv, env=env, stdout=stdout or common.subprocess.DEVNULL)
        ok = "ok" if check is None or common.file_md5(check) == digest else "WRONG BYTES"
        rows.append([f"{label}", size_mib, f"{m.wall:.1f}", f"{m.cpu:.1f}", f"{m.peak_rss_mib:.0f}",
                     "yes" if m.peak_rss_mib < BUDGET_MIB else "NO", ok])

    row("cp file -> s3", ["cp", src, s3a])
    row("cp s3 -> file", ["cp", s3a, down], check=down)
    with open(os.devnull, "wb") as null:
        row("cp s3 -> stdout", ["cp", s3a, "-"], stdout=null)
        row("cat s3", ["cat", s3a], stdout=null)
    row("cp s3 -> s3 (other endpoint)", ["cp", s3a, s3b])
    row("mv s3 -> file", ["mv", s3b, moved], check=moved)
    row("cp file -> file", ["cp", src, local2], check=local2)
    row("mv file -> s3", ["mv", local2, s3b])
    for p in (down, moved, src):
        os.unlink(p)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mib", type=int, default=300)
    ap.add_argument("--sizes", default=None, help="comma-separated sizes in MiB (overrides --size-mib)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.size_mib]
    work = tempfile.mkdtemp(prefix="bench-cli-rss-")
    rows: list = []
    try:
        with common.start_moto() as moto:
            for size in sizes:
                rows += run_rows(size, moto, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"cloudfiles CLI peak RSS on one large file (budget {BUDGET_MIB} MiB incl. interpreter)")
    print(common.format_table(["path", "MiB", "wall s", "cpu s", "peak RSS MiB", f"< {BUDGET_MIB}", "bytes"],
                              rows))


if __name__ == "__main__":
    main()
