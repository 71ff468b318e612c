"""End-to-end fixtures: `airflow standalone` (real scheduler, LocalExecutor, SQLite) in a
throw-away AIRFLOW_HOME, with the emulator and the receiver on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from auth0_webhooks_devtools.standalone import (  # noqa: F401 - re-exported for the test modules
    REPO,
    STARTUP_TIMEOUT,
    Standalone,
    free_port,
    start_standalone,
    stop,
    wait_until,
)


def _factory(directory: Path) -> Iterator:
    started: list[Standalone] = []

    def start(environment: dict[str, str]) -> Standalone:
        started.append(start_standalone(directory, environment))
        return started[-1]

    yield start
    for running in started:
        stop(running.process)


@pytest.fixture
def standalone_factory(tmp_path: Path) -> Iterator:
    """`start(environment)` -> Standalone; everything is stopped after the test."""
    yield from _factory(tmp_path)


@pytest.fixture(scope="module")
def module_standalone_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The same, shared by the tests of a module (one Airflow start for all of them)."""
    yield from _factory(tmp_path_factory.mktemp("standalone"))
