import threading
import time

import pytest

from cloudfiles import retry
from cloudfiles.exceptions import AuthorizationError, IntegrityError, NotFoundError, ServerError, ThrottledError
from cloudfiles.scheduler import schedule

FAST = retry.RetryPolicy(attempts=7, initial_window=0.001)


def flaky(failures, exc):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= failures:
            raise exc
        return "ok"

    return fn, calls


@pytest.mark.parametrize("exc", [ServerError("503"), ThrottledError("429"), IntegrityError("md5"),
                                 ConnectionResetError(104, "reset"), TimeoutError("slow")])
def test_transient_errors_are_retried(exc):
    fn, calls = flaky(3, exc)
    assert retry.call(fn, policy=FAST) == "ok"
    assert len(calls) == 4


@pytest.mark.parametrize("exc", [NotFoundError("404"), AuthorizationError("403"), ValueError("bad")])
def test_permanent_errors_are_not_retried(exc):
    fn, calls = flaky(1, exc)
    with pytest.raises(type(exc)):
        retry.call(fn, policy=FAST)
    assert len(calls) == 1


def test_gives_up_after_seven_attempts():
    fn, calls = flaky(100, ServerError("down"))
    with pytest.raises(ServerError):
        retry.call(fn, policy=FAST)
    assert len(calls) == 7


def test_backoff_window_doubles_and_is_random():
    p = retry.RetryPolicy()
    assert [p.window(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 32, 60]
    # waits are drawn from [0, window]: measure the total sleep of a short policy
    fast = retry.RetryPolicy(attempts=4, initial_window=0.02)
    fn, calls = flaky(3, ServerError("x"))
    t0 = time.perf_counter()
    retry.call(fn, policy=fast)
    assert time.perf_counter() - t0 < 0.02 + 0.04 + 0.08 + 0.05


def test_schedule_runs_everything_concurrently_and_bounded():
    active, peak = [0], [0]
    lock = threading.Lock()

    def work(i):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        return i * 2

    out = list(schedule(work, (i for i in range(60)), concurrency=6, total=60))
    assert sorted(out) == [i * 2 for i in range(60)]
    assert 2 <= peak[0] <= 6


def test_small_jobs_do_not_spawn_threads():
    before = threading.active_count()
    seen = []
    out = list(schedule(lambda i: seen.append(threading.current_thread()) or i, [1], concurrency=50))
    assert out == [1] and seen == [threading.current_thread()]
    assert threading.active_count() == before


def test_worker_exception_propagates():
    def boom(i):
        if i == 5:
            raise RuntimeError("boom")
        return i

    with pytest.raises(RuntimeError, match="boom"):
        list(schedule(boom, range(20), concurrency=4))


def test_green_and_executor_modes():
    from concurrent.futures import ThreadPoolExecutor

    assert sorted(schedule(lambda i: i + 1, range(30), concurrency=5, green=True)) == list(range(1, 31))
    with ThreadPoolExecutor(3) as ex:
        assert sorted(schedule(lambda i: i, range(30), executor=ex)) == list(range(30))


def test_progress_bar(capsys):
    list(schedule(lambda i: i, range(10), concurrency=2, progress=True, desc="Working"))
    assert "Working" in capsys.readouterr().err
