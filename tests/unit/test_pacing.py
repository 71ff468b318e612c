"""auth0_webhooks.pacing: the pace converges on the bucket's refill rate, with no 429.

The bucket is the emulator's TokenBucket (Auth0's headers: remaining rounded down, reset
rounded up), driven by a fake clock, so these runs are exact and take milliseconds.
"""

from __future__ import annotations

import pytest

from auth0_webhooks_devtools.emulator import TokenBucket
from auth0_webhooks.pacing import RateLimitHeaders, RatePacer


class Clock:
    def __init__(self, start: float = 1_700_000_000.25) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def drive(burst: int, per_second: float, requests: int, rtt: float = 0.004) -> tuple[float, int]:
    """Send `requests` paced requests through a bucket; return (requests per second, 429 count)."""
    clock = Clock()
    bucket = TokenBucket(burst, per_second, clock)
    pacer = RatePacer()
    refused = 0
    started = clock.now
    sent = 0
    while sent < requests:
        clock.now += pacer.delay(clock.now)
        sent_at = clock.now
        clock.now += rtt / 2
        allowed, headers = bucket.take()
        clock.now += rtt / 2
        pacer.observe(headers, sent_at, clock.now, refused=not allowed)
        if allowed:
            sent += 1
        else:
            refused += 1
            clock.now = max(clock.now, float(headers["x-ratelimit-reset"]))
    return sent / (clock.now - started), refused


@pytest.mark.parametrize(
    "burst,per_second",
    [(50, 16.0), (10, 100 / 60), (2, 2.0), (100, 50.0)],
    ids=["enterprise", "essentials", "free", "large"],
)
def test_pace_reaches_the_refill_rate_without_a_429(burst, per_second):
    requests = int(per_second * 300) + burst  # five minutes at the ceiling
    rate, refused = drive(burst, per_second, requests)
    ceiling = (requests) / ((requests - burst) / per_second)  # the burst is free, the rest refills
    assert refused == 0
    assert rate >= 0.97 * ceiling


def test_slow_round_trips_never_overrun_the_bucket():
    rate, refused = drive(10, 100 / 60, 400, rtt=0.35)
    assert refused == 0
    assert rate > 0.9 * 100 / 60


def test_the_rate_is_learned_as_a_lower_bound():
    pacer = RatePacer()
    # 50-token bucket refilling at 16/s, 0.6 tokens left: full in 3.09 s, header rounded up.
    pacer.observe({"x-ratelimit-limit": "50", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1004"},
                  sent_at=1000.9, received_at=1000.91, refused=False)
    assert pacer.rate is not None and pacer.rate <= 16.0
    assert pacer.delay(1000.91) == pytest.approx(1 / pacer.rate)


def test_a_whole_token_left_means_no_wait():
    pacer = RatePacer()
    pacer.observe({"x-ratelimit-limit": "50", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "1002"},
                  sent_at=1000.0, received_at=1000.01, refused=False)
    assert pacer.delay(1000.01) == 0.0


def test_without_a_bound_an_empty_bucket_waits_for_reset():
    pacer = RatePacer()
    pacer.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1005"},
                  sent_at=1000.0, received_at=1000.01, refused=False)
    assert pacer.delay(1000.01) == pytest.approx(4.99)


def test_a_429_lowers_the_estimate():
    pacer = RatePacer()
    headers = {"x-ratelimit-limit": "50", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1004"}
    pacer.observe(headers, sent_at=1000.9, received_at=1000.91, refused=False)
    learned = pacer.rate
    pacer.observe(headers | {"x-ratelimit-reset": "1005"}, sent_at=1001.0, received_at=1001.01, refused=True)
    pacer.observe(headers, sent_at=1000.9, received_at=1000.91, refused=False)
    assert pacer.rate == pytest.approx(learned * 0.5)  # the ceiling halves


def test_contradictory_answers_are_forgotten():
    pacer = RatePacer()
    pacer.observe({"x-ratelimit-limit": "50", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1004"},
                  sent_at=1000.9, received_at=1000.91, refused=False)
    # The bucket became ten times smaller: the old lower bound is above the new upper bound.
    pacer.observe({"x-ratelimit-limit": "5", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"},
                  sent_at=1001.0, received_at=1001.01, refused=False)
    assert pacer.rate is None


@pytest.mark.parametrize("headers", [{}, {"x-ratelimit-remaining": "x", "x-ratelimit-reset": "1"},
                                     {"x-ratelimit-remaining": "nan", "x-ratelimit-reset": "1"}])
def test_missing_or_broken_headers_are_ignored(headers):
    assert RateLimitHeaders.parse(headers) is None
    pacer = RatePacer()
    pacer.observe(headers, 0.0, 0.0, refused=False)
    assert pacer.delay(0.0) == 0.0


def test_no_wait_is_longer_than_a_minute():
    far = RatePacer()  # a reset hours away (a proxy's header, or milliseconds)
    far.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000000"}, 1000.0, 1000.0, refused=False)
    assert far.delay(1000.0) == 60.0
    slow = RatePacer()  # a rate learned as tiny
    slow.observe({"x-ratelimit-limit": "50", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "100000"},
                 sent_at=1000.0, received_at=1000.0, refused=False)
    assert 0 < slow.rate < 0.01 and slow.delay(1000.0) == 60.0
