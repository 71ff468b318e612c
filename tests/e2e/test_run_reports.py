"""What users see of a run under a real scheduler: the run's note (written by the notes listener
where Airflow ends the run), the structured report in XCom, and the first Slack alert of a failure
that keeps repeating, within one schedule interval of the run's start while task retries go on."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from auth0_webhooks.names import CONFIG_VARIABLE, DAG_ID
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

INTERVAL = 300  # the default schedule's interval


def parse(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_notes_reports_and_the_first_alert_of_a_repeating_failure(standalone_factory):
    with Auth0Emulator(client_id="rr", client_secret="rr-secret", seed=8) as emulator, \
            WebhookReceiver(expected_authorization="Bearer rr-0123456789") as webhook, WebhookReceiver() as slack:
        emulator.add_logs(120)
        airflow = standalone_factory({
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                      "login": "rr", "password": "rr-secret"}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{webhook.base_url}/hook",
                                                      "password": "Bearer rr-0123456789"}),
            "AIRFLOW_CONN_AUTH0_SLACK": json.dumps({"conn_type": "slackwebhook",
                                                    "password": f"{slack.base_url}/services/T0/B0/secretpath"}),
            "AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(): json.dumps(
                {"schedule": None, "webhook_concurrent_calls": 2, "slack_send_success": True}),
        })
        api = airflow.api
        api.wait_for_dag(DAG_ID, timeout=180)

        # A run that succeeds: its note and its report.
        run_id = api.trigger(DAG_ID)
        assert api.wait_for_run(DAG_ID, run_id, timeout=300) == "success"
        run = wait_until(lambda: (r := api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")).get("note") and r,
                         timeout=60, what="the run's note")
        note = run["note"]
        assert "120" in note and "delivered" in note.lower(), note
        assert "rr-0123456789" not in note and "secretpath" not in note and "rr-secret" not in note
        report = api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/commit/xcomEntries/return_value")
        value = report["value"] if isinstance(report["value"], dict) else json.loads(report["value"])
        assert value["logs_delivered"] == 120 and value["run_kind"] == "manual" and value["lag_seconds"] is not None
        assert any(request.payload.get("blocks") for request in slack.requests)  # the success report, Block Kit

        # A receiver that refuses every request: the first alert comes long before the retries are spent.
        emulator.add_logs(30)
        webhook.set_behaviour(status=500)
        slack.reset()
        run_id = api.trigger(DAG_ID)
        alert = wait_until(lambda: next((r for r in slack.requests if r.payload.get("blocks")), None),
                           timeout=INTERVAL, what="the first Slack alert", every=1)
        started = parse(api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")["start_date"])
        first_alert_seconds = alert.received_at - started
        print(f"first alert {first_alert_seconds:.1f} s after the run started")
        assert first_alert_seconds < INTERVAL
        text = json.dumps(alert.payload)
        assert "retry" in text.lower() and "secretpath" not in text and "rr-0123456789" not in text
        time.sleep(5)
        assert len([r for r in slack.requests if "retry" in json.dumps(r.payload).lower()]) <= 2  # once per run
        api.call("PATCH", f"/dags/{DAG_ID}/dagRuns/{run_id}", json={"state": "failed"})
