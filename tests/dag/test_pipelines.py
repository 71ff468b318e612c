"""Several pipelines from `auth0_webhooks_pipelines`, and a manual replay of a window, under dag.test()."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from auth0_webhooks.names import CHECKPOINT_VARIABLE, DAG_ID, PIPELINES_VARIABLE
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver

from .conftest import CLIENT_ID, CLIENT_SECRET, DAG_FILE, delivered_in_order

ENTRIES = [
    {"name": "eu", "auth0_conn_id": "auth0_eu", "webhook_conn_id": "siem_eu",
     "settings": {"batch_size": 20, "webhook_concurrent_calls": 2}},
    {"name": "us", "auth0_conn_id": "auth0_us", "webhook_conn_id": "siem_us", "slack_conn_id": None,
     "settings": {"batch_size": 50, "log_level": 3, "schedule": "@hourly"}},
    {"name": "broken", "auth0_conn_id": "auth0_us", "webhook_conn_id": "siem_us", "settings": {"batch_size": 1000}},
    {"name": "not valid!", "auth0_conn_id": "a", "webhook_conn_id": "b"},
]


def parse(monkeypatch, entries):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_VAR_" + PIPELINES_VARIABLE.upper(), json.dumps(entries))
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags


def test_each_entry_is_a_dag_and_a_mistake_shows_on_its_own_dag_only(monkeypatch, configure):
    configure(batch_size=10)
    dags = parse(monkeypatch, ENTRIES)
    assert sorted(dags) == [DAG_ID, f"{DAG_ID}__broken", f"{DAG_ID}__entry_4", f"{DAG_ID}__eu", f"{DAG_ID}__us"]
    eu, us = dags[f"{DAG_ID}__eu"], dags[f"{DAG_ID}__us"]
    assert eu.get_task("deliver").partial_kwargs["webhook_conn_id"] == "siem_eu"
    assert len(eu.get_task("deliver").expand_input.value["slot"]) == 2
    assert us.timetable.timetable.expression == "0 * * * *" and "pipeline:us" in us.tags
    assert "Settings problem" in dags[f"{DAG_ID}__broken"].doc_md and "batch_size=1000" in dags[f"{DAG_ID}__broken"].doc_md
    assert "not a valid" not in dags[DAG_ID].doc_md and "Settings problem" not in dags[DAG_ID].doc_md
    assert 'name="not valid!" is not allowed' in dags[f"{DAG_ID}__entry_4"].doc_md
    assert all("Settings problem" not in dags[name].doc_md for name in (f"{DAG_ID}__eu", f"{DAG_ID}__us", DAG_ID))


def test_a_broken_pipelines_variable_shows_on_the_default_dag_which_still_runs(monkeypatch, configure):
    from airflow.dag_processing.dagbag import DagBag

    configure()
    monkeypatch.setenv("AIRFLOW_VAR_" + PIPELINES_VARIABLE.upper(), "[{oops")
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {} and list(bag.dags) == [DAG_ID]
    assert "auth0_webhooks_pipelines' is not JSON" in bag.dags[DAG_ID].doc_md


@pytest.fixture
def two_tenants(monkeypatch, airflow_db):
    from airflow.models.variable import Variable

    keys = [f"{CHECKPOINT_VARIABLE}__{name}" for name in ("eu", "us")] + \
        [f"auth0_webhooks_state__{name}" for name in ("eu", "us")] + [CHECKPOINT_VARIABLE]
    for key in keys:
        Variable.delete(key)
    with Auth0Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seed=21) as eu, \
            Auth0Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seed=22) as us, \
            WebhookReceiver() as siem_eu, WebhookReceiver() as siem_us:
        for name, emulator, receiver in (("eu", eu, siem_eu), ("us", us, siem_us)):
            monkeypatch.setenv(f"AIRFLOW_CONN_AUTH0_{name.upper()}", json.dumps(
                {"conn_type": "auth0", "host": emulator.base_url, "login": CLIENT_ID, "password": CLIENT_SECRET}))
            monkeypatch.setenv(f"AIRFLOW_CONN_SIEM_{name.upper()}", json.dumps(
                {"conn_type": "http", "host": f"{receiver.base_url}/{name}", "extra": {"timeout": 5}}))
        monkeypatch.setenv("AIRFLOW_VAR_" + PIPELINES_VARIABLE.upper(), json.dumps(ENTRIES[:2]))
        yield {"eu": (eu, siem_eu), "us": (us, siem_us)}
    for key in keys:
        Variable.delete(key)


def run(dag_id: str, **params):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags[dag_id].test(run_conf=params or None)


def test_two_pipelines_side_by_side_keep_their_own_tenants_destinations_and_checkpoints(two_tenants):
    from airflow.models.variable import Variable
    from auth0_webhooks.log_types import catalogue

    (eu, siem_eu), (us, siem_us) = two_tenants["eu"], two_tenants["us"]
    eu_logs, us_logs = eu.add_logs(130), us.add_logs(170)
    assert run(f"{DAG_ID}__eu").state == "success"
    assert run(f"{DAG_ID}__us").state == "success"
    assert delivered_in_order(siem_eu) == [log["log_id"] for log in eu_logs]
    assert all(len(request.payload) <= 20 and request.path == "/eu" for request in siem_eu.requests)
    errors = [log["log_id"] for log in us_logs if catalogue()[log["type"]].level >= 3]
    assert 0 < len(errors) < len(us_logs) and delivered_in_order(siem_us) == errors  # its own filter
    assert Variable.get(f"{CHECKPOINT_VARIABLE}__eu") == eu_logs[-1]["log_id"]
    assert Variable.get(f"{CHECKPOINT_VARIABLE}__us") == us_logs[-1]["log_id"]
    assert Variable.get(CHECKPOINT_VARIABLE, default_var=None) is None  # the default pipeline's: untouched
    more = eu.add_logs(7)
    assert run(f"{DAG_ID}__eu").state == "success"
    assert delivered_in_order(siem_eu)[-7:] == [log["log_id"] for log in more] and len(siem_us.requests) == len(
        {request.headers["webhook-id"] for request in siem_us.requests})


def test_a_manual_replay_of_a_window_sends_just_those_logs_and_leaves_the_checkpoint(
        emulator, receiver, configure, run_dag, variables):
    now = datetime.now(timezone.utc)
    logs = emulator.add_logs(300, date=now - timedelta(hours=2))  # a log a second from 2 h ago
    configure(batch_size=40)
    variables.set(CHECKPOINT_VARIABLE, logs[-1]["log_id"])
    start = datetime.fromisoformat(logs[100]["date"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(logs[160]["date"].replace("Z", "+00:00"))
    dag_run = run_dag(replay_start=start.isoformat(), replay_end=end.isoformat())
    assert dag_run.state == "success"
    assert delivered_in_order(receiver) == [log["log_id"] for log in logs[100:160]]
    assert variables() == logs[-1]["log_id"]
