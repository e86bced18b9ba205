"""How many threads work on a local backend (file://, mem://), whatever ``num_threads`` says.

Local work is CPU-bound under the GIL: the per-file Python work and the kernel's
own work (creating, renaming and unlinking files is system CPU time, not a wait)
dominate, and threads beyond one only add lock hand-offs and contention on the
directory (issue 16; a scratch timing taken while choosing this cap, not a repo
command, since the cap now forbids the other settings: ``puts`` of 5,000 x 1 KiB on
tmpfs ran at 29,700 files/s on one thread, 14,900 on two and 11,000 on four; in
``benchmarks/bench_local.py`` get, exists and delete ran at
0.66-0.88x the reference with ``num_threads=20`` before the cap). The exception is
file:// writes with ``fsync=True``: each write then waits on the disk with the GIL
released, and a few threads overlap those waits (same scratch timing, 500 fsynced
puts: 1,970 files/s on one thread, 3,370 on four, 4,270 on eight). So everything runs on one thread except
fsynced file:// writes, which use at most :data:`SYNCED_WRITE_THREADS`.
``benchmarks/bench_local.py`` measures the default and ``num_threads=20``.
"""
from __future__ import annotations

#: fsynced file:// writers in parallel at most (their disk waits overlap; more only contend)
SYNCED_WRITE_THREADS = 8


def local_threads(requested: int, writes: bool, waits_on_disk: bool) -> int:
    """Threads to use on a local backend for ``requested`` (``num_threads``).

    ``waits_on_disk`` is true where a write blocks on the device (file:// with fsync).
    """
    if writes and waits_on_disk:
        return min(requested, SYNCED_WRITE_THREADS)
    return 1
