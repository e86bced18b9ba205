"""Dask clusters for ``--cluster SPEC`` (imported only when one is asked for).

``SPEC`` is ``tcp://HOST:PORT`` (connect to a running ``dask scheduler``) or
``local:N`` (start a ``distributed.LocalCluster`` of N single-threaded worker
processes on this machine, for the life of the block; each worker gets
``budget.child_share(N)`` of this process's byte budget). Needs the ``dask``
extra: ``pip install cloudfiles[dask]``.
"""
from __future__ import annotations

import contextlib
import os
import re
from typing import Any, Iterator

from .exceptions import CloudFilesError, InvalidInputError

_LOCAL = re.compile(r"local:(\d{1,4})")
_TCP = re.compile(r"(tcp|tls)://[A-Za-z0-9.\-\[\]:]+:\d{1,5}")
CONNECT_TIMEOUT = 10.0  # seconds; CLOUDFILES_CLUSTER_TIMEOUT overrides

#: Dask settings for the clusters ``local:N`` starts. Dask's defaults sample every
#: worker's stack each 10 ms (the dashboard's profiler), poll memory every 100 ms,
#: check the event loop every 20 ms, rebalance ("steal") tasks every second and refresh
#: the client's copy of the scheduler's worker table every 2 s: an idle two-worker
#: cluster burned 9.6% of a core, 1.4% with these (docs/scale.md, "Dask's own CPU").
#: Copies need no profiler, and no stealing: each batch costs about the same, and
#: :func:`cloudfiles.jobs.ship` keeps only two per worker slot in flight. The driver
#: asks for the worker table itself when it needs it (``worker_slots``).
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.tick.interval": "1s",
    "distributed.scheduler.work-stealing": False,
    "distributed.client.scheduler-info-interval": "10s",
}


#: Seconds between a local:N worker's heartbeats. Dask's scheduler asks clusters of up
#: to ten workers for one each 0.5 s (``distributed.scheduler.heartbeat_interval``, not
#: a config setting); each carries the worker's metrics for the dashboard, and at 2 s an
#: idle two-worker cluster used about half the CPU (docs/scale.md, "Dask's own CPU").
#: A killed worker is noticed by its closed connection, not by a missed heartbeat.
LOCAL_HEARTBEAT_SECONDS = 2.0


class ClusterError(CloudFilesError, ConnectionError):
    """A Dask cluster could not be reached or started, or was lost under a running call
    (then ``result`` holds what the finished batches gave, as for
    :class:`~cloudfiles.exceptions.WorkersLostError`)."""

    result: Any = None


def parse_spec(spec: str) -> tuple[str, Any]:
    """``("local", N)`` or ``("address", "tcp://HOST:PORT")``; one clear error otherwise."""
    if not isinstance(spec, str):
        raise InvalidInputError(f"a cluster is 'tcp://HOST:PORT' or 'local:N', got {spec!r}")
    m = _LOCAL.fullmatch(spec.strip())
    if m:
        n = int(m.group(1))
        if n < 1:
            raise InvalidInputError(f"local:N needs N >= 1 workers, got {spec!r}")
        return "local", n
    if _TCP.fullmatch(spec.strip()):
        return "address", spec.strip()
    raise InvalidInputError(f"a cluster is 'tcp://HOST:PORT' or 'local:N', got {spec!r}")


def _import() -> Any:
    try:
        import distributed
    except ImportError:
        raise InvalidInputError(
            "--cluster needs Dask distributed: pip install 'cloudfiles[dask]'") from None
    return distributed


def _timeout() -> float:
    raw = os.environ.get("CLOUDFILES_CLUSTER_TIMEOUT")
    if raw is None:
        return CONNECT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InvalidInputError(f"CLOUDFILES_CLUSTER_TIMEOUT must be a positive number of seconds, got {raw!r}")
    return value


@contextlib.contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask's own loggers silenced for the block: a lost scheduler or worker becomes one
    cloudfiles error, not that plus Dask's tracebacks on stderr (Dask's logging
    config sets levels per logger, so each is set here and restored after)."""
    import logging

    names = ["distributed"] + [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


@contextlib.contextmanager
def cluster_client(spec: str) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``, closed (and a local cluster stopped) on exit.
    Dask's log lines are silenced meanwhile: what goes wrong is raised as one error."""
    kind, value = parse_spec(spec)
    distributed = _import()
    with _quiet_dask_logs():
        yield from _client_for(distributed, kind, value, spec)


@contextlib.contextmanager
def _slower_heartbeats(seconds: float) -> Iterator[None]:
    """While the block runs, schedulers in this process (a local:N cluster's) ask workers
    for a heartbeat at most every ``seconds``; Dask's own choice is kept if longer."""
    import distributed.scheduler as scheduler

    original = getattr(scheduler, "heartbeat_interval", None)
    if not callable(original):  # another Dask: leave it as it is
        yield
        return
    scheduler.heartbeat_interval = lambda n: max(original(n), seconds)
    try:
        yield
    finally:
        scheduler.heartbeat_interval = original


def _client_for(distributed: Any, kind: str, value: Any, spec: str) -> Iterator[Any]:
    if kind == "local":
        import dask

        from . import budget

        # The workers split this process's byte budget, as parallel=N children do (cloudfiles/budget.py).
        env = {budget.ENV: str(budget.child_share(value))}
        # the nannies hand this config to their workers
        with dask.config.set(QUIET_CLUSTER), _slower_heartbeats(LOCAL_HEARTBEAT_SECONDS):
            try:
                # No dashboard; the scheduler's small HTTP server (health, metrics) on a free
                # localhost port, so two local clusters never fight over Dask's :8787.
                cluster = distributed.LocalCluster(
                    n_workers=value, processes=True, threads_per_worker=1, dashboard_address=None,
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                    silence_logs=40, env=env)
            except Exception as err:
                raise ClusterError(f"could not start a local Dask cluster ({spec}): {err}") from None
            try:
                with distributed.Client(cluster) as client:
                    yield client
            finally:
                cluster.close()
        return
    try:
        client = distributed.Client(value, timeout=_timeout())
    except (OSError, TimeoutError) as err:
        raise ClusterError(f"cannot reach the Dask scheduler at {value}: {err}") from None
    try:
        yield client
    finally:
        client.close()
