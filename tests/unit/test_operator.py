"""LogsToWebhookOperator with requests-mock: what it sends, what it reports, how it resumes."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from auth0_webhooks.operators.logs_to_webhook import PROGRESS_KEY, LogsToWebhookOperator
from auth0_webhooks.planning import plan_deliveries

URL = "https://hooks.example.com/auth0?token=abc"
AUTH = "Bearer operator-test-secret"


class FakeTI:
    """Records XCom pushes; serves pulls from a dict."""

    def __init__(self, stored: dict | None = None) -> None:
        self.pushed: dict[str, object] = {}
        self.stored = stored or {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str, map_indexes=None):  # noqa: ANN001
        return self.stored.get((task_ids, key))


class FakeStateStore:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def get(self, key: str, default=None):  # noqa: ANN001
        return self.values.get(key, default)

    def set(self, key: str, value: object) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


@pytest.fixture(autouse=True)
def variables(monkeypatch) -> dict:
    store: dict[str, str] = {}
    monkeypatch.setattr("auth0_webhooks.variables.variable_get", lambda key: store.get(key))
    monkeypatch.setattr("auth0_webhooks.variables.variable_set", lambda key, value: store.__setitem__(key, value))
    return store


@pytest.fixture(autouse=True)
def webhook_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": URL, "password": AUTH, "extra": {"timeout": 3, "max_attempts": 2}}))
    monkeypatch.setattr("time.sleep", lambda seconds: None)


def make_logs(count: int) -> list[dict]:
    return [{"log_id": f"{900 + i:06d}", "type": "s", "date": f"2026-01-01T00:00:{i % 60:02d}.000Z"}
            for i in range(count)]


def unit_of(logs: list[dict], batch_size: int, as_batch: bool) -> dict:
    plan = plan_deliveries(logs, lambda log: True, batch_size, as_batch)
    return {"label": "L", "send_as_batch": as_batch, "deliveries": [d.to_xcom() for d in plan.deliveries]}


def run(unit: dict, ti: FakeTI | None = None, state: FakeStateStore | None = None):
    ti = ti or FakeTI()
    context = {"ti": ti, "task_state_store": state}
    operator = LogsToWebhookOperator(task_id="deliver", unit=unit)
    return operator.execute(context), ti, context


def test_batch_mode_posts_json_arrays_in_order(requests_mock):
    requests_mock.post(URL, status_code=202)
    logs = make_logs(25)
    progress, ti, context = run(unit_of(logs, 10, True))
    bodies = [json.loads(r.body) for r in requests_mock.request_history]
    assert [len(b) for b in bodies] == [10, 10, 5]
    assert [e["log_id"] for b in bodies for e in b] == [e["log_id"] for e in logs]
    assert all(r.headers["Authorization"] == AUTH for r in requests_mock.request_history)
    assert all(r.headers["Content-Type"] == "application/json" for r in requests_mock.request_history)
    assert all(r.timeout == 3 for r in requests_mock.request_history)
    assert progress == ti.pushed[PROGRESS_KEY]
    assert progress["acked"] == 3 and progress["logs_acked"] == 25 and progress["checkpoint"] == logs[-1]["log_id"]
    assert context["unit_label"] == "L"


def test_one_request_per_log_posts_objects(requests_mock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(4)
    run(unit_of(logs, 10, False))
    bodies = [json.loads(r.body) for r in requests_mock.request_history]
    assert bodies == logs  # one JSON object per request, in order


def test_deliveries_are_read_from_xcom_when_the_unit_points_there(requests_mock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(3)
    deliveries = unit_of(logs, 10, True)["deliveries"]
    ti = FakeTI({("read_logs", "unit-0"): deliveries})
    progress, _, _ = run({"label": "L", "send_as_batch": True, "xcom": {"task_id": "read_logs", "key": "unit-0"}}, ti)
    assert progress["logs_acked"] == 3


def test_a_failure_stops_the_unit_reports_the_prefix_and_remembers_it(requests_mock):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 500}, {"status_code": 500}])
    logs = make_logs(30)
    state = FakeStateStore()
    ti = FakeTI()
    with pytest.raises(Exception) as caught:
        run(unit_of(logs, 10, True), ti, state)
    assert not isinstance(caught.value, AirflowFailException)  # transient: Airflow may retry
    assert len(requests_mock.request_history) == 3  # never skipped ahead to the third batch
    assert ti.pushed[PROGRESS_KEY]["acked"] == 1
    assert ti.pushed[PROGRESS_KEY]["checkpoint"] == logs[9]["log_id"]
    assert "HTTP 500" in ti.pushed[PROGRESS_KEY]["error"]
    assert state.values["acknowledged"] == {"unit": "L", "acked": 1}


def test_a_retry_resumes_after_what_was_acknowledged(requests_mock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(30)
    state = FakeStateStore()
    state.set("acknowledged", {"unit": "L", "acked": 2})
    progress, _, _ = run(unit_of(logs, 10, True), state=state)
    assert len(requests_mock.request_history) == 1
    assert json.loads(requests_mock.last_request.body)[0]["log_id"] == logs[20]["log_id"]
    assert progress["acked"] == 3


def test_resume_state_of_another_unit_is_ignored(requests_mock):
    requests_mock.post(URL, status_code=200)
    state = FakeStateStore()
    state.set("acknowledged", {"unit": "another unit", "acked": 2})
    run(unit_of(make_logs(30), 10, True), state=state)
    assert len(requests_mock.request_history) == 3


@pytest.mark.parametrize("status", [400, 401, 410, 301])
def test_a_permanent_refusal_fails_without_airflow_retries(requests_mock, status):
    requests_mock.post(URL, status_code=status, text="nope", headers={"Location": "https://elsewhere/x?k=1"})
    ti = FakeTI()
    with pytest.raises(AirflowFailException) as caught:
        run(unit_of(make_logs(5), 10, True), ti)
    assert f"HTTP {status}" in str(caught.value)
    assert AUTH not in str(caught.value) and "token=abc" not in str(caught.value)
    assert ti.pushed[PROGRESS_KEY]["acked"] == 0
    if status == 410:
        assert "asking us to stop" in str(caught.value)


def test_progress_is_saved_while_sending_so_a_killed_task_resumes(requests_mock, monkeypatch):
    requests_mock.post(URL, status_code=200)
    saves = []
    state = FakeStateStore()
    state.set = lambda key, value: saves.append(value)  # type: ignore[method-assign]
    monkeypatch.setattr("auth0_webhooks.operators.logs_to_webhook.SAVE_EVERY_SECONDS", 0)
    run(unit_of(make_logs(30), 10, True), state=state)
    assert [save["acked"] for save in saves] == [1, 2, 3]
    assert state.values == {}  # cleared once the unit is complete


def test_410_gone_pauses_delivery_for_every_unit_until_an_operator_resumes(requests_mock, variables):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 410}])
    with pytest.raises(AirflowFailException, match="410"):
        run(unit_of(make_logs(30), 10, True))
    assert "auth0_webhooks_paused" in variables
    ti = FakeTI()
    with pytest.raises(AirflowFailException, match="delivery is paused") as caught:
        run(unit_of(make_logs(30), 10, True), ti)  # another unit: sends nothing
    assert "delete the Variable 'auth0_webhooks_paused'" in str(caught.value)
    assert len(requests_mock.request_history) == 2
    assert ti.pushed[PROGRESS_KEY]["acked"] == 0
    del variables["auth0_webhooks_paused"]  # the operator resumes delivery
    requests_mock.post(URL, status_code=200)
    assert run(unit_of(make_logs(30), 10, True))[0]["acked"] == 3
