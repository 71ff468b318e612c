"""Auth0NewLogsTrigger, the event-driven mode's watcher, driven with asyncio against the emulator:
it fires for a log past the checkpoint (or no checkpoint), not for nothing, not twice for one
checkpoint while the run works, again once that run commits or the re-arm period passes, and it
outlives rate limits, server errors and a client that gives up."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from typing import Any

import pytest

from auth0_webhooks import runtime
from auth0_webhooks.auth0_client import Auth0ApiError, CheckpointExpired
from auth0_webhooks.triggers.new_logs import Auth0NewLogsTrigger, Fired, due, error_wait
from auth0_webhooks_devtools.emulator import Auth0Emulator

CONN_ID, VARIABLE = "auth0_trigger_test", "auth0_webhooks_checkpoint__trigger_test"
POLL = 0.05


@pytest.fixture
def emulator(monkeypatch, tmp_path):
    with Auth0Emulator(client_id="trig", client_secret="trig-secret", seed=5, logs=5) as tenant:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(
            {"conn_type": "auth0", "host": tenant.base_url, "login": "trig", "password": "trig-secret"}))
        monkeypatch.setenv("AUTH0_WEBHOOKS_TOKEN_CACHE", str(tmp_path / "tokens"))
        yield tenant


@pytest.fixture
def variables(monkeypatch) -> dict[str, str]:
    store: dict[str, str] = {}
    monkeypatch.setattr(runtime, "variable_get", lambda key: store.get(key))
    return store


def trigger(**kwargs: Any) -> Auth0NewLogsTrigger:
    return Auth0NewLogsTrigger(**{"auth0_conn_id": CONN_ID, "checkpoint_variable": VARIABLE, "poll_seconds": POLL,
                                  **kwargs})


class Events:
    """A trigger's event stream: `next(timeout)` gives the next payload, or None when none comes in time
    (the pending read is kept: an async generator cannot be re-entered)."""

    def __init__(self, watcher: Auth0NewLogsTrigger) -> None:
        self.stream = watcher.run()
        self.pending: asyncio.Future | None = None

    async def next(self, timeout: float) -> dict | None:
        if self.pending is None:
            self.pending = asyncio.ensure_future(self.stream.__anext__())
        done, _ = await asyncio.wait({self.pending}, timeout=timeout)
        if not done:
            return None
        event, self.pending = self.pending.result(), None
        return event.payload

    async def close(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await self.pending
        await self.stream.aclose()


def run_with(watcher: Auth0NewLogsTrigger, body) -> Any:
    """Run `body(events)` in an event loop, as the triggerer runs the trigger; closes the trigger after."""
    async def main():
        events = Events(watcher)
        try:
            return await body(events)
        finally:
            await events.close()

    return asyncio.run(main())


def checkpoint_reads(tenant: Auth0Emulator) -> int:
    return tenant.stats()["checkpoint_requests"]


# -- the pure rules --------------------------------------------------------------------------------


def test_due_until_fired_then_only_when_the_checkpoint_moves_or_the_rearm_period_passes():
    assert due(None, "100", now=0.0, rearm_seconds=600)
    fired = Fired("100", at=10.0)
    assert not due(fired, "100", now=11.0, rearm_seconds=600)  # the run it caused works
    assert due(fired, "200", now=11.0, rearm_seconds=600)  # the run committed
    assert due(fired, "100", now=610.0, rearm_seconds=600)  # the run failed or never started
    assert not due(Fired(None, at=10.0), None, now=11.0, rearm_seconds=600)
    assert due(Fired(None, at=10.0), "100", now=11.0, rearm_seconds=600)


def test_error_wait_doubles_from_the_poll_interval_up_to_five_minutes():
    assert [error_wait(5, n) for n in (1, 2, 3)] == [5, 10, 20]
    assert error_wait(5, 20) == 300


def test_serialize_round_trip_with_plain_kwargs():
    original = trigger(poll_seconds=7, rearm_seconds=120)
    classpath, kwargs = original.serialize()
    assert classpath == "auth0_webhooks.triggers.new_logs.Auth0NewLogsTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs == {"auth0_conn_id": CONN_ID, "checkpoint_variable": VARIABLE,
                                                         "poll_seconds": 7.0, "rearm_seconds": 120.0}
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert Auth0NewLogsTrigger.hash(classpath, kwargs) == Auth0NewLogsTrigger.hash(*rebuilt.serialize())


# -- against the emulator ---------------------------------------------------------------------------


def test_fires_for_a_log_past_the_checkpoint(emulator, variables):
    variables[VARIABLE] = emulator.log_ids[2]

    async def body(events):
        return await events.next(10)

    payload = run_with(trigger(), body)
    assert payload == {"checkpoint_variable": VARIABLE, "reason": "new logs", "checkpoint": emulator.log_ids[2],
                       "first_new_log_id": emulator.log_ids[3]}


def test_fires_at_once_without_a_checkpoint_and_without_reading_the_tenant(emulator, variables):
    async def body(events):
        return await events.next(10)

    assert run_with(trigger(), body) == {"checkpoint_variable": VARIABLE, "reason": "no checkpoint yet",
                                         "checkpoint": None}
    assert checkpoint_reads(emulator) == 0


def test_does_not_fire_while_nothing_is_new_and_reads_once_a_poll_interval(emulator, variables):
    variables[VARIABLE] = emulator.log_ids[-1]

    async def body(events):
        return await events.next(1.0)

    assert run_with(trigger(poll_seconds=0.2), body) is None
    assert 3 <= checkpoint_reads(emulator) <= 6  # 1 s at one read every 0.2 s


def test_does_not_fire_twice_for_one_checkpoint_then_fires_past_the_committed_one(emulator, variables):
    variables[VARIABLE] = emulator.log_ids[0]

    async def body(events):
        first = await events.next(10)
        reads = checkpoint_reads(emulator)
        again = await events.next(1.0)  # logs are still past the checkpoint: the run is working
        reads_while_working = checkpoint_reads(emulator) - reads
        variables[VARIABLE] = emulator.log_ids[-1]  # the run committed everything
        nothing_new = await events.next(0.5)
        new = emulator.add_logs(1)[0]["log_id"]
        after_commit = await events.next(10)
        return first, again, reads_while_working, nothing_new, new, after_commit

    first, again, reads_while_working, nothing_new, new, after_commit = run_with(trigger(), body)
    assert first["checkpoint"] == emulator.log_ids[0]
    assert again is None and reads_while_working == 0
    assert nothing_new is None
    assert after_commit["first_new_log_id"] == new


def test_fires_again_for_an_unchanged_checkpoint_after_the_rearm_period(emulator, variables):
    variables[VARIABLE] = emulator.log_ids[0]

    async def body(events):
        loop = asyncio.get_running_loop()
        first = await events.next(10)
        fired_at = loop.time()
        second = await events.next(10)
        return first, second, loop.time() - fired_at

    first, second, between = run_with(trigger(rearm_seconds=0.6), body)
    assert first["checkpoint"] == second["checkpoint"] == emulator.log_ids[0]
    assert between >= 0.6


def test_waits_out_a_rate_limit_and_server_errors(emulator, variables):
    variables[VARIABLE] = emulator.log_ids[0]
    emulator.script("logs", ["429", "500", "503"])

    async def body(events):
        return await events.next(30)

    payload = run_with(trigger(), body)
    assert payload["first_new_log_id"] == emulator.log_ids[1]
    assert emulator.stats()["status_429"] == 1


def test_outlives_a_client_that_gives_up(emulator, variables, monkeypatch):
    variables[VARIABLE] = emulator.log_ids[0]
    watcher = trigger()
    failures = iter([Auth0ApiError("logs request failed 6 times; last: HTTP 503", 503), ConnectionError("reset")])
    real = watcher._newer

    def flaky(checkpoint: str) -> list[dict]:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(checkpoint)

    monkeypatch.setattr(watcher, "_newer", flaky)

    async def body(events):
        return await events.next(10)

    assert run_with(watcher, body)["first_new_log_id"] == emulator.log_ids[1]
    assert next(failures, None) is None  # both failures were met, and waited on


def test_an_expired_checkpoint_starts_a_run(emulator, variables, monkeypatch):
    variables[VARIABLE] = "000001"
    watcher = trigger()

    def expired(checkpoint: str) -> list[dict]:
        raise CheckpointExpired(checkpoint, "HTTP 400")

    monkeypatch.setattr(watcher, "_newer", expired)

    async def body(events):
        return await events.next(10)

    assert run_with(watcher, body)["reason"] == "checkpoint older than the tenant's retention"


def test_a_variable_that_cannot_be_read_is_tried_again(emulator, monkeypatch):
    answers = iter([RuntimeError("api server down")])

    def flaky_get(key: str) -> str | None:
        error = next(answers, None)
        if error is not None:
            raise error
        return emulator.log_ids[0]

    monkeypatch.setattr(runtime, "variable_get", flaky_get)

    async def body(events):
        return await events.next(10)

    assert run_with(trigger(), body)["checkpoint"] == emulator.log_ids[0]


# -- the schedule in event-driven mode ----------------------------------------------------------------


def test_event_driven_schedule_is_any_of_the_fallback_the_backlog_and_the_watched_asset():
    from airflow.sdk import AssetOrTimeSchedule
    from airflow.sdk.definitions.asset import AssetAny

    from auth0_webhooks.pipelines import Pipeline
    from auth0_webhooks.scheduling import backlog_asset, dag_schedule
    from auth0_webhooks.settings import parse_settings

    pipeline = Pipeline(name="eu", auth0_conn_id="auth0_eu")
    schedule = dag_schedule(pipeline.dag_id, parse_settings({"event_driven": True, "event_poll_seconds": 7}),
                            pipeline=pipeline)
    assert isinstance(schedule, AssetOrTimeSchedule) and schedule.timetable.expression == "0 * * * *"  # @hourly
    condition = schedule.asset_condition
    assert isinstance(condition, AssetAny)  # any one starts a run (a list would mean all of them)
    backlog, watched = condition.objects
    assert backlog == backlog_asset(pipeline.dag_id)
    assert watched.name == f"auth0_webhooks_new_logs__{pipeline.dag_id}"
    (watcher,) = watched.watchers
    assert watcher.trigger.serialize()[1] == {"auth0_conn_id": "auth0_eu", "checkpoint_variable":
                                                   "auth0_webhooks_checkpoint__eu", "poll_seconds": 7.0, "rearm_seconds": 600.0}

    explicit = dag_schedule(pipeline.dag_id, parse_settings({"event_driven": True, "schedule": "@daily"}),
                            pipeline=pipeline)
    assert explicit.timetable.expression == "0 0 * * *"
    assert isinstance(dag_schedule(pipeline.dag_id, parse_settings({"event_driven": True, "schedule": None}),
                                   pipeline=pipeline), AssetAny)  # no fallback: events and backlogs only
    off = dag_schedule(pipeline.dag_id, parse_settings({}), pipeline=pipeline)
    assert off.timetable.expression == "*/5 * * * *" and not any(
        getattr(asset, "watchers", None) for asset in off.asset_condition.objects)


def test_a_dag_on_the_watched_asset_serializes_with_its_trigger():
    from datetime import datetime

    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    from auth0_webhooks.scheduling import dag_schedule
    from auth0_webhooks.settings import parse_settings

    with DAG("event_driven_serialization", schedule=dag_schedule("event_driven_serialization",
                                                                 parse_settings({"event_driven": True})),
             start_date=datetime(2024, 1, 1)) as dag:
        pass
    text = json.dumps(DagSerialization.to_dict(dag))
    assert json.dumps({"classpath": "auth0_webhooks.triggers.new_logs.Auth0NewLogsTrigger", "kwargs": {
        "auth0_conn_id": "auth0_default", "checkpoint_variable": "auth0_webhooks_checkpoint", "poll_seconds": 5.0,
        "rearm_seconds": 600.0}}) in text
