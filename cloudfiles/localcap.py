"""How many threads work on a local backend (file://, mem://), whatever ``num_threads`` says.

Local work is CPU-bound under the GIL: the per-file Python work dominates, and
threads beyond one only add lock hand-offs (get, exists, size and delete on
file:// ran at 0.66-0.88x the reference with ``num_threads=20``, issue 16).
Writes to disk are the exception: creating, writing and renaming a file wait
on the filesystem with the GIL released, so a few threads overlap that wait.
So reads and deletes run on one thread; file:// writes (put, puts, touch) on
at most :data:`WRITE_THREADS`; mem:// (storage in this process) always on one.
``benchmarks/bench_local.py`` measures the default and ``num_threads=20``.
"""
from __future__ import annotations

#: file:// writers in parallel at most (filesystem waits overlap; more only contend)
WRITE_THREADS = 4


def local_threads(requested: int, writes: bool, process_local: bool) -> int:
    """Threads to use on a local backend for ``requested`` (``num_threads``)."""
    if writes and not process_local:
        return min(requested, WRITE_THREADS)
    return 1
