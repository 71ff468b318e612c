"""Auth0-style rate limit for the emulator: a token bucket that also reports its `x-ratelimit-*` headers."""

from __future__ import annotations

import math
import threading
from typing import Callable


class TokenBucket:
    """Auth0-style token bucket: `burst` requests at once, refilled at `per_second`."""

    def __init__(self, burst: int, per_second: float, clock: Callable[[], float]) -> None:
        self.burst = max(int(burst), 1)
        self.per_second = float(per_second)
        self.clock = clock
        self.tokens = float(self.burst)
        self.updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
        self.updated = max(self.updated, now)

    def take(self) -> tuple[bool, dict[str, str]]:
        """Consume one token if any; returns (allowed, x-ratelimit-* headers)."""
        with self._lock:
            now = self.clock()
            self._refill(now)
            allowed = self.tokens >= 1
            if allowed:
                self.tokens -= 1
            return allowed, self._headers(now)

    def peek(self) -> dict[str, str]:
        """The headers without consuming a token."""
        with self._lock:
            now = self.clock()
            self._refill(now)
            return self._headers(now)

    def _headers(self, now: float) -> dict[str, str]:
        missing = self.burst - self.tokens
        full_at = now + (missing / self.per_second if self.per_second > 0 else 86400.0)
        return {
            "x-ratelimit-limit": str(self.burst),
            "x-ratelimit-remaining": str(max(int(self.tokens), 0)),
            "x-ratelimit-reset": str(int(math.ceil(full_at))),
        }
