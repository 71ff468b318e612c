"""auth0_logs_to_webhook under dag.test() against the Auth0 emulator and the webhook receiver:
what a user sees at their webhook, log by log, and where the checkpoint ends."""

from __future__ import annotations

import json

import pytest

from auth0_webhooks.log_types import catalogue, derive_level

from .conftest import AUTHORIZATION, delivered_in_order, sent_batches


def level(code: str) -> int:
    known = catalogue().get(code)
    return known.level if known else derive_level(code)


def test_batch_mode_delivers_every_log_once_in_order(emulator, receiver, configure, run_dag, variables):
    logs = emulator.add_logs(450)
    configure(batch_size=50)

    run = run_dag()

    assert run.state == "success"
    batches = sent_batches(receiver)
    assert [entry["log_id"] for batch in batches for entry in batch] == [entry["log_id"] for entry in logs]
    assert all(0 < len(batch) <= 50 for batch in batches)
    assert batches[0][0] == logs[0]  # the log exactly as Auth0 returned it
    for request in receiver.requests:
        assert request.headers["authorization"] == AUTHORIZATION
        assert request.headers["content-type"] == "application/json"
        assert request.path == "/hooks/auth0?tenant=test"  # path and query kept intact
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["user-agent"].startswith("auth0-webhooks-airflow/")
    assert variables() == logs[-1]["log_id"]


def test_one_request_per_log(emulator, receiver, configure, run_dag, variables):
    logs = emulator.add_logs(40)
    configure(send_as_batch=False, batch_size=10, webhook_concurrent_calls=2)

    run = run_dag()

    assert run.state == "success"
    assert len(receiver.requests) == 40
    assert delivered_in_order(receiver) == [entry["log_id"] for entry in logs]
    assert all(isinstance(r.payload, dict) for r in receiver.requests)  # one JSON object, not an array
    assert variables() == logs[-1]["log_id"]


@pytest.mark.parametrize(
    "settings",
    [
        {"log_types": ["s", "f", "fp"]},
        {"log_level": 3},
        {"log_types": ["sapi"], "log_level": 3},  # the original's union semantics
    ],
    ids=["types", "level", "types-or-level"],
)
def test_filters_send_exactly_the_selected_events(emulator, receiver, configure, run_dag, variables, settings):
    logs = emulator.add_logs(600)
    configure(**settings)
    wanted_types = set(settings.get("log_types", ()))
    minimum = settings.get("log_level")
    expected = [e["log_id"] for e in logs if e["type"] in wanted_types or (minimum is not None and level(e["type"]) >= minimum)]
    assert 0 < len(expected) < len(logs)

    run = run_dag()

    assert run.state == "success"
    assert delivered_in_order(receiver) == expected
    assert variables() == logs[-1]["log_id"]  # moved past the logs the filter dropped


def test_unknown_event_types_are_delivered_when_no_filter_is_set(emulator, receiver, configure, run_dag):
    logs = emulator.add_logs(5, types=["zz_future_event"]) + emulator.add_logs(5)
    configure()

    assert run_dag().state == "success"
    assert delivered_in_order(receiver) == [entry["log_id"] for entry in logs]


def test_second_run_sends_only_new_logs_and_an_idle_run_sends_nothing(emulator, receiver, configure, run_dag, variables):
    first = emulator.add_logs(120)
    configure()
    assert run_dag().state == "success"
    second = emulator.add_logs(30)
    assert run_dag().state == "success"
    emulator.reset_stats()
    idle = run_dag()

    assert idle.state == "success"
    assert delivered_in_order(receiver) == [e["log_id"] for e in first + second]
    assert emulator.stats()["requests"].get("logs", 0) <= 1
    assert {ti.task_id: ti.state for ti in idle.get_task_instances()}["deliver"] == "skipped"
    assert variables() == second[-1]["log_id"]


def test_start_from_applies_once_when_it_changes(emulator, receiver, configure, run_dag, variables):
    logs = emulator.add_logs(100)
    configure(start_from=logs[59]["log_id"])
    assert run_dag().state == "success"
    assert delivered_in_order(receiver) == [e["log_id"] for e in logs[60:]]

    receiver.reset()
    more = emulator.add_logs(10)
    assert run_dag().state == "success"  # same START_FROM: the stored checkpoint goes on
    assert delivered_in_order(receiver) == [e["log_id"] for e in more]

    receiver.reset()
    configure(start_from=logs[89]["log_id"])  # changed: applied once more
    assert run_dag().state == "success"
    assert delivered_in_order(receiver) == [e["log_id"] for e in logs[90:] + more]


def test_start_from_a_date(emulator, receiver, configure, run_dag):
    logs = emulator.add_logs(50)
    configure(start_from=logs[20]["date"])
    assert run_dag().state == "success"
    delivered = delivered_in_order(receiver)
    assert delivered[0] == next(e["log_id"] for e in logs if e["date"] >= logs[20]["date"])
    assert delivered[-1] == logs[-1]["log_id"]


def test_bad_settings_fail_the_run_with_a_message_naming_the_key(emulator, receiver, configure, run_dag, variables, caplog):
    emulator.add_logs(10)
    configure(batch_size=150)

    run = run_dag()  # the DAG still parses (run_dag asserts no import errors)

    assert run.state == "failed"
    assert "batch_size=150 is not allowed: expected an integer from 1 to 100" in caplog.text
    assert receiver.requests == []
    assert variables() is None


def test_a_permanent_refusal_keeps_the_checkpoint_and_the_next_run_resends(emulator, receiver, configure, run_dag, variables):
    logs = emulator.add_logs(300)
    configure(batch_size=50, webhook_concurrent_calls=3, batches_per_task=2)
    # Units of 2 batches: [0,1] [2,3] [4,5], run in any order; the 3rd request is refused.
    receiver.set_behaviour(script=["ok", "ok", "400"])

    failed = run_dag()

    assert failed.state == "failed"
    acknowledged = {entry["log_id"] for batch in sent_batches(receiver) for entry in batch}
    prefix = 0  # the checkpoint stops before the first batch the webhook did not acknowledge
    while prefix < len(logs) and logs[prefix]["log_id"] in acknowledged:
        prefix += 50
    assert prefix < len(logs)
    assert variables() == (logs[prefix - 1]["log_id"] if prefix else None)
    receiver.set_behaviour(script=[])
    assert run_dag().state == "success"
    delivered = receiver.delivered_log_ids()
    assert set(delivered) == {e["log_id"] for e in logs}
    # What was acknowledged beyond the checkpoint (if the refused request was not the last) was recorded,
    # and nothing was sent twice (issue 12 item 3).
    assert len(delivered) == len(set(delivered))
    assert variables() == logs[-1]["log_id"]


def test_dry_run_sends_nothing_and_moves_nothing(emulator, receiver, configure, run_dag, variables):
    emulator.add_logs(30)
    configure()
    run = run_dag(dry_run=True)
    assert run.state == "success"
    assert receiver.requests == []
    assert variables() is None


def test_slack_reports_failures_always_and_successes_when_asked(emulator, receiver, configure, run_dag, monkeypatch):
    from auth0_webhooks_devtools.receiver import WebhookReceiver

    with WebhookReceiver() as slack:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_SLACK", json.dumps(
            {"conn_type": "slackwebhook", "password": f"{slack.base_url}/services/T000/B000/XXX"}))
        emulator.add_logs(20)
        configure()
        assert run_dag().state == "success"
        assert slack.requests == []  # success, and slack_send_success is off

        configure(slack_send_success=True)
        emulator.add_logs(5)
        assert run_dag().state == "success"
        text = slack.requests[-1].payload["text"]
        assert "succeeded" in text and "Logs processed: 5 delivered" in text and "Next checkpoint:" in text

        configure()
        receiver.set_behaviour(status=401)
        emulator.add_logs(5)
        assert run_dag().state == "failed"
        text = slack.requests[-1].payload["text"]
        assert "FAILED" in text and "Error:" in text and "HTTP 401" in text
        assert AUTHORIZATION not in text


def test_a_broken_slack_never_fails_the_run(emulator, receiver, configure, run_dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_SLACK", json.dumps(
        {"conn_type": "slackwebhook", "password": "http://127.0.0.1:9/services/nowhere"}))
    emulator.add_logs(5)
    configure(slack_send_success=True)
    assert run_dag().state == "success"
    assert len(receiver.delivered_log_ids()) == 5


def test_delivered_logs_do_not_linger_in_xcom(emulator, receiver, configure, run_dag):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    def unit_xcoms(run_id: str) -> int:
        with create_session() as session:
            return session.query(XComModel).filter(
                XComModel.run_id == run_id, XComModel.key.like("unit-%")).count()

    emulator.add_logs(300)
    configure(batch_size=50)
    receiver.set_behaviour(status=400)
    failed = run_dag()
    assert failed.state == "failed" and unit_xcoms(failed.run_id) > 0  # kept for a retry from the UI

    receiver.set_behaviour(status=200)
    done = run_dag()
    assert done.state == "success" and unit_xcoms(done.run_id) == 0


def logs_left_in_xcom(run_id: str) -> list[str]:
    """Keys of XComs of this run that hold logs (units and the hand-over)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        keys = [row.key for row in session.query(XComModel).filter(XComModel.run_id == run_id)]
    return [key for key in keys if key.startswith("unit-") or key == "handover"]


def test_a_backlog_is_read_on_by_read_more_while_the_slots_deliver(emulator, receiver, configure, run_dag,
                                                                   variables, monkeypatch):
    """read_logs hands over at once; under dag.test() the slots that run before read_more give
    their worker back (reschedule) and deliver once it has published: every log once, in order."""
    from auth0_webhooks import deliver, read

    monkeypatch.setattr(read, "FIRST_READ_SECONDS", 0.0)
    monkeypatch.setattr(deliver, "READER_START_GRACE_SECONDS", 0.2)
    logs = emulator.add_logs(1_250)
    configure(batch_size=50, webhook_concurrent_calls=3, batches_per_task=4)

    run = run_dag()

    assert run.state == "success"
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert states[("read_more", 0)] == "success"
    assert [states[("deliver", slot)] for slot in range(3)] == ["success"] * 3
    assert delivered_in_order(receiver) == [entry["log_id"] for entry in logs]
    assert variables() == logs[-1]["log_id"]
    assert logs_left_in_xcom(run.run_id) == []  # delivered logs are personal data: none linger
