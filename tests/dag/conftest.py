"""DAG-test fixtures: a migrated metadata DB, the Auth0 emulator, the webhook receiver, and
`run_dag()` which runs `auth0_logs_to_webhook` with `dag.test()` as the scheduler would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID, PAUSE_VARIABLE, STATE_VARIABLE

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "auth0_logs_to_webhook.py"
CLIENT_ID, CLIENT_SECRET = "dag-test-client", "dag-test-client-secret-0123456789"
AUTHORIZATION = "Bearer dag-test-webhook-token-abcdef"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A fresh metadata database (SQLite in the tests' AIRFLOW_HOME)."""
    from airflow.utils.db import resetdb

    resetdb()


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Auth0Emulator]:
    with Auth0Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seed=7) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_DEFAULT", json.dumps(
            {"conn_type": "auth0", "host": emu.base_url, "login": CLIENT_ID, "password": CLIENT_SECRET}))
        yield emu


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(expected_authorization=AUTHORIZATION) as rec:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": f"{rec.base_url}/hooks/auth0?tenant=test", "password": AUTHORIZATION,
             "extra": {"timeout": 5}}))
        yield rec


@pytest.fixture
def variables(airflow_db: None) -> Iterator[Callable[..., Any]]:
    """Read Variables from the metadata DB; the pipeline's Variables are removed before and after."""
    from airflow.models.variable import Variable

    def clean() -> None:
        for key in (CHECKPOINT_VARIABLE, STATE_VARIABLE, CONFIG_VARIABLE, PAUSE_VARIABLE):
            Variable.delete(key)

    clean()

    def get(key: str = CHECKPOINT_VARIABLE) -> str | None:
        return Variable.get(key, default_var=None)

    get.set = lambda key, value: Variable.set(key, value)  # type: ignore[attr-defined]
    yield get
    clean()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the config Variable (through the environment, as the DAG file and the tasks read it)."""

    def apply(**settings: Any) -> None:
        monkeypatch.setenv("AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(), json.dumps(settings))

    return apply


@pytest.fixture
def run_dag(airflow_db: None, variables: Any) -> Callable[..., Any]:
    """Parse the DAG file afresh (settings are read at parse time) and run it with dag.test()."""

    def run(**params: Any) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAG_FILE))
        assert bag.import_errors == {}, bag.import_errors
        return bag.dags[DAG_ID].test(run_conf=params or None)

    return run


def sent_batches(receiver) -> list[list[dict]]:
    """Each acknowledged request's logs, in log-id order of their first log.

    Units are delivered concurrently, so requests from different units may arrive in any
    order; within a request, and within a unit, logs go in log-id order.
    """
    batches = [r.logs for r in receiver.requests if r.delivered]
    for batch in batches:
        assert [e["log_id"] for e in batch] == sorted(e["log_id"] for e in batch)
    return sorted(batches, key=lambda batch: batch[0]["log_id"])


def delivered_in_order(receiver) -> list[str]:
    """Every acknowledged log id, requests put in log-id order (see sent_batches)."""
    return [entry["log_id"] for batch in sent_batches(receiver) for entry in batch]
