"""Pacing on Auth0's token bucket: read as fast as the rate limit allows, never faster.

Auth0 answers every Management API call with `x-ratelimit-limit` (the bucket size),
`x-ratelimit-remaining` (whole tokens left) and `x-ratelimit-reset` (UNIX second at which the
bucket is full again). The refill rate itself is not sent, but each answer bounds it:

    tokens left  in [remaining, remaining + 1)    (the header is rounded down)
    full again   in (reset - 1, reset]            (the header is rounded up)
    served at    in [sent_at, received_at]

so   (limit - remaining - 1) / (reset - sent_at)  <=  rate  <=  (limit - remaining) / (reset - 1 - received_at).

The pacer keeps the best lower bound: it sends at once while a whole token is left, else waits 1 / rate.
Waiting a little too long is not lost: the surplus shows up as `remaining >= 1`, so the pace converges on
the true rate. The rest (no bound yet, the one-minute cap, the clock, a 429): README, "Reading at the rate limit".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

MAX_WAIT_SECONDS = 60.0  # a `reset` far off (a proxy's header, milliseconds) never parks a run for long


@dataclass(frozen=True)
class RateLimitHeaders:
    """The `x-ratelimit-*` values of one answer (`limit` None when it was not sent)."""

    limit: int | None
    remaining: int
    reset: float

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> "RateLimitHeaders | None":
        """The headers of an answer, or None when `remaining` or `reset` is missing or not a number."""
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
            limit = float(headers["x-ratelimit-limit"]) if headers.get("x-ratelimit-limit") else None
        except (KeyError, TypeError, ValueError):
            return None
        if not all(math.isfinite(value) for value in (remaining, reset, limit or 1.0)):
            return None
        return cls(int(limit) if limit and limit >= 1 else None, max(0, int(remaining)), reset)


class RatePacer:
    """Decides how long to wait before the next request, from the answers seen so far."""

    def __init__(self) -> None:
        self.rate: float | None = None  # best lower bound of the refill rate, requests per second
        self._upper = math.inf  # best upper bound, to detect a bucket that changed
        self._cap = math.inf  # lowered after a 429: the estimate was too optimistic
        self._next_at = 0.0

    def observe(self, headers: Mapping[str, str], sent_at: float, received_at: float, refused: bool) -> None:
        """Learn from one answer (`refused`: it was a 429) and set the earliest next send time."""
        seen = RateLimitHeaders.parse(headers)
        if seen is None:
            return
        if refused and self.rate is not None:
            self._cap = min(self._cap, self.rate * 0.5)
            self.rate, self._upper = None, math.inf  # relearn below the cap
        self._learn(seen, sent_at, received_at)
        if refused:
            return  # the caller waits for Retry-After / reset itself
        if seen.remaining >= 1:
            self._next_at = 0.0
        elif self.rate:
            self._next_at = received_at + min(1.0 / self.rate, MAX_WAIT_SECONDS)
        else:
            self._next_at = min(max(seen.reset, received_at), received_at + MAX_WAIT_SECONDS)

    def delay(self, now: float) -> float:
        """Seconds to wait before the next request may be sent."""
        return max(0.0, self._next_at - now)

    def _learn(self, seen: RateLimitHeaders, sent_at: float, received_at: float) -> None:
        if seen.limit is None:
            return
        missing_low, missing_high = seen.limit - seen.remaining - 1, seen.limit - seen.remaining
        if missing_low > 0 and seen.reset > sent_at:
            self.rate = max(self.rate or 0.0, min(missing_low / (seen.reset - sent_at), self._cap))
        if missing_high > 0 and seen.reset - 1 > received_at:
            self._upper = min(self._upper, missing_high / (seen.reset - 1 - received_at))
        if self.rate is not None and self._upper < self.rate:
            # Contradictory answers: the tenant's limit changed, or clocks disagree. Start over.
            self.rate, self._upper = None, math.inf
