"""The `benchmarks` marker: select these tests with `-m benchmarks`, or leave them out with
`-m "not benchmarks"`."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "benchmarks: runs the benchmark harness (python -m benchmarks --tiny)")
