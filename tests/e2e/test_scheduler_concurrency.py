"""Under a real scheduler (standalone, LocalExecutor): WEBHOOK_CONCURRENT_CALLS bounds the calls in
flight across the whole run, in batch mode and in one-request-per-log mode, with a slow receiver."""

from __future__ import annotations

import json

import pytest

from auth0_webhooks.devtools.emulator import Auth0Emulator
from auth0_webhooks.devtools.receiver import WebhookReceiver
from auth0_webhooks.names import CONFIG_VARIABLE, DAG_ID

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CASES = {
    # 600 logs in batches of 20 -> 30 requests in 15 units, at most 3 at once.
    "batch": ({"batch_size": 20, "webhook_concurrent_calls": 3, "batches_per_task": 2}, 600, 30),
    # 48 logs, one request each, in units of 4 logs -> 12 units, at most 2 at once.
    "one-per-log": ({"send_as_batch": False, "batch_size": 2, "webhook_concurrent_calls": 2,
                     "batches_per_task": 2}, 48, 48),
}


@pytest.mark.parametrize("case", list(CASES))
def test_concurrent_calls_never_exceed_the_setting(standalone_factory, case):
    settings, count, requests_expected = CASES[case]
    limit = settings["webhook_concurrent_calls"]
    with Auth0Emulator(client_id="e2e", client_secret="e2e-secret", logs=count, seed=3) as emulator, \
            WebhookReceiver(delay=0.4, expected_authorization="Bearer e2e-token") as receiver:
        airflow = standalone_factory({
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                      "login": "e2e", "password": "e2e-secret"}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{receiver.base_url}/hook",
                                                      "password": "Bearer e2e-token"}),
            # No schedule: only the run triggered here (unpausing must not start a scheduled run too).
            "AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(): json.dumps({**settings, "schedule": None}),
        })
        airflow.api.wait_for_dag(DAG_ID, timeout=180)
        run_id = airflow.api.trigger(DAG_ID)
        state = airflow.api.wait_for_run(DAG_ID, run_id, timeout=600)

        stats = receiver.stats()
        assert state == "success", airflow.log_path.read_text()[-4000:]
        assert stats["requests"] == requests_expected
        assert sorted(receiver.delivered_log_ids()) == emulator.log_ids
        assert stats["max_in_flight"] <= limit
        assert stats["max_in_flight"] == limit  # the limit is reached: deliveries really run concurrently
        labels = [ti["rendered_map_index"] for ti in airflow.api.task_instances(DAG_ID, run_id)
                  if ti["task_id"] == "deliver"]
        assert labels and all(label and ".." in label for label in labels)
