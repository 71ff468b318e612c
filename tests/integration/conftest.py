"""Integration fixtures: the machine's PostgreSQL and Redis (started, or installed, when they are not
running; a failure, never a skip, when neither works), a database and a Redis database number of
the test's own, and Airflow's distributed shape (CeleryExecutor) started natively on them."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from auth0_webhooks_devtools.distributed import (
    DistributedAirflow,
    RedisDatabase,
    ServiceUnavailable,
    TestDatabase,
    distributed_environment,
    ensure_postgres,
    ensure_redis,
)
from auth0_webhooks_devtools.standalone import free_port


def say(message: str) -> None:
    print(f"[integration] {message}", flush=True)


@pytest.fixture(scope="module")
def services() -> dict[str, str]:
    """PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, and how each was had."""
    try:
        how = {"postgres": ensure_postgres(say), "redis": ensure_redis(say)}
    except ServiceUnavailable as error:
        pytest.fail(f"the integration test needs PostgreSQL and Redis on this machine: {error}", pytrace=False)
    say(f"services: PostgreSQL {how['postgres']}, Redis {how['redis']}")
    return how


@pytest.fixture(scope="module")
def database(services) -> Iterator[TestDatabase]:
    """A database of the test's own, dropped afterwards."""
    db = TestDatabase()
    db.create(say)
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture(scope="module")
def broker(services) -> Iterator[RedisDatabase]:
    """A Redis database number of the test's own, flushed before and after."""
    redis_db = RedisDatabase()
    redis_db.claim()
    try:
        yield redis_db
    finally:
        redis_db.release()


@pytest.fixture
def distributed(tmp_path: Path, database: TestDatabase, broker: RedisDatabase) -> Iterator[Callable[..., DistributedAirflow]]:
    """`start(environment, workers={"w1": 3, ...})`: migrate, start the api-server, scheduler,
    dag-processor, triggerer and the Celery workers; return once all are up. Every process group
    is stopped afterwards, whatever happened."""
    started: list[DistributedAirflow] = []

    def start(environment: dict[str, str], workers: dict[str, int]) -> DistributedAirflow:
        env = distributed_environment(tmp_path, database, broker, free_port(), environment)
        airflow = DistributedAirflow(tmp_path, env)
        started.append(airflow)
        airflow.migrate()
        airflow.start_services()
        for name, concurrency in workers.items():
            airflow.start_worker(name, concurrency)
        airflow.wait_for_api()
        for name in workers:
            airflow.wait_for_worker(name)
        return airflow

    yield start
    for airflow in started:
        left = airflow.stop()
        assert not left, f"processes left running after SIGKILL: {left}"
