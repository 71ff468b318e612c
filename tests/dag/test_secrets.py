"""Nothing leaks: distinctive secrets are used (the tenant issues tokens, the webhook checks the
Authorization header and the signature, "Slack" gets its reports), and none of them shows up in
task logs, XCom, rendered fields, dag run notes, Airflow's audit log, Variables or Slack messages,
in a successful run, a run the webhook refuses (401), a run whose Slack is broken (500), and a
run that meets a faulty token endpoint and an unreachable webhook."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks.names import DAG_ID

pytestmark = pytest.mark.timeout(300)

CLIENT_ID = "secrets-test-client"
CLIENT_SECRET = "cs-LEAKCANARY-client-secret-7f3a9c2e5b1d40866e1f"
AUTHORIZATION = "Bearer LEAKCANARY-webhook-authorization-1b9e7d5c3a2f4680"
SIGNING_KEY = base64.b64encode(b"LEAKCANARY signing key, 32 bytes").decode()
SIGNING_SECRET = f"whsec_{SIGNING_KEY}"
URL_TOKEN = "LEAKCANARYurltoken5c1e9a7b3d"
SLACK_TOKEN = "SECRETTOKENLEAKCANARYxoxb9d8c7b6a5f4e3d2c1"

SECRETS = {
    "client secret": CLIENT_SECRET,
    "webhook Authorization value": AUTHORIZATION,
    "webhook Authorization token": AUTHORIZATION.split(" ", 1)[1],
    "signing secret": SIGNING_SECRET,
    "signing key (base64 part)": SIGNING_KEY,
    "token in the webhook URL's query": URL_TOKEN,
    "Slack URL token": SLACK_TOKEN,
}


@pytest.fixture
def tenant(monkeypatch: pytest.MonkeyPatch) -> Iterator[Auth0Emulator]:
    with Auth0Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seed=11) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_DEFAULT", json.dumps(
            {"conn_type": "auth0", "host": emu.base_url, "login": CLIENT_ID, "password": CLIENT_SECRET}))
        yield emu


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(expected_authorization=AUTHORIZATION, signing_secret=SIGNING_SECRET, seed=3) as rec:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": f"{rec.base_url}/hooks/auth0?tenant=test&token={URL_TOKEN}",
             "password": AUTHORIZATION,
             "extra": {"timeout": 5, "max_attempts": 2, "signing_secret": SIGNING_SECRET}}))
        yield rec


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(seed=5) as rec:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_SLACK", json.dumps(
            {"conn_type": "slackwebhook", "password": f"{rec.base_url}/services/T0/B0/{SLACK_TOKEN}"}))
        yield rec


def cached_access_token(tenant: Auth0Emulator) -> str | None:
    """The Management API token the runs cached for this tenant (a secret too, though not on the brief's list)."""
    from auth0_webhooks.token_cache import FileTokenCache, cache_key

    key = cache_key(tenant.base_url, CLIENT_ID, CLIENT_SECRET, f"{tenant.base_url}/api/v2/")
    cached = FileTokenCache().load(key)
    return cached.access_token if cached else None


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def stored_places() -> dict[str, list[str]]:
    """Every place in the metadata DB a secret could end up, for this DAG, as text."""
    from sqlalchemy import select

    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.variable import Variable
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = session.scalars(select(XComModel).where(XComModel.dag_id == DAG_ID)).all()
        rtifs = session.scalars(
            select(RenderedTaskInstanceFields).where(RenderedTaskInstanceFields.dag_id == DAG_ID)).all()
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == DAG_ID)).all()
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == DAG_ID)).all()
        events = session.scalars(select(Log).where(Log.dag_id == DAG_ID)).all()
        variables = session.scalars(select(Variable)).all()
        return {
            "XCom values": [f"{x.task_id}[{x.map_index}].{x.key}: {as_text(x.value)}" for x in xcoms],
            "rendered task instance fields": [as_text(r.rendered_fields) + as_text(r.k8s_pod_yaml) for r in rtifs],
            "dag run notes": [as_text(run.note) for run in runs],
            "dag run conf": [as_text(run.conf) for run in runs],
            "task instance notes and map labels": [as_text(ti.note) + " " + as_text(ti.rendered_map_index)
                                                   for ti in tis],
            "audit log entries": [as_text(event.extra) for event in events],
            "Variables": [f"{v.key}={v.val}" for v in variables],
        }


def task_log_files() -> list[str]:
    """Task log files Airflow wrote under AIRFLOW_HOME, if any."""
    root = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return [path.read_text("utf-8", "replace") for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_no_secret_leaks_in_logs_xcom_rendered_fields_notes_or_slack(
    tenant, webhook, slack, configure, run_dag, variables, caplog, capfd
):
    tenant.add_logs(120)
    configure(batch_size=25, slack_send_success=True, task_retries=0, task_retry_delay_seconds=1)

    succeeded = run_dag()
    assert succeeded.state == "success"
    tokens = [cached_access_token(tenant)]
    assert len(webhook.delivered_log_ids()) == 120

    tenant.add_logs(30)
    webhook.set_behaviour(status=401)  # the default 401 body echoes nothing: {"error": "Unauthorized"}
    refused = run_dag()
    assert refused.state == "failed"

    webhook.set_behaviour(status=200)
    slack.set_behaviour(status=500)  # a broken Slack: its error must not print the URL either
    tenant.add_logs(10)
    broken_slack = run_dag()
    assert broken_slack.state == "success"

    slack.set_behaviour(status=200)
    tenant.revoke_tokens()  # a new token is needed, and the token endpoint first fails twice
    tenant.script("token", ["500", "drop"])
    tenant.add_logs(10)
    webhook.stop()  # connection refused: requests' own error text names the full URL
    try:
        unreachable = run_dag()
    finally:
        webhook.start()
    assert unreachable.state == "failed"
    tokens.append(cached_access_token(tenant))
    assert tenant.stats()["faults"]["token"] == {"500": 1, "drop": 1}

    # The secrets were used, not absent.
    assert tenant.stats()["tokens_issued"] >= 1 and tenant.stats()["token_denied"] == 0
    assert webhook.requests and all(r.headers.get("authorization") == AUTHORIZATION for r in webhook.requests)
    assert all(r.signature_valid is True for r in webhook.requests)
    assert all(URL_TOKEN in r.path for r in webhook.requests)
    assert {r.status for r in webhook.requests} == {200, 401}
    assert all(r.path.startswith(f"/services/T0/B0/{SLACK_TOKEN}") for r in slack.requests)
    slack_bodies = [as_text(r.body) for r in slack.requests]
    assert len(slack_bodies) == 4 and "FAILED" in slack_bodies[1] and "HTTP 401" in slack_bodies[1]
    assert "FAILED" in slack_bodies[3] and "connection failed" in slack_bodies[3]

    assert all(tokens) and tokens[0] != tokens[1], "the runs did not cache the tokens they used"
    secrets = dict(SECRETS)
    secrets.update({f"Management API access token {number}": token for number, token in enumerate(tokens, 1)})

    captured = capfd.readouterr()
    places: dict[str, list[str]] = {
        "pytest log capture (caplog)": [caplog.text],
        "captured stdout/stderr (capfd)": [captured.out, captured.err],
        "task log files": task_log_files(),
        **stored_places(),
        "Slack message bodies": slack_bodies,
    }
    # The search reaches real content: the tasks' own log lines (which only the fd capture sees),
    # the errors with the webhook's host and port, and the stored values.
    assert "Delivered 25 logs of 1 units in 1 requests" in captured.out + captured.err
    assert f"webhook http://127.0.0.1:{webhook.port}/… did not acknowledge" in caplog.text
    assert "HTTP 401" in caplog.text and "connection failed" in caplog.text
    assert any(variables() in text for text in places["XCom values"])
    assert places["XCom values"] and places["dag run notes"]

    leaks = [
        f"{name} in {where} #{index}: ...{text[max(0, text.find(secret) - 80):text.find(secret) + 20]!r}..."
        for where, texts in places.items() for index, text in enumerate(texts)
        for name, secret in secrets.items() if secret in text
    ]
    searched = sum(len(texts) for texts in places.values())
    with capfd.disabled():
        print(f"\n[secrets] {len(secrets)} secrets searched in {searched} places "
              f"({', '.join(f'{where}: {len(texts)}' for where, texts in places.items())}); "
              f"{len(leaks)} occurrences; {len(webhook.requests)} webhook requests carried the Authorization "
              f"header and a valid signature; {len(slack_bodies)} Slack reports", flush=True)
    assert leaks == []
