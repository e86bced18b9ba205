"""Check that file:// directories are interchangeable with the reference ``cloud-files``.

For each encoding (raw, gzip, br, zstd, xz, bzip2 by default) one library
writes a directory with ``puts`` and the other reads it back: ``get`` must
return the original bytes, ``list`` the same names (also under a prefix),
``exists`` True for each file; then the reader deletes everything and the
writer must see nothing left. Both directions run, and the on-disk file names
each library produces for the same input are compared. Every difference is
printed precisely; the exit status is 1 if there is any.

    python benchmarks/interop_check.py [--files 40] [--encodings raw,gzip,br,zstd]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import common  # noqa: E402

WORKER = os.path.join(common.BENCH_DIR, "local_worker.py")

# Runs in either interpreter. PARAMS: action ("write" | "read" | "delete_check"),
# cases (a list of [directory, encoding]), files, size, seed. One process
# handles every case of an action, so the slow reference import is paid once.
# Names include a nested folder so prefix listing and mkdir are exercised too.
_SNIPPET = f"""
import runpy
from cloudfiles import CloudFiles
lw = runpy.run_path({WORKER!r})
made = lw["make_files"](PARAMS["files"], PARAMS["size"], PARAMS["seed"])
files = [(("sub/deeper/" if i % 4 == 0 else "") + n, d) for i, (n, d) in enumerate(made)]
names = [n for n, _ in files]
expected = dict(files)
action = PARAMS["action"]
report = {{}}
def attempt(p, what, fn, *args):
    try:
        return fn(*args)
    except Exception as err:  # some libraries raise instead of reporting per file
        p.append("%s raised %s: %s" % (what, type(err).__name__, str(err)[:200]))
        return None
for directory, enc in PARAMS["cases"]:
    cf = CloudFiles("file://" + directory)
    p = report[directory] = []
    if action == "write":
        cf.puts([{{"path": n, "content": d, "compress": None if enc == "raw" else enc}} for n, d in files])
    elif action == "read":
        got = attempt(p, "get", cf.get, names) or []
        for r in got:
            if r.get("error") is not None:
                p.append("get %s: error %r" % (r["path"], r["error"]))
            elif r["content"] != expected.get(r["path"]):
                c = r["content"]
                p.append("get %s: %s bytes differ from the %d written (starts %r)" % (
                    r["path"], "None" if c is None else len(c), len(expected[r["path"]]), (c or b"")[:12]))
        if got and len(got) != len(names):
            p.append("get returned %d results for %d files" % (len(got), len(names)))
        listed = sorted(attempt(p, "list", lambda: list(cf.list())) or [])
        if listed != sorted(names):
            p.append("list: missing %s, unexpected %s" % (
                sorted(set(names) - set(listed))[:5], sorted(set(listed) - set(names))[:5]))
        sub = sorted(cf.list(prefix="sub/"))
        want_sub = sorted(n for n in names if n.startswith("sub/"))
        if sub != want_sub:
            p.append("list(prefix='sub/'): got %d names, expected %d (e.g. %s)" % (len(sub), len(want_sub), sub[:3]))
        ex = attempt(p, "exists", cf.exists, names) or {{}}
        missing = [n for n in names if not ex.get(n)]
        if missing:
            p.append("exists: False for %d files (e.g. %s)" % (len(missing), missing[:3]))
        attempt(p, "delete", cf.delete, names)
        left = sorted(cf.list())
        if left:
            p.append("after its own delete, the reader still lists %d files (e.g. %s)" % (len(left), left[:3]))
    elif action == "delete_check":
        left = sorted(cf.list())
        if left:
            p.append("after the reader's delete, the writer still lists %d files (e.g. %s)" % (len(left), left[:3]))
        ex = attempt(p, "exists", cf.exists, names) or {{}}
        still = [n for n in names if ex.get(n)]
        if still:
            p.append("after the reader's delete, the writer still finds %d files (e.g. %s)" % (len(still), still[:3]))
    else:
        raise ValueError("unknown action %r" % action)
emit(report)
"""


def disk_layout(directory: str) -> list[str]:
    """Relative paths of every file under ``directory``, sorted."""
    found = []
    for root, _, names in os.walk(directory):
        for n in names:
            found.append(os.path.relpath(os.path.join(root, n), directory))
    return sorted(found)


def check_direction(writer: common.Interpreter, reader: common.Interpreter, encodings: list[str],
                    workdir: str, files: int, size: int, seed: int) -> dict[str, tuple[list[str], list[str]]]:
    """``writer`` writes one directory per encoding, ``reader`` reads and deletes them.

    Returns {encoding: (problems, on-disk layout as written)}.
    """
    cases = [[tempfile.mkdtemp(prefix=f"{writer.label}-{enc}-", dir=workdir), enc] for enc in encodings]
    base = {"cases": cases, "files": files, "size": size, "seed": seed}
    common.run_snippet(writer, _SNIPPET, dict(base, action="write"), timeout=300)
    layouts = {d: disk_layout(d) for d, _ in cases}
    read = common.run_snippet(reader, _SNIPPET, dict(base, action="read"), timeout=300)
    after = common.run_snippet(writer, _SNIPPET, dict(base, action="delete_check"), timeout=300)
    out = {}
    for d, enc in cases:
        problems = read[d] + after[d]
        leftovers = disk_layout(d)
        if leftovers:
            problems.append(f"files left on disk after the delete: {leftovers[:5]}")
        out[enc] = (problems, layouts[d])
        shutil.rmtree(d, ignore_errors=True)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    """Run both directions for every encoding; 0 if all agree, 1 if anything differs."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=40)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--encodings", default="raw,gzip,br,zstd,xz,bzip2")
    p.add_argument("--ref-python", help="python of the reference venv (default: see common.ensure_reference_python)")
    a = p.parse_args(argv)
    if a.files < 1 or a.size < 0:
        p.error("--files must be >= 1 and --size >= 0")
    encodings = [e.strip() for e in a.encodings.split(",") if e.strip()]
    try:
        ours, ref = common.ours(), common.reference(a.ref_python)
        info = {i.label: common.library_info(i) for i in (ours, ref)}
    except common.BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"interop on file://: ours {info['ours']['version']} <-> cloud-files {info['reference']['version']}, "
          f"{a.files} files of {a.size} B per case")
    workdir = tempfile.mkdtemp(prefix="cf-interop-")
    rows, failures = [], 0
    try:
        results = {w.label: check_direction(w, r, encodings, workdir, a.files, a.size, a.seed)
                   for w, r in ((ref, ours), (ours, ref))}
        for enc in encodings:
            layouts = {}
            for writer, reader in ((ref, ours), (ours, ref)):
                problems, layouts[writer.label] = results[writer.label][enc]
                failures += bool(problems)
                rows.append([enc, f"{writer.label} -> {reader.label}", "ok" if not problems else "DIFFERS"])
                for prob in problems:
                    print(f"  [{enc}] written by {writer.label}, read by {reader.label}: {prob}")
            if layouts["ours"] != layouts["reference"]:
                failures += 1
                only_ours = sorted(set(layouts["ours"]) - set(layouts["reference"]))
                only_ref = sorted(set(layouts["reference"]) - set(layouts["ours"]))
                rows.append([enc, "on-disk names", "DIFFERS"])
                print(f"  [{enc}] on-disk names differ: only ours {only_ours[:5]}, only reference {only_ref[:5]}")
            else:
                example = next((x for x in layouts["ours"] if "/" not in x), layouts["ours"][0])
                rows.append([enc, "on-disk names", f"identical (e.g. {example})"])
    except common.BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(common.format_table(["encoding", "direction", "result"], rows, numeric=[False, False, False]))
    print("PASS: directories are interchangeable" if not failures else f"FAIL: {failures} case(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
