"""Workload for bench_local.py, run once per library in its own interpreter.

It uses only the API this library shares with the reference ``cloud-files``
(``CloudFiles(path)``, ``puts`` of dicts with ``compress``, ``get(list)``,
``list()``, ``exists(list)``, ``delete(list)``) and the standard library, so
the very same code times both. Each phase is timed with
``time.perf_counter``; results are checked afterwards (outside the timing),
so a phase that silently fails cannot look fast.
"""
from __future__ import annotations

import cProfile
import gc
import hashlib
import os
import random
import time
from typing import Any, Optional

PHASES = ("put", "get", "list", "exists", "delete")


def make_files(count: int, size: int, seed: int) -> list[tuple[str, bytes]]:
    """Deterministic names and contents: hex text from a seeded RNG.

    Hex digits carry 4 bits per byte, so gzip halves them roughly: a codec
    does real work, unlike on incompressible random bytes.
    """
    rng = random.Random(seed)
    half = (size + 1) // 2
    return [(f"file_{i:06d}.bin", rng.randbytes(half).hex().encode()[:size]) for i in range(count)]


def digest(files: list[tuple[str, bytes]]) -> str:
    """A fingerprint of the dataset, so the parent can confirm both sides used the same one."""
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode())
        h.update(data)
    return h.hexdigest()[:16]


# Read-only phases shorter than this are re-run (up to MAX_INNER times, same
# rule for both libraries) and the fastest run is kept: a 20 ms listing on a
# shared machine is otherwise mostly scheduler noise.
INNER_BUDGET_S = 0.5
MAX_INNER = 5
READ_ONLY = ("get", "list", "exists")


class _Timer:
    def __init__(self, profile_dir: Optional[str], tag: str):
        self.profile_dir = profile_dir
        self.tag = tag
        self.seconds: dict[str, float] = {}
        self.runs: dict[str, int] = {}

    def _once(self, phase: str, fn, args, prof):
        gc.collect()
        t0 = time.perf_counter()
        if prof is not None:
            prof.enable()
        out = fn(*args)
        if phase == "list":
            out = list(out)  # list() may be lazy: consuming it is part of the phase
        if prof is not None:
            prof.disable()
        return out, time.perf_counter() - t0

    def run(self, phase: str, fn, *args):
        """Time ``fn(*args)``; returns the first run's result."""
        prof = cProfile.Profile() if self.profile_dir else None
        out, best = self._once(phase, fn, args, prof)
        spent, n = best, 1
        if prof is None and phase in READ_ONLY:
            while n < MAX_INNER and spent < INNER_BUDGET_S:
                _, dt = self._once(phase, fn, args, None)
                best, spent, n = min(best, dt), spent + dt, n + 1
        self.seconds[phase] = best
        self.runs[phase] = n
        if prof is not None:
            prof.dump_stats(os.path.join(self.profile_dir, f"{self.tag}-{phase}.pstats"))
        return out


def run_config(CloudFiles, cloudpath: str, files: list[tuple[str, bytes]], encoding: Optional[str],
               timer: _Timer, threads: Optional[int] = None) -> list[str]:
    """Put, get, list, exists and delete ``files`` under ``cloudpath``; return problems found.

    ``threads``: ``CloudFiles(cloudpath, num_threads=threads)``; None: the library's default."""
    problems: list[str] = []
    names = [name for name, _ in files]
    expected = dict(files)
    cf = CloudFiles(cloudpath) if threads is None else CloudFiles(cloudpath, num_threads=threads)
    if list(cf.list()):
        problems.append(f"{cloudpath} was not empty before the run")
    requests = [{"path": name, "content": data, "compress": encoding} for name, data in files]

    timer.run("put", cf.puts, requests)
    got = timer.run("get", cf.get, names)
    listed = timer.run("list", cf.list)
    exists = timer.run("exists", cf.exists, names)
    timer.run("delete", cf.delete, names)

    bad = [r["path"] for r in got if r.get("error") is not None or r.get("content") != expected.get(r["path"])]
    if len(got) != len(names) or bad:
        problems.append(f"get: {len(got)} results for {len(names)} files, {len(bad)} wrong (e.g. {bad[:3]})")
    if sorted(listed) != sorted(names):
        problems.append(f"list: {len(listed)} names, expected {len(names)} (e.g. {sorted(set(listed) ^ set(names))[:3]})")
    if not (isinstance(exists, dict) and len(exists) == len(names) and all(exists.get(n) for n in names)):
        problems.append("exists: not every file was reported present")
    sample = names[:: max(1, len(names) // 50)]
    after = cf.exists(sample)
    if any(after.values()):
        problems.append(f"delete: {sum(1 for v in after.values() if v)} of {len(sample)} sampled files still exist")
    leftovers = list(cf.list())
    if leftovers:
        problems.append(f"delete: list() still shows {len(leftovers)} files")
    return problems


def main(params: dict[str, Any]) -> dict[str, Any]:
    """Run every (backend, encoding) configuration in ``params`` and report timings."""
    from cloudfiles import CloudFiles

    files = make_files(params["files"], params["size"], params["seed"])
    base_dir = params["base_dir"]
    run_id = params["run_id"]
    profile_dir = params.get("profile_dir")
    results = []
    problems = []
    for config in params["configs"]:
        backend, encoding = config[0], config[1]
        threads = config[2] if len(config) > 2 and config[2] != "default" else None
        tname = "default" if threads is None else str(threads)
        enc = None if encoding == "raw" else encoding
        if backend == "file":
            local = os.path.join(base_dir, f"{run_id}-{encoding}-{tname}")
            os.makedirs(local)
            cloudpath = "file://" + local
        elif backend == "mem":
            cloudpath = f"mem://bench-{run_id}/{encoding}-{tname}"
        else:
            raise ValueError(f"unknown backend {backend!r}: this workload covers file and mem")
        timer = _Timer(profile_dir, f"{backend}-{encoding}-{tname}")
        try:
            found = run_config(CloudFiles, cloudpath, files, enc, timer, threads)
        except Exception as err:  # report which configuration broke, then stop
            raise RuntimeError(f"{backend}/{encoding} at {cloudpath}: {type(err).__name__}: {err}") from err
        problems += [f"{backend}/{encoding}: {p}" for p in found]
        for phase in PHASES:
            results.append({"backend": backend, "encoding": encoding, "threads": tname, "phase": phase,
                            "seconds": timer.seconds[phase], "files": len(files),
                            "inner_runs": timer.runs[phase]})
    return {"data_digest": digest(files), "results": results, "problems": problems}
