"""Unit-test helpers shared by the client tests: a clock that moves only when code sleeps."""

from __future__ import annotations

import pytest

T0 = 1_800_000_000.0


class FakeTime:
    """A clock that only moves when the client sleeps (or a test advances it)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()
