"""The retry policy, as data: what is retryable, how long to wait, when to stop.

Exponential random-window backoff: attempt ``n`` waits a uniformly random
time in ``[0, min(60, 0.5 * 2**(n-1))]`` seconds, so a cluster of clients that
failed together spreads out. Seven attempts in all, and none starts more than
``total`` seconds (default 120, ``$CLOUDFILES_RETRY_DEADLINE``) after the first
began. A server's ``Retry-After`` (seconds or an HTTP-date) replaces the random
wait, capped at ``max_retry_after`` (default 60 s). Only transient failures
(dropped connections, idle timeouts, short bodies, 429, 5xx, integrity
mismatches) are retried; 400/401/403/404, TLS certificate failures, an exceeded
request deadline and over-large responses fail at once. Every retry is logged
(logger ``cloudfiles``, level WARNING) with the failure it retries.
"""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, TypeVar

from .exceptions import (
    DeadlineExceededError,
    IntegrityError,
    InvalidInputError,
    ResponseTooLargeError,
    TLSVerificationError,
    TransientError,
)

if TYPE_CHECKING:
    import logging

T = TypeVar("T")


def _log() -> "logging.Logger":
    import logging  # only when a retry is reported: keeps ``import cloudfiles`` light

    return logging.getLogger("cloudfiles")

#: default bound (seconds) on the time all attempts of one call may take to start
DEFAULT_TOTAL = 120.0
#: default cap (seconds) on a server's ``Retry-After``
DEFAULT_MAX_RETRY_AFTER = 60.0

RETRYABLE: tuple[type[BaseException], ...] = (
    TransientError,
    IntegrityError,
    ConnectionError,
    TimeoutError,  # socket.timeout is an alias of it
)
#: failures a later attempt will not cure, although they look like connection errors
NOT_RETRYABLE: tuple[type[BaseException], ...] = (
    TLSVerificationError,
    DeadlineExceededError,
    ResponseTooLargeError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, how the random window grows, and the bounds on waiting.

    ``total`` (seconds; ``None``: ``$CLOUDFILES_RETRY_DEADLINE`` or 120) bounds one
    call: no attempt starts, and no wait runs, past ``total`` seconds after the first
    attempt began (an attempt under way is bounded by the request ``deadline``).
    A ``Retry-After`` from the server replaces the random wait, capped at
    ``max_retry_after`` seconds.
    """

    attempts: int = 7
    initial_window: float = 0.5
    max_window: float = 60.0
    total: Optional[float] = None
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def window(self, failures: int) -> float:
        """Upper bound of the random wait after ``failures`` failed attempts."""
        return min(self.max_window, self.initial_window * 2 ** (failures - 1))

    def budget(self) -> float:
        """``total``, else ``$CLOUDFILES_RETRY_DEADLINE``, else :data:`DEFAULT_TOTAL`."""
        if self.total is not None:
            return self.total
        raw = os.environ.get("CLOUDFILES_RETRY_DEADLINE", "").strip()
        if not raw:
            return DEFAULT_TOTAL
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value >= 0:
            raise InvalidInputError(f"$CLOUDFILES_RETRY_DEADLINE must be a number of seconds >= 0, got {raw!r}")
        return value

    def wait(self, err: BaseException, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure, ``err``."""
        asked = getattr(err, "retry_after", None)
        if asked is not None:
            return min(float(asked), self.max_retry_after)
        return random.uniform(0, self.window(failures))


DEFAULT_POLICY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def is_retryable(err: BaseException) -> bool:
    """True for failures a later attempt may cure."""
    if isinstance(err, NOT_RETRYABLE):
        return False
    if isinstance(err, RETRYABLE):
        return True
    # socket, requests and botocore connection errors are translated by backends, but
    # be forgiving for anything that subclasses OSError with a connection errno.
    return isinstance(err, OSError) and err.errno in (104, 110, 111, 32)  # reset, timeout, refused, pipe


def _pause(err: BaseException, failures: int, policy: RetryPolicy, started: float) -> bool:
    """Sleep before the next attempt and return True, or return False to give up.

    Each retry is logged as a warning naming the failure (the CLI prints them).
    """
    if failures >= policy.attempts or not is_retryable(err):
        return False
    wait = policy.wait(err, failures)
    elapsed = time.monotonic() - started
    budget = policy.budget()
    if elapsed + wait > budget:
        err.add_note(f"cloudfiles: gave up after {failures} attempt(s) in {elapsed:.1f} s: the next one "
                     f"would start past the retry deadline of {budget:g} s")
        return False
    from .redact import redact

    _log().warning("cloudfiles: %s: %s; retrying in %.1f s (attempt %d of %d)",
                   type(err).__name__, redact(str(err)), wait, failures + 1, policy.attempts)
    time.sleep(wait)
    return True


def call(fn: Callable[..., T], *args, policy: RetryPolicy = DEFAULT_POLICY, **kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` under ``policy``.

    The first attempt runs without any retry machinery so the common, successful
    case costs one function call; only a retryable failure enters the loop.
    """
    started = time.monotonic()
    failures = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            failures += 1
            if not _pause(err, failures, policy, started):
                raise


_NOTHING = object()


def resumable(make: Callable[[Any], Iterable[T]], position: Callable[[T], Any],
              policy: RetryPolicy = DEFAULT_POLICY) -> Iterator[T]:
    """Iterate ``make(None)`` (e.g. a paged listing), resuming it after a retryable failure.

    Items must come in ascending ``position`` order (listings are sorted). After
    a failure the iteration is made again as ``make(last)``, ``last`` the
    position of the last item yielded, so a listing asks the service for what
    follows it (``start_after``) instead of starting over at page 1; items at or
    before ``last`` are still skipped, so nothing is yielded twice even if
    ``make`` ignores its argument. Up to ``policy.attempts`` consecutive
    failures without progress are tolerated, with the policy's random backoff
    between them; other errors propagate at once.
    """
    failures = 0
    started = time.monotonic()
    last: Any = _NOTHING
    while True:
        progressed = False
        try:
            for item in make(None if last is _NOTHING else last):
                pos = position(item)
                if last is not _NOTHING and pos <= last:
                    continue
                last = pos
                progressed = True
                yield item
            return
        except Exception as err:
            if progressed:
                failures, started = 0, time.monotonic()
            failures += 1
            if not _pause(err, failures, policy, started):
                raise
