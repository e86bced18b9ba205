"""The retry policy, as data: what is retryable, how long to wait, when to stop.

Exponential random-window backoff: attempt ``n`` waits a uniformly random
time in ``[0, min(60, 0.5 * 2**(n-1))]`` seconds, so a cluster of clients that
failed together spreads out. Seven attempts in all. Only transient failures
(dropped connections, timeouts, 429, 5xx, integrity mismatches) are retried;
400/401/403/404 fail at once.
"""
from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TypeVar

import tenacity

from .exceptions import IntegrityError, TransientError

T = TypeVar("T")

RETRYABLE: tuple[type[BaseException], ...] = (
    TransientError,
    IntegrityError,
    ConnectionError,
    TimeoutError,
    socket.timeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts and how the random window grows."""

    attempts: int = 7
    initial_window: float = 0.5
    max_window: float = 60.0

    def window(self, failures: int) -> float:
        """Upper bound of the random wait after ``failures`` failed attempts."""
        return min(self.max_window, self.initial_window * 2 ** (failures - 1))

    def retrying(self, already_failed: int = 0) -> tenacity.Retrying:
        """A tenacity controller for the attempts left after ``already_failed``."""
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts - already_failed),
            wait=lambda rs: random.uniform(0, self.window(rs.attempt_number + already_failed)),
            retry=tenacity.retry_if_exception(is_retryable),
            reraise=True,
        )


DEFAULT_POLICY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def is_retryable(err: BaseException) -> bool:
    """True for failures a later attempt may cure."""
    if isinstance(err, RETRYABLE):
        return True
    # urllib3/requests/botocore connection errors are translated by backends, but
    # be forgiving for anything that subclasses OSError with a connection errno.
    return isinstance(err, OSError) and err.errno in (104, 110, 111, 32)  # reset, timeout, refused, pipe


def call(fn: Callable[..., T], *args, policy: RetryPolicy = DEFAULT_POLICY, **kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` under ``policy``.

    The first attempt runs without any retry machinery so the common, successful
    case costs one function call; only a retryable failure enters tenacity.
    """
    try:
        return fn(*args, **kwargs)
    except Exception as err:
        if policy.attempts <= 1 or not is_retryable(err):
            raise
    time.sleep(random.uniform(0, policy.window(1)))
    return policy.retrying(already_failed=1)(fn, *args, **kwargs)


_NOTHING = object()


def resumable(make: Callable[[], Iterable[T]], position: Callable[[T], Any],
              policy: RetryPolicy = DEFAULT_POLICY) -> Iterator[T]:
    """Iterate ``make()`` (e.g. a paged listing), restarting it after a retryable failure.

    Items must come in ascending ``position`` order (listings are sorted), so
    a restarted iteration skips everything up to the last item already
    yielded: nothing is lost or yielded twice. Up to ``policy.attempts``
    consecutive failures without progress are tolerated, with the policy's
    random backoff between them; other errors propagate at once.
    """
    failures = 0
    last: Any = _NOTHING
    while True:
        progressed = False
        try:
            for item in make():
                pos = position(item)
                if last is not _NOTHING and pos <= last:
                    continue
                last = pos
                progressed = True
                yield item
            return
        except Exception as err:
            failures = 1 if progressed else failures + 1
            if failures >= policy.attempts or not is_retryable(err):
                raise
        time.sleep(random.uniform(0, policy.window(failures)))
