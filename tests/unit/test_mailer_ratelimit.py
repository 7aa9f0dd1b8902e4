"""The token bucket on a fake clock: the rate holds, bursts are bounded, threads share it."""

from __future__ import annotations

import threading

import pytest

from smtp_backend.mailer.ratelimit import TokenBucket


class FakeClock:
    """A clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


def test_the_first_second_is_a_burst_then_the_rate_holds() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(8)]
    assert waits[:5] == [0.0] * 5
    assert waits[5:] == pytest.approx([0.2, 0.4, 0.6])


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, burst=2, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire(), bucket.acquire()] == [0.0, 0.0]
    clock.now += 0.5  # one token back
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)
    clock.now += 3600  # idle for an hour: still only ``burst`` tokens
    waits = [bucket.acquire() for _ in range(4)]
    assert waits[:1] == [0.0]
    assert all(w > 0 for w in waits[2:])


def test_a_slow_rate_waits_whole_intervals() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.5, clock=clock, sleep=clock.sleep)
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(2.0)
    assert clock.sleeps == pytest.approx([2.0])


def test_threads_reserve_distinct_slots() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=1, clock=clock, sleep=clock.sleep)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = bucket.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(waits) == pytest.approx([i / 10 for i in range(20)])


@pytest.mark.parametrize("rate", [0, -1, float("nan")])
def test_a_rate_must_be_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be"):
        TokenBucket(rate)
