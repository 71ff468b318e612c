"""Continuous catch-up under a real scheduler: while a backlog remains after a run commits, the next
run starts at once (an asset event of the commit task), one run at a time, until caught up; a
caught-up run announces nothing, so an idle tenant runs on the schedule alone."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from auth0_webhooks.names import CONFIG_VARIABLE, DAG_ID
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def parse(value: str | None) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else 0.0


def test_a_backlog_bigger_than_a_run_is_drained_by_runs_that_follow_at_once(standalone_factory):
    with Auth0Emulator(client_id="cu", client_secret="cu-secret", seed=4) as emulator, WebhookReceiver() as receiver:
        logs = emulator.add_logs(1_900)
        airflow = standalone_factory({
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                      "login": "cu", "password": "cu-secret"}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{receiver.base_url}/hook"}),
            # The schedule never fires during the test: every run after the first is the backlog's.
            "AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(): json.dumps(
                {"schedule": "0 0 1 1 *", "max_logs_per_run": 500, "webhook_concurrent_calls": 2}),
        })
        api = airflow.api
        api.wait_for_dag(DAG_ID, timeout=180)
        first = api.unpause_and_run(DAG_ID)  # the run unpausing starts (catchup off: the latest interval)

        def drained():
            runs = api.call("GET", f"/dags/{DAG_ID}/dagRuns?limit=100&order_by=run_after")["dag_runs"]
            done = [run for run in runs if run["state"] in ("success", "failed")]
            return runs if len(done) == len(runs) >= 4 else None

        runs = wait_until(drained, timeout=600, what="four runs to drain the backlog", every=3)
        time.sleep(15)  # a caught-up run announces nothing: no fifth run follows
        runs = api.call("GET", f"/dags/{DAG_ID}/dagRuns?limit=100&order_by=run_after")["dag_runs"]
        assert [run["state"] for run in runs] == ["success"] * 4, runs
        assert runs[0]["dag_run_id"] == first
        assert [run["run_type"] for run in runs[1:]] == ["asset_triggered"] * 3
        for before, after in zip(runs, runs[1:]):  # one at a time, the next within seconds of the last
            assert parse(after["start_date"]) >= parse(before["end_date"])
            assert parse(after["start_date"]) - parse(before["end_date"]) < 30
        received = [log_id for request in receiver.requests if request.delivered for log_id in request.log_ids]
        assert sorted(received) == sorted(log["log_id"] for log in logs)
        assert not [log_id for log_id, count in Counter(received).items() if count > 1]
