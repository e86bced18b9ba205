"""``parallel=N``: split a job into N chunks and run each in a child process.

Each child builds its own CloudFiles (threads inside, one process apart), so
connection pools are never shared across a fork. Results come back pickled.
Each child's byte budget is this process's split N ways (cloudfiles/budget.py).
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def _child(cloudpath: str, init_kwargs: dict, method: str, chunk: list, kwargs: dict) -> Any:
    from .cloudfiles import CloudFiles

    init = dict(init_kwargs)
    init["parallel"] = 1
    init["progress"] = False
    cf = CloudFiles(cloudpath, **init)
    return getattr(cf, method)(chunk, **kwargs)


def run_chunks(cloudpath: str, init_kwargs: dict, method: str, items: list, n: int, kwargs: dict,
               part_size: int = 8 * 1024 * 1024) -> list:
    """Run ``CloudFiles(cloudpath).method(chunk, **kwargs)`` for N chunks of ``items``,
    each child with ``budget.child_share(N, part_size)`` bytes of budget.

    List results are concatenated; other results are returned one per chunk.
    """
    from . import budget

    if not items:
        return []
    n = min(n, len(items))
    chunks = [items[i::n] for i in range(n)]
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=budget.init_child,
                             initargs=(budget.child_share(n, part_size),)) as pool:
        futures = [pool.submit(_child, cloudpath, init_kwargs, method, c, kwargs) for c in chunks]
        parts = [f.result() for f in futures]
    out: list = []
    for p in parts:
        if isinstance(p, list):
            out.extend(p)
        else:
            out.append(p)
    return out
