"""Waiting between attempts, shared by the Auth0 client and the webhook sender: one tenacity policy."""

from __future__ import annotations

import random
from contextlib import suppress
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping, NamedTuple

from tenacity import RetryCallState, Retrying, retry_if_result


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base * 2**attempt); attempt from 0."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return (rng or random).uniform(ceiling / 2, ceiling)


class Try(NamedTuple):
    """One attempt's result: `value` for the caller, or a `reason` to try again (see `RetryPolicy`)."""

    value: Any
    reason: str | None = None
    wait: float | None = None
    limited: bool = False


class RetryPolicy(Retrying):
    """`policy(attempt, *args)` calls `attempt` until its Try has no `reason`, else gives up returning the last Try.
    A failure waits `backoff(failures before it)`, at least its `wait` capped at `max_server_wait`, up to
    `max_attempts` tries; a `limited` Try waits its `wait` until those add up to more than `limit_budget`."""

    def __init__(self, *, max_attempts: int, backoff: Callable[[int], float], sleep: Callable[[float], None],
                 max_server_wait: float = float("inf"), limit_budget: float = float("inf"), **hooks: Any) -> None:
        super().__init__(sleep=sleep, wait=self._delay, retry_error_callback=lambda state: state.outcome.result(),
                         retry=retry_if_result(lambda last: last.reason is not None), **hooks,
                         stop=lambda _: self.statistics.get("failures", 0) >= self.max_attempts
                         or self.statistics.get("limited_for", 0.0) > limit_budget)
        self.max_attempts, self.backoff, self.max_server_wait = max_attempts, backoff, max_server_wait

    def _delay(self, state: RetryCallState) -> float:
        last: Try = state.outcome.result()
        if last.limited:
            self.statistics["limited_for"] = self.statistics.get("limited_for", 0.0) + last.wait
            return last.wait
        self.statistics["failures"] = failures = self.statistics.get("failures", 0) + 1
        if failures >= self.max_attempts:
            return 0.0  # giving up: draw no backoff from the injected rng
        return max(self.backoff(failures - 1), min(last.wait or 0.0, self.max_server_wait))


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asked us to wait: `Retry-After` (seconds or HTTP date), else None."""
    value = (headers.get("Retry-After") or headers.get("retry-after") or "").strip()
    with suppress(ValueError):
        return max(0.0, float(value))
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def rate_limit_wait(headers: Mapping[str, str], now: float, low: float = 1.0, high: float = 60.0) -> float:
    """A 429's wait: `Retry-After`, else until `x-ratelimit-reset` (a UNIX time), else `low`; within [low, high]."""
    wait = retry_after_seconds(headers, now)
    if wait is None:
        try:
            wait = float(headers.get("x-ratelimit-reset") or headers.get("X-RateLimit-Reset")) - now
        except (TypeError, ValueError):
            wait = low
    return min(high, max(low, wait))


def excerpt(text: str, limit: int = 200) -> str:
    """A short single-line excerpt of an answer body, for error messages."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
