"""What a user does in the UI, under a real dag-processor: edit the config Variable and watch the
schedule follow; break it and still see the DAG, with runs failing on a message that names the key."""

from __future__ import annotations

import json
import time

import pytest

from auth0_webhooks.names import CONFIG_VARIABLE, DAG_ID

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def wait_until(check, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


def test_schedule_follows_the_variable_and_a_bad_setting_never_hides_the_dag(standalone_factory):
    airflow = standalone_factory({})
    api = airflow.api
    api.wait_for_dag(DAG_ID, timeout=180)
    assert "*/5 * * * *" in json.dumps(api.call("GET", f"/dags/{DAG_ID}/details"))

    api.call("POST", "/variables", json={"key": CONFIG_VARIABLE, "value": json.dumps({"schedule": "@hourly"})})
    wait_until(lambda: "0 * * * *" in json.dumps(api.call("GET", f"/dags/{DAG_ID}/details")),
               what="the new schedule to show")

    api.call("PATCH", f"/variables/{CONFIG_VARIABLE}",
             json={"key": CONFIG_VARIABLE, "value": json.dumps({"batch_size": 500, "schedule": "@hourly"})})
    details = wait_until(
        lambda: (d := api.call("GET", f"/dags/{DAG_ID}/details")) and "Settings problem" in (d.get("doc_md") or "") and d,
        what="the settings problem to show in the DAG's docs")
    assert "batch_size=500 is not allowed" in details["doc_md"]
    assert api.call("GET", "/importErrors")["total_entries"] == 0

    run_id = api.trigger(DAG_ID)
    assert api.wait_for_run(DAG_ID, run_id, timeout=300) == "failed"
    log = api.session.get(f"{airflow.url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/read_logs/logs/1",
                          headers={"Accept": "application/json"}, timeout=30).text
    assert "batch_size=500 is not allowed: expected an integer from 1 to 100" in log
