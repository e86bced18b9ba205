"""Keep the command's peak memory near what is really in flight.

glibc raises its mmap threshold each time a large block is freed, after which
part-sized buffers (8 MiB) come from the heap and freed ones are kept, so a
long streamed copy's RSS climbs well above the parts actually alive. Fixing
the threshold at 1 MiB makes every part buffer its own mapping, returned to
the system when freed. A no-op where glibc's ``mallopt`` is not available.
"""
from __future__ import annotations

_M_MMAP_THRESHOLD = -3
_done = False


def bound_malloc(threshold: int = 1024 * 1024) -> None:
    """Fix glibc's mmap threshold (once per process; cheap to call again)."""
    global _done
    if _done:
        return
    _done = True
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is not None:
            mallopt(_M_MMAP_THRESHOLD, threshold)
    except (OSError, AttributeError):  # not glibc: leave the allocator alone
        pass
