"""LogsToWebhookOperator (one delivery slot) with requests-mock: what it sends, reports, resumes, deletes.

XCom and task states are faked by `XComs`/`FakeTI` below (shared with test_pipeline.py): values
go through JSON as Airflow stores them, keyed by (task id, map index, key).
"""

from __future__ import annotations

import functools
import json
import threading

import pytest
from airflow.sdk.bases.xcom import BaseXCom
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

from auth0_webhooks.names import DAG_ID, DELIVER_TASK_ID, MORE_TASK_ID, READ_TASK_ID, SUMMARY_KEY
from auth0_webhooks.operators import logs_to_webhook
from auth0_webhooks.operators.logs_to_webhook import PROGRESS_KEY, LogsToWebhookOperator
from auth0_webhooks.planning import Delivery, plan_deliveries
from auth0_webhooks.progress import RESUME_KEY, unit_progress
from auth0_webhooks.units import UnitSource, encode_unit, unit_key

from .conftest import T0

URL = "https://hooks.example.com/auth0?token=abc"
AUTH = "Bearer operator-test-secret"

NOTSET = object()


def through_json(value: object) -> object:
    """What a value looks like once stored and read back (XCom, task state store)."""
    return json.loads(json.dumps(value))


class XComs:
    """One run's XComs, keyed (task_id, map_index, key), its task states, and what was deleted."""

    def __init__(self, run_id: str = "manual__1") -> None:
        self.run_id = run_id
        self.values: dict[tuple[str, int, str], object] = {}
        self.states: dict[tuple[str, int], str] = {}
        self.deleted: list[tuple[str, int | None, str]] = []
        self.lock = threading.RLock()  # some tests run tasks in threads

    def ti(self, task_id: str = DELIVER_TASK_ID, map_index: int = -1) -> "FakeTI":
        return FakeTI(task_id, map_index, self)

    def put(self, task_id: str, key: str, value: object, map_index: int = -1) -> None:
        with self.lock:
            self.values[(task_id, map_index, key)] = through_json(value)

    def get(self, task_id: str, key: str, map_index: int = -1) -> object:
        with self.lock:
            return self.values.get((task_id, map_index, key))

    def items(self) -> list[tuple[tuple[str, int, str], object]]:
        with self.lock:
            return sorted(self.values.items())

    def delete(self, *, key: str, task_id: str, dag_id: str, run_id: str, map_index: int | None = None) -> None:
        assert (dag_id, run_id) == (DAG_ID, self.run_id)
        with self.lock:
            self.deleted.append((task_id, map_index, key))
            self.values.pop((task_id, -1 if map_index is None else map_index, key), None)

    def unit_keys(self) -> list[tuple[str, int, str]]:
        return [k for k, _ in self.items() if k[2].startswith("unit-")]


class FakeTI:
    """A task instance of one run: pushes under its own task id and map index, pulls any."""

    dag_id = DAG_ID

    def __init__(self, task_id: str = DELIVER_TASK_ID, map_index: int = -1, xcoms: XComs | None = None) -> None:
        self.task_id, self.map_index = task_id, map_index
        self.xcoms = xcoms if xcoms is not None else XComs()

    @property
    def run_id(self) -> str:
        return self.xcoms.run_id

    @property
    def pushed(self) -> dict[str, object]:
        return {key: value for (task, index, key), value in self.xcoms.items()
                if (task, index) == (self.task_id, self.map_index)}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcoms.put(self.task_id, key, value, self.map_index)

    def xcom_pull(self, task_ids: str, key: str = "return_value", map_indexes=NOTSET):  # noqa: ANN001
        assert isinstance(task_ids, str)
        if isinstance(map_indexes, (list, tuple, range)):
            return [self.xcoms.get(task_ids, key, index) for index in map_indexes]
        if map_indexes is NOTSET:  # Airflow: every map index of the task; one value for an unmapped task
            found = [v for (task, _, k), v in self.xcoms.items() if (task, k) == (task_ids, key)]
            return None if not found else found[0] if len(found) == 1 else found
        return self.xcoms.get(task_ids, key, -1 if map_indexes is None else map_indexes)

    def get_task_states(self, dag_id: str, task_ids=None, run_ids=None, **_):  # noqa: ANN001
        assert dag_id == self.dag_id and run_ids == [self.run_id]
        with self.xcoms.lock:
            states = {(f"{task}_{index}" if index >= 0 else task): state
                      for (task, index), state in self.xcoms.states.items() if not task_ids or task in task_ids}
        return {self.run_id: states} if states else {}


class FakeStateStore:
    """Airflow's task state store: values survive retries (stored as JSON)."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def get(self, key: str, default=None):  # noqa: ANN001
        return through_json(self.values[key]) if key in self.values else default

    def set(self, key: str, value: object) -> None:
        self.values[key] = through_json(value)

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
    monkeypatch.setattr("auth0_webhooks.webhook_client.backoff_delay", lambda *args, **kwargs: 0.0)


@pytest.fixture
def xcoms(monkeypatch) -> XComs:
    """The run's XComs; BaseXCom.delete (a slot deleting an acknowledged unit) deletes from them."""
    store = XComs()
    monkeypatch.setattr(BaseXCom, "delete", store.delete)
    return store


def make_logs(count: int, first: int = 0) -> list[dict]:
    return [{"log_id": f"{900 + i:06d}", "type": "s", "date": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.000Z"}
            for i in range(first, first + count)]


def publish(xcoms: XComs, logs: list[dict], *, batch_size: int = 10, as_batch: bool = True, per_unit: int = 100,
            task_id: str = READ_TASK_ID, first_index: int = 0) -> list[list[Delivery]]:
    """Push `logs` as units `unit-<first_index>`... the way a reader does; returns the units."""
    deliveries = plan_deliveries(logs, lambda log: True, batch_size, as_batch).deliveries
    units = [deliveries[start:start + per_unit] for start in range(0, len(deliveries), per_unit)]
    for offset, unit in enumerate(units):
        xcoms.put(task_id, unit_key(first_index + offset), encode_unit(unit), 0 if task_id == MORE_TASK_ID else -1)
    return units


def descriptor(first_units: int, as_batch: bool = True, more: bool = False) -> dict:
    return {"first_task": READ_TASK_ID, "first_units": first_units, "more": more,
            "more_task": MORE_TASK_ID if more else None, "send_as_batch": as_batch}


def run_slot(run: dict, xcoms: XComs, slot: int = 0, slots: int = 1, state: FakeStateStore | None = None):
    ti = xcoms.ti(DELIVER_TASK_ID, slot)
    context = {"ti": ti, "task_state_store": state}
    operator = LogsToWebhookOperator(task_id=DELIVER_TASK_ID, slot=slot, slots=slots, run=run)
    return operator.execute(context), ti, context


def bodies(requests_mock) -> list:
    return [json.loads(r.body) for r in requests_mock.request_history]


def sent_ids(requests_mock) -> list[str]:
    sent = []
    for body in bodies(requests_mock):
        sent.extend(entry["log_id"] for entry in (body if isinstance(body, list) else [body]))
    return sent


def ids(logs: list[dict]) -> list[str]:
    return [entry["log_id"] for entry in logs]


def unit_logs(unit: list[Delivery]) -> list[dict]:
    return [entry for delivery in unit for entry in delivery.logs]


# ---------------------------------------------------------------- sending


def test_batch_mode_posts_json_arrays_in_order(requests_mock, xcoms):
    requests_mock.post(URL, status_code=202)
    logs = make_logs(25)
    publish(xcoms, logs)
    result, ti, context = run_slot(descriptor(1), xcoms)
    assert [len(b) for b in bodies(requests_mock)] == [10, 10, 5]
    assert sent_ids(requests_mock) == ids(logs)
    assert all(r.headers["Authorization"] == AUTH for r in requests_mock.request_history)
    assert all(r.headers["Content-Type"] == "application/json" for r in requests_mock.request_history)
    assert all(r.timeout == 3 for r in requests_mock.request_history)
    progress = ti.pushed[PROGRESS_KEY]
    assert progress["error"] is None and set(progress["units"]) == {"0"}
    assert progress["units"]["0"] == {"acked": 3, "deliveries": 3, "logs_acked": 25, "checkpoint": logs[-1]["log_id"],
                                      "checkpoint_date": logs[-1]["date"], "error": None}
    assert result == {"error": None, "peak_rss_mb": progress["peak_rss_mb"], "units": 1}
    assert context["slot_label"] == "slot 1 of 1: 25 logs in 1 units"


def test_one_request_per_log_posts_objects(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(4)
    publish(xcoms, logs, as_batch=False, per_unit=3)  # units of 3 and 1 deliveries
    _, ti, _ = run_slot(descriptor(2, as_batch=False), xcoms)
    assert bodies(requests_mock) == logs  # one JSON object per request, in order
    assert {k: v["acked"] for k, v in ti.pushed[PROGRESS_KEY]["units"].items()} == {"0": 3, "1": 1}


def test_a_slot_delivers_only_its_stripe_and_all_slots_deliver_everything_once(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(70)
    units = publish(xcoms, logs, per_unit=1)  # 7 units of 10 logs
    run = descriptor(len(units))
    _, ti, context = run_slot(run, xcoms, slot=1, slots=3)
    assert sent_ids(requests_mock) == ids(unit_logs(units[1]) + unit_logs(units[4]))
    assert set(ti.pushed[PROGRESS_KEY]["units"]) == {"1", "4"}
    assert context["slot_label"] == "slot 2 of 3: 20 logs in 2 units"
    run_slot(run, xcoms, slot=0, slots=3)
    run_slot(run, xcoms, slot=2, slots=3)
    assert sorted(sent_ids(requests_mock)) == ids(logs)  # every log once
    assert xcoms.unit_keys() == []


def test_a_slot_with_no_unit_in_its_stripe_sends_nothing_and_reports(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(20), per_unit=1)  # 2 units, 4 slots
    result, ti, _ = run_slot(descriptor(2), xcoms, slot=3, slots=4)
    assert not requests_mock.called and result["units"] == 0
    assert ti.pushed[PROGRESS_KEY]["units"] == {} and ti.pushed[PROGRESS_KEY]["error"] is None


# ---------------------------------------------------------------- failures and resuming


def test_a_failure_stops_the_slot_reports_the_prefix_and_remembers_it(requests_mock, xcoms):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 500}, {"status_code": 500}])
    logs = make_logs(40)
    publish(xcoms, logs, per_unit=2)  # unit 0: logs 0-19, unit 1: logs 20-39
    state = FakeStateStore()
    with pytest.raises(Exception) as caught:
        run_slot(descriptor(2), xcoms, state=state)
    assert not isinstance(caught.value, AirflowFailException)  # transient: Airflow may retry
    assert len(requests_mock.request_history) == 3  # never skipped ahead to logs 10-19, nor to unit 1
    progress = xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 0)
    assert set(progress["units"]) == {"0"}
    assert progress["units"]["0"]["acked"] == 1 and progress["units"]["0"]["checkpoint"] == logs[9]["log_id"]
    assert "HTTP 500" in progress["units"]["0"]["error"] and "HTTP 500" in progress["error"]
    saved = state.values[RESUME_KEY]["units"]
    assert set(saved) == {"0"} and saved["0"]["acked"] == 1 and saved["0"]["logs_acked"] == 10
    assert len(xcoms.unit_keys()) == 2 and xcoms.deleted == []  # nothing deleted: nothing complete


def test_a_retry_resumes_after_what_was_acknowledged(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(30)
    units = publish(xcoms, logs)
    state = FakeStateStore()
    state.set(RESUME_KEY, {"units": {"0": unit_progress([d.to_xcom() for d in units[0]], 2, error="HTTP 500")}})
    _, ti, _ = run_slot(descriptor(1), xcoms, state=state)
    assert len(requests_mock.request_history) == 1
    assert json.loads(requests_mock.last_request.body)[0]["log_id"] == logs[20]["log_id"]
    record = ti.pushed[PROGRESS_KEY]["units"]["0"]
    assert record["acked"] == 3 and record["logs_acked"] == 30 and record["error"] is None


def test_a_retry_skips_units_acknowledged_in_full_even_when_deleted_from_xcom(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(40)
    units = publish(xcoms, logs, per_unit=2)
    state = FakeStateStore()
    state.set(RESUME_KEY, {"units": {"0": unit_progress([d.to_xcom() for d in units[0]], 2)}})
    del xcoms.values[(READ_TASK_ID, -1, "unit-0")]  # deleted by the earlier try
    _, ti, _ = run_slot(descriptor(2), xcoms, state=state)
    assert sent_ids(requests_mock) == ids(logs[20:])
    assert {k: v["acked"] for k, v in ti.pushed[PROGRESS_KEY]["units"].items()} == {"0": 2, "1": 2}


def test_resume_state_in_another_shape_is_ignored(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30))
    state = FakeStateStore()
    state.set(RESUME_KEY, {"unit": "L", "acked": 2})  # saved by an older version
    run_slot(descriptor(1), xcoms, state=state)
    assert len(requests_mock.request_history) == 3


@pytest.mark.parametrize("status", [400, 401, 410, 301])
def test_a_permanent_refusal_fails_without_airflow_retries(requests_mock, xcoms, status):
    requests_mock.post(URL, status_code=status, text="nope", headers={"Location": "https://elsewhere/x?k=1"})
    publish(xcoms, make_logs(5))
    with pytest.raises(AirflowFailException) as caught:
        run_slot(descriptor(1), xcoms)
    assert f"HTTP {status}" in str(caught.value)
    assert AUTH not in str(caught.value) and "token=abc" not in str(caught.value)
    progress = xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 0)
    assert progress["units"]["0"]["acked"] == 0 and f"HTTP {status}" in progress["units"]["0"]["error"]
    if status == 410:
        assert "asking us to stop" in str(caught.value)


def test_progress_is_saved_while_sending_so_a_killed_task_resumes(requests_mock, xcoms, monkeypatch):
    requests_mock.post(URL, status_code=200)
    saves = []
    state = FakeStateStore()
    original_set = state.set
    state.set = lambda key, value: saves.append(through_json(value)) or original_set(key, value)  # type: ignore
    monkeypatch.setattr("auth0_webhooks.progress.SAVE_EVERY_SECONDS", 0)
    publish(xcoms, make_logs(30))
    run_slot(descriptor(1), xcoms, state=state)
    assert [save["units"]["0"]["acked"] for save in saves] == [1, 2, 3, 3]  # each request, then the unit
    assert state.values[RESUME_KEY]["units"]["0"]["acked"] == 3  # kept: a retry skips the unit


def test_progress_is_pushed_after_every_unit(requests_mock, xcoms, monkeypatch):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30), per_unit=1)
    reports = []
    original = FakeTI.xcom_push

    def recording_push(self, key, value):  # noqa: ANN001
        if key == PROGRESS_KEY:
            reports.append(sorted(value["units"]))
        original(self, key, value)

    monkeypatch.setattr(FakeTI, "xcom_push", recording_push)
    run_slot(descriptor(3), xcoms)
    assert reports == [["0"], ["0", "1"], ["0", "1", "2"], ["0", "1", "2"]]


def test_410_gone_pauses_delivery_for_every_slot_until_an_operator_resumes(requests_mock, xcoms, variables):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 410}])
    publish(xcoms, make_logs(60), per_unit=3)  # units 0 and 1
    run = descriptor(2)
    with pytest.raises(AirflowFailException, match="410"):
        run_slot(run, xcoms, slot=0, slots=2)
    assert "auth0_webhooks_paused" in variables
    with pytest.raises(AirflowFailException, match="delivery is paused") as caught:
        run_slot(run, xcoms, slot=1, slots=2)  # another slot: sends nothing
    assert "delete the Variable 'auth0_webhooks_paused'" in str(caught.value)
    assert len(requests_mock.request_history) == 2
    progress = xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 1)
    assert progress["units"] == {} and "delivery is paused" in progress["error"]
    del variables["auth0_webhooks_paused"]  # the operator resumes delivery
    requests_mock.post(URL, status_code=200)
    _, ti, _ = run_slot(run, xcoms, slot=1, slots=2)
    assert ti.pushed[PROGRESS_KEY]["units"]["1"]["acked"] == 3


# ---------------------------------------------------------------- units in XCom


def test_acknowledged_units_are_deleted_from_xcom(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30), per_unit=1)
    publish(xcoms, make_logs(20, first=30), per_unit=1, task_id=MORE_TASK_ID, first_index=3)
    xcoms.put(MORE_TASK_ID, SUMMARY_KEY, {"final": True, "next_unit": 5}, 0)
    run_slot(descriptor(3, more=True), xcoms)
    assert xcoms.unit_keys() == []
    assert xcoms.deleted == [(READ_TASK_ID, -1, "unit-0"), (READ_TASK_ID, -1, "unit-1"), (READ_TASK_ID, -1, "unit-2"),
                             (MORE_TASK_ID, 0, "unit-3"), (MORE_TASK_ID, 0, "unit-4")]


def test_a_failing_xcom_delete_does_not_fail_the_delivery(requests_mock, xcoms, monkeypatch):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(10))

    def broken(**kwargs):  # noqa: ANN003
        raise RuntimeError("database is locked")

    monkeypatch.setattr(BaseXCom, "delete", broken)
    result, _, _ = run_slot(descriptor(1), xcoms)
    assert result["units"] == 1 and xcoms.unit_keys() == [(READ_TASK_ID, -1, "unit-0")]


def test_a_unit_missing_from_xcom_fails_the_slot(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30), per_unit=1)
    del xcoms.values[(READ_TASK_ID, -1, "unit-1")]
    with pytest.raises(AirflowFailException, match="unit 1 are missing from XCom"):
        run_slot(descriptor(3), xcoms, slot=1, slots=2)
    assert not requests_mock.called
    progress = xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 1)
    assert progress["units"] == {} and "missing" in progress["error"]


# ---------------------------------------------------------------- waiting for read_more


class ScriptedReader:
    """read_more as the slots see it: one more unit each time a slot sleeps, then its final summary."""

    def __init__(self, xcoms: XComs, clock, units: list[list[Delivery]], first_index: int) -> None:  # noqa: ANN001
        self.xcoms, self.clock, self.first_index = xcoms, clock, first_index
        self.pending = list(units)
        self.next_unit = first_index
        xcoms.states[(MORE_TASK_ID, 0)] = "running"

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        if self.pending:
            self.xcoms.put(MORE_TASK_ID, unit_key(self.next_unit), encode_unit(self.pending.pop(0)), 0)
            self.next_unit += 1
        elif self.xcoms.states[(MORE_TASK_ID, 0)] == "running":
            self.xcoms.put(MORE_TASK_ID, SUMMARY_KEY, {"final": True, "next_unit": self.next_unit, "error": None}, 0)
            self.xcoms.states[(MORE_TASK_ID, 0)] = "success"


def fake_time_source(monkeypatch, clock, sleep=None) -> None:  # noqa: ANN001
    """Slots build their UnitSource on a fake clock (waiting costs no real time)."""
    monkeypatch.setattr(logs_to_webhook, "UnitSource",
                        functools.partial(UnitSource, sleep=sleep or clock.sleep, clock=clock.time))


@pytest.mark.parametrize("slot", [0, 1])
def test_a_slot_waits_for_read_more_units_and_stops_at_its_final_summary(requests_mock, xcoms, monkeypatch, clock,
                                                                         slot):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(60)
    first = publish(xcoms, logs[:20], per_unit=1)  # units 0, 1 from read_logs
    later = plan_deliveries(logs[20:], lambda log: True, 10, True).deliveries  # units 2..5 from read_more
    reader = ScriptedReader(xcoms, clock, [[d] for d in later], first_index=2)
    fake_time_source(monkeypatch, clock, reader.sleep)
    result, ti, _ = run_slot(descriptor(2, more=True), xcoms, slot=slot, slots=2)
    units = first + [[d] for d in later]
    mine = [units[index] for index in range(slot, 6, 2)]
    assert sent_ids(requests_mock) == ids([entry for unit in mine for entry in unit_logs(unit)])
    assert result["units"] == 3 and set(ti.pushed[PROGRESS_KEY]["units"]) == {str(i) for i in range(slot, 6, 2)}
    assert ti.pushed[PROGRESS_KEY]["waited_for_reader_seconds"] > 0
    assert reader.pending == [] and xcoms.get(MORE_TASK_ID, SUMMARY_KEY, 0)["final"]


def test_a_slot_does_not_give_up_on_a_running_reader(requests_mock, xcoms, monkeypatch, clock):
    requests_mock.post(URL, status_code=200)
    xcoms.states[(MORE_TASK_ID, 0)] = "running"
    logs = make_logs(10)
    naps = []

    def sleep(seconds: float) -> None:  # the reader reads for a long while before its first unit
        clock.sleep(seconds)
        naps.append(seconds)
        if clock.now - T0 > 120 and not xcoms.unit_keys():
            publish(xcoms, logs, task_id=MORE_TASK_ID)
            xcoms.put(MORE_TASK_ID, SUMMARY_KEY, {"final": True, "next_unit": 1}, 0)

    fake_time_source(monkeypatch, clock, sleep)
    result, _, _ = run_slot(descriptor(0, more=True), xcoms)
    assert result["units"] == 1 and sent_ids(requests_mock) == ids(logs)
    assert max(naps) <= 1.0  # polls at least every second


def test_a_slot_reschedules_when_read_more_has_not_started_and_resumes_later(requests_mock, xcoms, monkeypatch,
                                                                               clock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(20)
    publish(xcoms, logs[:10])  # unit 0 from read_logs
    xcoms.states[(MORE_TASK_ID, 0)] = "scheduled"  # read_more waits for a worker
    fake_time_source(monkeypatch, clock)
    state = FakeStateStore()
    run = descriptor(1, more=True)
    with pytest.raises(AirflowRescheduleException) as caught:
        run_slot(run, xcoms, state=state)
    assert caught.value.reschedule_date is not None
    assert clock.now - T0 < 10  # gave the worker back after a few seconds' grace
    assert sent_ids(requests_mock) == ids(logs[:10])  # what read_logs published went out first
    assert state.values[RESUME_KEY]["units"]["0"]["acked"] == 1
    assert set(xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 0)["units"]) == {"0"}
    # read_more runs; the rescheduled slot comes back and delivers only what is new.
    publish(xcoms, logs[10:], task_id=MORE_TASK_ID, first_index=1)
    xcoms.put(MORE_TASK_ID, SUMMARY_KEY, {"final": True, "next_unit": 2}, 0)
    xcoms.states[(MORE_TASK_ID, 0)] = "success"
    result, ti, _ = run_slot(run, xcoms, state=state)
    assert sent_ids(requests_mock) == ids(logs)
    assert {k: v["acked"] for k, v in ti.pushed[PROGRESS_KEY]["units"].items()} == {"0": 1, "1": 1}
    assert xcoms.unit_keys() == []


def test_a_slot_stops_after_a_reader_that_ended_without_its_final_summary(requests_mock, xcoms, monkeypatch, clock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(20)
    publish(xcoms, logs, per_unit=1, task_id=MORE_TASK_ID)  # units 0, 1; then read_more was killed
    xcoms.states[(MORE_TASK_ID, 0)] = "failed"
    fake_time_source(monkeypatch, clock)
    result, _, _ = run_slot(descriptor(0, more=True), xcoms)
    assert result["units"] == 2 and sent_ids(requests_mock) == ids(logs)
