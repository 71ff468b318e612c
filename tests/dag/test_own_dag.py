"""A DAG of the user's own from the public pieces (examples/auth0_failures_to_siem.py, as the README
shows it), run with dag.test() against the emulator: own connections, settings and checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import AUTHORIZATION, CLIENT_ID, CLIENT_SECRET

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "auth0_failures_to_siem.py"
CHECKPOINT = "siem_checkpoint"
FAILURES = {"f", "fu", "fp", "fs"}


@pytest.fixture
def own_pipeline(emulator, receiver, monkeypatch, airflow_db):
    """The example's own connections (ids of the user's choosing) and a clean checkpoint Variable."""
    from airflow.models.variable import Variable

    monkeypatch.setenv("AIRFLOW_CONN_TENANT_EU", json.dumps(
        {"conn_type": "auth0", "host": emulator.base_url, "login": CLIENT_ID, "password": CLIENT_SECRET}))
    monkeypatch.setenv("AIRFLOW_CONN_SIEM_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": f"{receiver.base_url}/siem", "password": AUTHORIZATION,
         "extra": {"timeout": 5, "max_attempts": 1}}))
    Variable.delete(CHECKPOINT)
    yield lambda: Variable.get(CHECKPOINT, default_var=None)
    Variable.delete(CHECKPOINT)


def run_example():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE))
    assert bag.import_errors == {}
    return bag.dags["auth0_failures_to_siem"].test()


def test_the_readme_shows_the_example_as_it_is():
    code = EXAMPLE.read_text()
    body = code[code.index("from datetime"):]
    assert body in (REPO / "README.md").read_text()
    assert len(body.splitlines()) <= 35  # "about 30 lines"


def test_the_example_sends_only_failures_in_order_and_moves_its_own_checkpoint(emulator, receiver, own_pipeline,
                                                                              variables):
    logs = emulator.add_logs(400, types=["s", "f", "fp", "sapi", "fu"])
    failures = [entry["log_id"] for entry in logs if entry["type"] in FAILURES]

    run = run_example()

    assert run.state == "success"
    assert receiver.delivered_log_ids() == failures  # in order, each once
    assert all(request.headers["authorization"] == AUTHORIZATION for request in receiver.requests)
    assert max(len(request.log_ids) for request in receiver.requests) <= 50
    assert own_pipeline() == logs[-1]["log_id"]  # past the filtered-out logs after the last failure too
    assert variables() is None  # the shipped DAG's checkpoint is not touched


def test_the_next_run_goes_on_from_the_checkpoint_and_passes_filtered_out_logs(emulator, receiver, own_pipeline):
    first = emulator.add_logs(60, types=["f"])
    assert run_example().state == "success"
    quiet = emulator.add_logs(30, types=["s"])  # nothing to send: the checkpoint still moves past them
    assert run_example().state == "success"
    assert own_pipeline() == quiet[-1]["log_id"]
    more = emulator.add_logs(20, types=["fp"])
    assert run_example().state == "success"
    assert receiver.delivered_log_ids() == [entry["log_id"] for entry in first + more]


def test_a_refused_request_stops_the_checkpoint_before_it_and_the_next_run_resends_from_there(
        emulator, receiver, own_pipeline):
    logs = emulator.add_logs(200, types=["f"])  # 4 units of one request of 50 logs each
    receiver.set_behaviour(script=["ok", "400"])  # the second request is refused for good
    run = run_example()
    assert run.state == "failed"
    delivered = set(receiver.delivered_log_ids())
    prefix = next(n for n, entry in enumerate(logs) if entry["log_id"] not in delivered)
    assert 0 < prefix < 200 and own_pipeline() == logs[prefix - 1]["log_id"]  # never past a refused log

    receiver.set_behaviour(script=[])
    assert run_example().state == "success"
    assert own_pipeline() == logs[-1]["log_id"]
    assert set(receiver.delivered_log_ids()) == {entry["log_id"] for entry in logs}  # nothing lost
