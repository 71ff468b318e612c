"""Waiting between attempts, shared by the Auth0 client and the webhook sender."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from typing import Mapping


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base * 2**attempt); attempt from 0."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asked us to wait: `Retry-After` (seconds or HTTP date), else None."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def rate_limit_reset_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until `x-ratelimit-reset` (a UNIX time), else None."""
    value = headers.get("x-ratelimit-reset") or headers.get("X-RateLimit-Reset")
    if not value:
        return None
    try:
        return max(0.0, float(value) - now)
    except ValueError:
        return None


def excerpt(text: str, limit: int = 200) -> str:
    """A short single-line excerpt of an answer body, for error messages."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
