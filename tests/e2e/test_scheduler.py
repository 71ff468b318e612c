"""What users do, under a real scheduler (airflow standalone, LocalExecutor): edit the config
Variable and see the schedule follow; break a setting and still see the DAG; and rely on
WEBHOOK_CONCURRENT_CALLS to bound the calls in flight across a whole run, with a slow receiver.

One Airflow for the whole module: settings are changed the way a user does, through the
Variable (REST API here, the UI for a user), and each test waits for the DAG to be re-parsed."""

from __future__ import annotations

import json
from collections import Counter
from typing import Iterator

import pytest

from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks.names import CONFIG_VARIABLE, DAG_ID

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


class Setup:
    def __init__(self, airflow, emulator: Auth0Emulator, receiver: WebhookReceiver) -> None:
        self.airflow, self.api, self.emulator, self.receiver = airflow, airflow.api, emulator, receiver
        # task_retries marks each version of the settings; start above the default (3), so that a
        # parse that fell back to the defaults is never taken for the version just written.
        self.generation = 10

    def configure(self, settings: dict) -> None:
        """Write the config Variable; wait until the dag-processor has parsed the DAG with it.

        `task_retries` is visible through the REST API: a distinct value marks each version."""
        self.generation += 1
        value = json.dumps({"schedule": None, **settings, "task_retries": self.generation})
        try:
            self.api.call("PATCH", f"/variables/{CONFIG_VARIABLE}", json={"key": CONFIG_VARIABLE, "value": value})
        except Exception:  # noqa: BLE001 - first time: create it
            self.api.call("POST", "/variables", json={"key": CONFIG_VARIABLE, "value": value})
        wait_until(lambda: self.api.call("GET", f"/dags/{DAG_ID}/tasks/deliver")["retries"] == self.generation,
                   what="the DAG to be parsed with the new settings")


@pytest.fixture(scope="module")
def setup(module_standalone_factory) -> Iterator[Setup]:
    with Auth0Emulator(client_id="e2e", client_secret="e2e-secret", seed=3) as emulator, \
            WebhookReceiver(delay=0.4, expected_authorization="Bearer e2e-token") as receiver:
        airflow = module_standalone_factory({
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                      "login": "e2e", "password": "e2e-secret"}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{receiver.base_url}/hook",
                                                      "password": "Bearer e2e-token"}),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        })
        airflow.api.wait_for_dag(DAG_ID, timeout=180)
        yield Setup(airflow, emulator, receiver)


@pytest.mark.parametrize("secret, works", [("e2e-secret", True), ("wrong-secret", False)])
def test_the_connection_test_button(setup, secret, works):
    answer = setup.api.call("POST", "/connections/test", json={
        "connection_id": "auth0_test", "conn_type": "auth0", "host": setup.emulator.base_url,
        "login": "e2e", "password": secret})
    assert answer["status"] is works
    assert ("Connected to" in answer["message"]) is works
    assert secret not in answer["message"]


def test_schedule_follows_the_variable_and_a_bad_setting_never_hides_the_dag(setup):
    api = setup.api
    setup.configure({"schedule": "@hourly"})
    assert "0 * * * *" in json.dumps(api.call("GET", f"/dags/{DAG_ID}/details"))
    setup.configure({"schedule": "*/10 * * * *"})
    assert "*/10 * * * *" in json.dumps(api.call("GET", f"/dags/{DAG_ID}/details"))

    api.call("PATCH", f"/variables/{CONFIG_VARIABLE}",
             json={"key": CONFIG_VARIABLE, "value": json.dumps({"batch_size": 500, "schedule": None})})
    details = wait_until(
        lambda: (d := api.call("GET", f"/dags/{DAG_ID}/details")) and "Settings problem" in (d.get("doc_md") or "") and d,
        what="the settings problem to show in the DAG's docs")
    assert "batch_size=500 is not allowed" in details["doc_md"]
    assert api.call("GET", "/importErrors")["total_entries"] == 0

    run_id = api.trigger(DAG_ID)
    assert api.wait_for_run(DAG_ID, run_id, timeout=300) == "failed"
    log = api.session.get(f"{setup.airflow.url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/read_logs/logs/1",
                          headers={"Accept": "application/json"}, timeout=30).text
    assert "batch_size=500 is not allowed: expected an integer from 1 to 100" in log
    tries = api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/read_logs")["try_number"]
    assert tries == 1  # a settings error is not retried


CASES = {
    # 600 logs in batches of 20 -> 30 requests in 15 units, over 3 slots: at most 3 at once.
    "batch": ({"batch_size": 20, "webhook_concurrent_calls": 3, "batches_per_task": 2}, 600, 30),
    # 48 logs, one request each, in units of 4 logs -> 12 units, over 2 slots: at most 2 at once.
    "one-per-log": ({"send_as_batch": False, "batch_size": 2, "webhook_concurrent_calls": 2,
                     "batches_per_task": 2}, 48, 48),
}


@pytest.mark.parametrize("case", list(CASES))
def test_concurrent_calls_never_exceed_the_setting(setup, case):
    settings, count, requests_expected = CASES[case]
    limit = settings["webhook_concurrent_calls"]
    setup.configure(settings)
    setup.api.wait_for_run(DAG_ID, setup.api.trigger(DAG_ID), timeout=300)  # catch up on earlier logs
    setup.receiver.reset()
    new_logs = setup.emulator.add_logs(count)

    run_id = setup.api.trigger(DAG_ID)
    state = setup.api.wait_for_run(DAG_ID, run_id, timeout=600)

    stats = setup.receiver.stats()
    assert state == "success", setup.airflow.log_path.read_text()[-4000:]
    assert stats["requests"] == requests_expected
    assert Counter(setup.receiver.delivered_log_ids()) == Counter(e["log_id"] for e in new_logs)
    assert stats["max_in_flight"] <= limit
    assert stats["max_in_flight"] == limit  # the limit is reached: deliveries really run concurrently
    mapped = setup.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/deliver/listMapped?limit=100")
    labels = [ti["rendered_map_index"] for ti in mapped["task_instances"]]
    assert len(labels) == limit and all(label.startswith("slot ") and " logs in " in label for label in labels)
