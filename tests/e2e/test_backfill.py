"""A backfill under a real scheduler (airflow standalone), created as the UI's Backfill dialog does
(`POST /api/v2/backfills`): three hourly intervals of more than 1,000 logs each are delivered
exactly, nothing from outside them, no duplicates, and the live checkpoint is unchanged."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SPACING = 3.0  # seconds between logs: 1,200 an hour


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_backfill_of_three_hourly_intervals_delivers_exactly_their_logs(standalone_factory):
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    first = hour - timedelta(hours=6)
    with Auth0Emulator(client_id="bf", client_secret="bf-secret", seed=9, logs=int(5.5 * 3600 / SPACING),
                       start_date=first, spacing_seconds=SPACING) as emulator, WebhookReceiver() as receiver:
        airflow = standalone_factory({
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                      "login": "bf", "password": "bf-secret"}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{receiver.base_url}/hook"}),
            "AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(): json.dumps(
                {"schedule": "0 * * * *", "batch_size": 100, "webhook_concurrent_calls": 3}),
        })
        api = airflow.api
        api.wait_for_dag(DAG_ID, timeout=180)
        newest = emulator.log_ids[-1]
        api.call("POST", "/variables", json={"key": CHECKPOINT_VARIABLE, "value": newest})  # live: caught up
        api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

        backfill = api.create_backfill({"dag_id": DAG_ID, "from_date": (first + timedelta(hours=1)).isoformat(),
                                        "to_date": (first + timedelta(hours=3)).isoformat(), "max_active_runs": 2})
        wait_until(lambda: api.call("GET", f"/backfills/{backfill['id']}").get("completed_at"), timeout=600,
                   what="the backfill to complete", every=3)
        runs = [run for run in api.call("GET", f"/dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"]
                if run["run_type"] == "backfill"]
        assert len(runs) == 3 and {run["state"] for run in runs} == {"success"}, runs

        every = emulator_logs(emulator)
        expected: list[str] = []
        for run in sorted(runs, key=lambda run: run["data_interval_start"]):
            start, end = parsed(run["data_interval_start"]), parsed(run["data_interval_end"])
            assert end - start == timedelta(hours=1)
            inside = [log["log_id"] for log in every if start <= parsed(log["date"]) < end]
            assert len(inside) > 1000
            expected += inside
        received = [log_id for request in receiver.requests if request.delivered for log_id in request.log_ids]
        duplicates = [log_id for log_id, count in Counter(received).items() if count > 1]
        assert not duplicates, f"{len(duplicates)} logs delivered twice"
        assert sorted(received) == sorted(expected)  # exactly the window: nothing before, after, or missing
        assert api.call("GET", f"/variables/{CHECKPOINT_VARIABLE}")["value"] == newest  # live: untouched


def emulator_logs(emulator: Auth0Emulator) -> list[dict]:
    """Every log the tenant holds, through its API (checkpoint mode from the oldest)."""
    from auth0_webhooks.auth0_client import Auth0Credentials, Auth0LogsClient

    client = Auth0LogsClient(Auth0Credentials.from_domain(emulator.base_url, "bf", "bf-secret"))
    logs = [client.first_log()]
    while page := client.logs_after(logs[-1]["log_id"], 100):
        logs += page
    return logs
