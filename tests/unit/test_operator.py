"""LogsToWebhookOperator with requests-mock: what it sends, reports, resumes, deletes.

Two uses: the shipped DAG's delivery slots (`units` is a LiveRun, `slot=j`: units j, j + n, ...
published by the readers in XCom), and a DAG of your own (`units` is one Unit XCom value, or a
list of them, from `read.read_units`). XCom, task states and the task state store are faked
(tests/unit/fakes.py): values go through JSON as Airflow stores them.
"""

from __future__ import annotations

import functools
import json

import pytest
from airflow.sdk.bases.xcom import BaseXCom
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

from auth0_webhooks import deliver
from auth0_webhooks.names import DELIVER_TASK_ID, MORE_TASK_ID, PAUSE_VARIABLE, READ_TASK_ID
from auth0_webhooks.operators.logs_to_webhook import LogsToWebhookOperator
from auth0_webhooks.protocol import PROGRESS_KEY, RESUME_KEY, SUMMARY_KEY, Checkpoint, LiveRun, ReadSummary, \
    RunInfo, SlotReport, Unit, UnitProgress, unit_key
from auth0_webhooks.read import read_units
from auth0_webhooks.settings import Settings
from auth0_webhooks.webhook_client import WebhookDeliveryError

from .conftest import T0
from .fakes import FakeStateStore, FakeTI, XComs, execute, fake_variables, fake_xcoms, ids, plan_deliveries, through_json

URL = "https://hooks.example.com/auth0?token=abc"
AUTH = "Bearer operator-test-secret"
READ_ID = "read-1"


@pytest.fixture(autouse=True)
def variables(monkeypatch) -> dict:
    return fake_variables(monkeypatch)


@pytest.fixture(autouse=True)
def webhook_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": URL, "password": AUTH, "extra": {"timeout": 3, "max_attempts": 2}}))
    monkeypatch.setattr("auth0_webhooks.webhook_client.backoff_delay", lambda *args, **kwargs: 0.0)


@pytest.fixture
def xcoms(monkeypatch) -> XComs:
    return fake_xcoms(monkeypatch)


def make_logs(count: int, first: int = 0) -> list[dict]:
    return [{"log_id": f"{900 + i:06d}", "type": "s", "date": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.000Z"}
            for i in range(first, first + count)]


def publish(xcoms: XComs, logs: list[dict], *, batch_size: int = 10, as_batch: bool = True, per_unit: int = 100,
            task_id: str = READ_TASK_ID, first_index: int = 0) -> list[Unit]:
    """Push `logs` as units `unit-<first_index>`... the way a reader does; returns the units."""
    deliveries = plan_deliveries(logs, lambda log: True, batch_size, as_batch).deliveries
    units = [Unit(first_index + offset, deliveries[start:start + per_unit], READ_ID)
             for offset, start in enumerate(range(0, len(deliveries), per_unit))]
    for unit in units:
        xcoms.put(task_id, unit_key(unit.index), unit.to_xcom(), 0 if task_id == MORE_TASK_ID else -1)
    return units


def live_run(first_units: int, as_batch: bool = True, more: bool = False, slots: int = 1) -> dict:
    """The shipped DAG's mapped argument: a LiveRun, as read_logs returns it."""
    return LiveRun(READ_ID, slots, as_batch, READ_TASK_ID, first_units, MORE_TASK_ID if more else None).to_xcom()


def run_slot(run: dict, xcoms: XComs, slot: int = 0, state: FakeStateStore | None = None):
    """One delivery slot of the shipped DAG: (its return value, its task instance, its context)."""
    ti = xcoms.ti(DELIVER_TASK_ID, slot)
    result, context = execute(LogsToWebhookOperator(task_id=DELIVER_TASK_ID, units=run, slot=slot), ti, state)
    return result, ti, context


def final_summary(next_unit: int) -> dict:
    """read_more's final summary, as the slots read it: it published units below `next_unit`."""
    run = RunInfo(READ_ID, None, None, None, None, False, False, "all logs", False)
    return ReadSummary(run, (), next_unit, None, None, 0, 0, True, "caught up", True).to_xcom()


def report_of(value: object) -> SlotReport:
    report = SlotReport.from_xcom(value)
    assert report is not None, value
    return report


def bodies(requests_mock) -> list:
    return [json.loads(r.body) for r in requests_mock.request_history]


def sent_ids(requests_mock) -> list[str]:
    sent = []
    for body in bodies(requests_mock):
        sent.extend(entry["log_id"] for entry in (body if isinstance(body, list) else [body]))
    return sent


def unit_logs(unit: Unit) -> list[dict]:
    return [entry for delivery in unit.deliveries for entry in delivery.logs]


def checkpoint_of(entry: dict) -> Checkpoint:
    return Checkpoint(entry["log_id"], entry["date"])


# ---------------------------------------------------------------- sending


def test_batch_mode_posts_json_arrays_in_order(requests_mock, xcoms):
    requests_mock.post(URL, status_code=202)
    logs = make_logs(25)
    units = publish(xcoms, logs)
    result, ti, context = run_slot(live_run(1), xcoms)
    assert [len(b) for b in bodies(requests_mock)] == [10, 10, 5]
    assert sent_ids(requests_mock) == ids(logs)
    assert all(r.headers["Authorization"] == AUTH for r in requests_mock.request_history)
    assert all(r.headers["Content-Type"] == "application/json" for r in requests_mock.request_history)
    assert all(r.timeout == 3 for r in requests_mock.request_history)
    progress = report_of(ti.pushed[PROGRESS_KEY])
    assert progress.error is None and progress.read_id == READ_ID and set(progress.units) == {0}
    assert progress.units[0] == UnitProgress(acked=3, deliveries=3, logs_acked=25, checkpoint=checkpoint_of(logs[-1]),
                                             error=None)
    assert progress.largest_unit_bytes == len(units[0].to_xcom()) and progress.peak_rss_mb
    assert result == ti.pushed[PROGRESS_KEY]  # returned as pushed
    assert context["delivery_label"] == "slot 1 of 1: 25 logs in 1 units"


def test_one_request_per_log_posts_objects(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(4)
    publish(xcoms, logs, as_batch=False, per_unit=3)  # units of 3 and 1 deliveries
    _, ti, _ = run_slot(live_run(2, as_batch=False), xcoms)
    assert bodies(requests_mock) == logs  # one JSON object per request, in order
    assert {k: v.acked for k, v in report_of(ti.pushed[PROGRESS_KEY]).units.items()} == {0: 3, 1: 1}


def test_a_slot_delivers_only_its_stripe_and_all_slots_deliver_everything_once(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(70)
    units = publish(xcoms, logs, per_unit=1)  # 7 units of 10 logs
    run = live_run(len(units), slots=3)
    _, ti, context = run_slot(run, xcoms, slot=1)
    assert sent_ids(requests_mock) == ids(unit_logs(units[1]) + unit_logs(units[4]))
    assert set(report_of(ti.pushed[PROGRESS_KEY]).units) == {1, 4}
    assert context["delivery_label"] == "slot 2 of 3: 20 logs in 2 units"
    run_slot(run, xcoms, slot=0)
    run_slot(run, xcoms, slot=2)
    assert sorted(sent_ids(requests_mock)) == ids(logs)  # every log once
    assert xcoms.unit_keys() == []


def test_a_slot_with_no_unit_in_its_stripe_sends_nothing_and_reports(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(20), per_unit=1)  # 2 units, 4 slots
    result, ti, context = run_slot(live_run(2, slots=4), xcoms, slot=3)
    assert not requests_mock.called and report_of(result).units == {}
    progress = report_of(ti.pushed[PROGRESS_KEY])
    assert progress.units == {} and progress.error is None
    assert context["delivery_label"] == "slot 4 of 4: 0 logs in 0 units"


# ---------------------------------------------------------------- failures and resuming


def test_a_failure_stops_the_slot_reports_the_prefix_and_remembers_it(requests_mock, xcoms):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 500}, {"status_code": 500}])
    logs = make_logs(40)
    publish(xcoms, logs, per_unit=2)  # unit 0: logs 0-19, unit 1: logs 20-39
    state = FakeStateStore()
    with pytest.raises(Exception) as caught:
        run_slot(live_run(2), xcoms, state=state)
    assert not isinstance(caught.value, AirflowFailException)  # transient: Airflow may retry
    assert len(requests_mock.request_history) == 3  # never skipped ahead to logs 10-19, nor to unit 1
    progress = report_of(xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 0))
    assert set(progress.units) == {0}
    assert progress.units[0].acked == 1 and progress.units[0].checkpoint == checkpoint_of(logs[9])
    assert "HTTP 500" in progress.units[0].error and "HTTP 500" in progress.error
    assert not progress.units[0].acknowledged
    saved = report_of(state.values[RESUME_KEY])
    assert saved.read_id == READ_ID and set(saved.units) == {0}
    assert saved.units[0].acked == 1 and saved.units[0].logs_acked == 10
    assert len(xcoms.unit_keys()) == 2 and xcoms.deleted == []  # nothing deleted: nothing complete


def test_a_retry_resumes_after_what_was_acknowledged(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(30)
    units = publish(xcoms, logs)
    state = FakeStateStore()
    state.set(RESUME_KEY, SlotReport(READ_ID, {0: UnitProgress.of(units[0], 2, error="HTTP 500")}).to_xcom())
    _, ti, _ = run_slot(live_run(1), xcoms, state=state)
    assert len(requests_mock.request_history) == 1
    assert json.loads(requests_mock.last_request.body)[0]["log_id"] == logs[20]["log_id"]
    record = report_of(ti.pushed[PROGRESS_KEY]).units[0]
    assert record.acked == 3 and record.logs_acked == 30 and record.error is None and record.acknowledged


def test_a_retry_skips_units_acknowledged_in_full_even_when_deleted_from_xcom(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(40)
    units = publish(xcoms, logs, per_unit=2)
    state = FakeStateStore()
    state.set(RESUME_KEY, SlotReport(READ_ID, {0: UnitProgress.of(units[0], 2)}).to_xcom())
    del xcoms.values[(READ_TASK_ID, -1, "unit-0")]  # deleted by the earlier try
    _, ti, _ = run_slot(live_run(2), xcoms, state=state)
    assert sent_ids(requests_mock) == ids(logs[20:])
    assert {k: v.acked for k, v in report_of(ti.pushed[PROGRESS_KEY]).units.items()} == {0: 2, 1: 2}


def test_a_retry_does_not_resume_another_reads_progress(requests_mock, xcoms):
    """A cleared run reads again: its units have the same numbers but other logs."""
    requests_mock.post(URL, status_code=200)
    logs = make_logs(30)
    units = publish(xcoms, logs)
    state = FakeStateStore()
    state.set(RESUME_KEY, SlotReport("an-older-read", {0: UnitProgress.of(units[0], 2)}).to_xcom())
    run_slot(live_run(1), xcoms, state=state)
    assert sent_ids(requests_mock) == ids(logs)


@pytest.mark.parametrize("saved", [
    {"unit": "L", "acked": 2},  # saved by an older version
    {"read": READ_ID, "units": {"0": {"acked": 2, "deliveries": 3, "logs_acked": 20, "checkpoint": "000919",
                                      "checkpoint_date": None, "error": None}}},  # saved before the refactoring
], ids=["unknown", "before-the-refactoring"])
def test_resume_state_in_another_shape_is_ignored(requests_mock, xcoms, saved):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30))
    state = FakeStateStore()
    state.set(RESUME_KEY, saved)
    run_slot(live_run(1), xcoms, state=state)
    assert len(requests_mock.request_history) == 3


@pytest.mark.parametrize("status", [400, 401, 410, 301])
def test_a_permanent_refusal_fails_without_airflow_retries(requests_mock, xcoms, status):
    requests_mock.post(URL, status_code=status, text="nope", headers={"Location": "https://elsewhere/x?k=1"})
    publish(xcoms, make_logs(5))
    with pytest.raises(AirflowFailException) as caught:
        run_slot(live_run(1), xcoms)
    assert f"HTTP {status}" in str(caught.value)
    assert AUTH not in str(caught.value) and "token=abc" not in str(caught.value)
    progress = report_of(xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 0))
    assert progress.units[0].acked == 0 and f"HTTP {status}" in progress.units[0].error
    if status == 410:
        assert "asking us to stop" in str(caught.value)


def test_progress_is_saved_while_sending_so_a_killed_task_resumes(requests_mock, xcoms, monkeypatch):
    requests_mock.post(URL, status_code=200)
    saves = []
    state = FakeStateStore()
    original_set = state.set
    state.set = lambda key, value: saves.append(through_json(value)) or original_set(key, value)  # type: ignore
    monkeypatch.setattr(deliver, "SAVE_EVERY_SECONDS", 0)
    publish(xcoms, make_logs(30))
    run_slot(live_run(1), xcoms, state=state)
    assert [report_of(save).units[0].acked for save in saves] == [1, 2, 3, 3]  # each request, then the unit
    assert report_of(state.values[RESUME_KEY]).units[0].acked == 3  # kept: a retry skips the unit


def test_progress_is_pushed_after_every_unit(requests_mock, xcoms, monkeypatch):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30), per_unit=1)
    reports = []
    original = FakeTI.xcom_push

    def recording_push(self, key, value):  # noqa: ANN001
        if key == PROGRESS_KEY:
            reports.append(sorted(report_of(value).units))
        original(self, key, value)

    monkeypatch.setattr(FakeTI, "xcom_push", recording_push)
    run_slot(live_run(3), xcoms)
    assert reports == [[0], [0, 1], [0, 1, 2], [0, 1, 2]]


def test_410_gone_pauses_delivery_for_every_slot_until_an_operator_resumes(requests_mock, xcoms, variables):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 410}])
    publish(xcoms, make_logs(60), per_unit=3)  # units 0 and 1
    run = live_run(2, slots=2)
    with pytest.raises(AirflowFailException, match="410"):
        run_slot(run, xcoms, slot=0)
    assert PAUSE_VARIABLE in variables
    with pytest.raises(AirflowFailException, match="delivery is paused") as caught:
        run_slot(run, xcoms, slot=1)  # another slot: sends nothing
    assert "delete the Variable 'auth0_webhooks_paused'" in str(caught.value)
    assert len(requests_mock.request_history) == 2
    progress = report_of(xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 1))
    assert progress.units == {} and "delivery is paused" in progress.error
    del variables[PAUSE_VARIABLE]  # the operator resumes delivery
    requests_mock.post(URL, status_code=200)
    _, ti, _ = run_slot(run, xcoms, slot=1)
    assert report_of(ti.pushed[PROGRESS_KEY]).units[1].acked == 3


# ---------------------------------------------------------------- units in XCom


def test_acknowledged_units_are_deleted_from_xcom(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30), per_unit=1)
    publish(xcoms, make_logs(20, first=30), per_unit=1, task_id=MORE_TASK_ID, first_index=3)
    xcoms.put(MORE_TASK_ID, SUMMARY_KEY, final_summary(next_unit=5), 0)
    run_slot(live_run(3, more=True), xcoms)
    assert xcoms.unit_keys() == []
    assert xcoms.deleted == [(READ_TASK_ID, -1, "unit-0"), (READ_TASK_ID, -1, "unit-1"), (READ_TASK_ID, -1, "unit-2"),
                             (MORE_TASK_ID, 0, "unit-3"), (MORE_TASK_ID, 0, "unit-4")]


def test_a_failing_xcom_delete_does_not_fail_the_delivery(requests_mock, xcoms, monkeypatch):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(10))

    def broken(**kwargs):  # noqa: ANN003
        raise RuntimeError("database is locked")

    monkeypatch.setattr(BaseXCom, "delete", broken)
    result, _, _ = run_slot(live_run(1), xcoms)
    assert set(report_of(result).units) == {0} and report_of(result).units[0].acknowledged
    assert xcoms.unit_keys() == [(READ_TASK_ID, -1, "unit-0")]


def test_a_unit_missing_from_xcom_fails_the_slot(requests_mock, xcoms):
    requests_mock.post(URL, status_code=200)
    publish(xcoms, make_logs(30), per_unit=1)
    del xcoms.values[(READ_TASK_ID, -1, "unit-1")]
    with pytest.raises(AirflowFailException, match="unit 1 are missing from XCom"):
        run_slot(live_run(3, slots=2), xcoms, slot=1)
    assert not requests_mock.called
    progress = report_of(xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 1))
    assert progress.units == {} and "missing" in progress.error


# ---------------------------------------------------------------- waiting for read_more


class ScriptedReader:
    """read_more as the slots see it: one more unit each time a slot sleeps, then its final summary."""

    def __init__(self, xcoms: XComs, clock, units: list[Unit]) -> None:  # noqa: ANN001
        self.xcoms, self.clock = xcoms, clock
        self.pending = list(units)
        self.next_unit = units[0].index
        xcoms.states[(MORE_TASK_ID, 0)] = "running"

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        if self.pending:
            unit = self.pending.pop(0)
            self.xcoms.put(MORE_TASK_ID, unit_key(unit.index), unit.to_xcom(), 0)
            self.next_unit = unit.index + 1
        elif self.xcoms.states[(MORE_TASK_ID, 0)] == "running":
            self.xcoms.put(MORE_TASK_ID, SUMMARY_KEY, final_summary(self.next_unit), 0)
            self.xcoms.states[(MORE_TASK_ID, 0)] = "success"


def fake_time_stripe(monkeypatch, clock, sleep=None) -> None:  # noqa: ANN001
    """Slots build their LiveStripe on a fake clock (waiting costs no real time)."""
    monkeypatch.setattr(deliver, "LiveStripe",
                        functools.partial(deliver.LiveStripe, sleep=sleep or clock.sleep, clock=clock.time))


@pytest.mark.parametrize("slot", [0, 1])
def test_a_slot_waits_for_read_more_units_and_stops_at_its_final_summary(requests_mock, xcoms, monkeypatch, clock,
                                                                         slot):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(60)
    first = publish(xcoms, logs[:20], per_unit=1)  # units 0, 1 from read_logs
    later = plan_deliveries(logs[20:], lambda log: True, 10, True).deliveries  # units 2..5 from read_more
    reader = ScriptedReader(xcoms, clock, [Unit(2 + n, [d], READ_ID) for n, d in enumerate(later)])
    fake_time_stripe(monkeypatch, clock, reader.sleep)
    result, ti, context = run_slot(live_run(2, more=True, slots=2), xcoms, slot=slot)
    units = first + [Unit(2 + n, [d], READ_ID) for n, d in enumerate(later)]
    mine = [units[index] for index in range(slot, 6, 2)]
    assert sent_ids(requests_mock) == ids([entry for unit in mine for entry in unit_logs(unit)])
    assert set(report_of(result).units) == set(range(slot, 6, 2))
    assert all(unit.acknowledged for unit in report_of(result).units.values())
    assert context["delivery_label"] == f"slot {slot + 1} of 2: 30 logs in 3 units"
    assert set(report_of(ti.pushed[PROGRESS_KEY]).units) == set(range(slot, 6, 2))
    assert report_of(ti.pushed[PROGRESS_KEY]).waited_for_reader_seconds > 0
    assert reader.pending == [] and ReadSummary.from_xcom(xcoms.get(MORE_TASK_ID, SUMMARY_KEY, 0)).final


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
            xcoms.put(MORE_TASK_ID, SUMMARY_KEY, final_summary(next_unit=1), 0)

    fake_time_stripe(monkeypatch, clock, sleep)
    result, _, context = run_slot(live_run(0, more=True), xcoms)
    assert set(report_of(result).units) == {0} and sent_ids(requests_mock) == ids(logs)
    assert context["delivery_label"] == "slot 1 of 1: 10 logs in 1 units"
    assert max(naps) <= 1.0  # polls at least every second


def test_a_slot_reschedules_when_read_more_has_not_started_and_resumes_later(requests_mock, xcoms, monkeypatch,
                                                                               clock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(20)
    publish(xcoms, logs[:10])  # unit 0 from read_logs
    xcoms.states[(MORE_TASK_ID, 0)] = "scheduled"  # read_more waits for a worker
    fake_time_stripe(monkeypatch, clock)
    state = FakeStateStore()
    run = live_run(1, more=True)
    with pytest.raises(AirflowRescheduleException) as caught:
        run_slot(run, xcoms, state=state)
    assert caught.value.reschedule_date is not None
    assert clock.now - T0 < 10  # gave the worker back after a few seconds' grace
    assert sent_ids(requests_mock) == ids(logs[:10])  # what read_logs published went out first
    assert report_of(state.values[RESUME_KEY]).units[0].acked == 1
    assert set(report_of(xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 0)).units) == {0}
    # read_more runs; the rescheduled slot comes back and delivers only what is new.
    publish(xcoms, logs[10:], task_id=MORE_TASK_ID, first_index=1)
    xcoms.put(MORE_TASK_ID, SUMMARY_KEY, final_summary(next_unit=2), 0)
    xcoms.states[(MORE_TASK_ID, 0)] = "success"
    result, ti, _ = run_slot(run, xcoms, state=state)
    assert sent_ids(requests_mock) == ids(logs)
    assert {k: v.acked for k, v in report_of(ti.pushed[PROGRESS_KEY]).units.items()} == {0: 1, 1: 1}
    assert xcoms.unit_keys() == []


def test_a_slot_stops_after_a_reader_that_ended_without_its_final_summary(requests_mock, xcoms, monkeypatch, clock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(20)
    publish(xcoms, logs, per_unit=1, task_id=MORE_TASK_ID)  # units 0, 1; then read_more was killed
    xcoms.states[(MORE_TASK_ID, 0)] = "failed"
    fake_time_stripe(monkeypatch, clock)
    result, _, _ = run_slot(live_run(0, more=True), xcoms)
    assert set(report_of(result).units) == {0, 1} and sent_ids(requests_mock) == ids(logs)


# ---------------------------------------------------------------- a DAG of your own: units from read_units


class Tenant:
    """An Auth0 tenant's logs as read_units reads them (Auth0LogsClient's two calls)."""

    def __init__(self, logs: list[dict]) -> None:
        self.logs = logs

    def first_log(self, since=None) -> dict | None:  # noqa: ANN001
        return self.logs[0] if self.logs else None

    def logs_after(self, log_id: str, take: int) -> list[dict]:
        return [entry for entry in self.logs if entry["log_id"] > log_id][:take]


def read(logs: list[dict], as_batch: bool = True) -> list[str]:
    """read_units' units as a reading task returns them: Unit XCom values (45 logs: 3 units)."""
    units = read_units(Tenant(logs), None, Settings(batch_size=10, batches_per_task=2, send_as_batch=as_batch))
    return [unit.to_xcom() for unit in units]


def deliver_units(units: object, state: FakeStateStore | None = None, ti: FakeTI | None = None, **kwargs):
    """LogsToWebhookOperator(units=...) in a DAG of your own: (its return value, its task instance, context)."""
    ti = ti or FakeTI("deliver_units")
    result, context = execute(LogsToWebhookOperator(task_id="deliver_units", units=units, **kwargs), ti, state)
    return result, ti, context


@pytest.mark.parametrize("as_batch", [True, False], ids=["batch", "one-log-per-request"])
def test_given_units_are_sent_in_order_and_reported_acknowledged(requests_mock, as_batch):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(45)
    values = read(logs, as_batch)
    units = [Unit.from_xcom(value) for value in values]
    assert len(units) == 3 and all(isinstance(value, str) for value in values)
    result, ti, context = deliver_units(values, FakeStateStore(), send_as_batch=as_batch)
    assert sent_ids(requests_mock) == ids(logs)  # in order, each once
    expected_bodies = [d.logs for u in units for d in u.deliveries] if as_batch else logs
    assert bodies(requests_mock) == expected_bodies
    report = report_of(result)
    assert report.read_id == units[0].read_id and report.error is None
    assert set(report.units) == {0, 1, 2} and all(progress.acknowledged for progress in report.units.values())
    assert [report.units[u.index].checkpoint for u in units] == [u.deliveries[-1].checkpoint for u in units]
    assert report.units[2].checkpoint == checkpoint_of(logs[-1])
    assert sum(progress.logs_acked for progress in report.units.values()) == 45
    assert ti.pushed[PROGRESS_KEY] == result
    assert context["delivery_label"] == "units: 45 logs in 3 units"


def test_one_given_unit_per_task_as_when_mapped(requests_mock):
    requests_mock.post(URL, status_code=200)
    logs = make_logs(45)
    values = read(logs)
    result, _, context = deliver_units(values[1])  # a single unit, not a list
    unit = Unit.from_xcom(values[1])
    assert sent_ids(requests_mock) == ids(unit_logs(unit))
    report = report_of(result)
    assert set(report.units) == {1} and report.units[1].acknowledged
    assert report.units[1].checkpoint == unit.deliveries[-1].checkpoint
    assert context["delivery_label"] == f"units: {unit.logs} logs in 1 units"
    for value in (values[0], values[2]):  # the other mapped instances
        deliver_units(value)
    assert sorted(sent_ids(requests_mock)) == ids(logs)


def test_given_units_resume_after_a_failure_from_the_task_state_store(requests_mock):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 500}, {"status_code": 503}])
    logs = make_logs(45)
    values = read(logs)
    state = FakeStateStore()
    with pytest.raises(WebhookDeliveryError):  # transient: Airflow retries the task
        deliver_units(values, state)
    assert sent_ids(requests_mock) == ids(logs[:10] + logs[10:20] + logs[10:20])  # the 2nd delivery, tried twice
    saved = report_of(state.values[RESUME_KEY])
    assert saved.read_id == Unit.from_xcom(values[0]).read_id
    assert set(saved.units) == {0} and saved.units[0].acked == 1 and saved.units[0].checkpoint == checkpoint_of(logs[9])
    requests_mock.reset_mock()
    requests_mock.post(URL, status_code=200)
    result, _, context = deliver_units(values, state)  # the retry: same units, same state store
    assert sent_ids(requests_mock) == ids(logs[10:])  # after the last acknowledged request, nothing twice
    report = report_of(result)
    assert set(report.units) == {0, 1, 2} and all(progress.acknowledged for progress in report.units.values())
    assert report.units[0].logs_acked == len(unit_logs(Unit.from_xcom(values[0])))
    assert context["delivery_label"] == "units: 35 logs in 3 units"


def test_given_units_stop_at_the_first_refused_request_without_skipping(requests_mock):
    requests_mock.post(URL, [{"status_code": 200}, {"status_code": 422}, {"status_code": 200}])
    logs = make_logs(45)
    values = read(logs)
    ti = FakeTI("deliver_units")
    state = FakeStateStore()
    with pytest.raises(AirflowFailException, match="HTTP 422"):  # permanent: no Airflow retry
        deliver_units(values, state, ti)
    assert len(requests_mock.request_history) == 2  # nothing after the refused request
    assert sent_ids(requests_mock) == ids(logs[:20])
    progress = report_of(ti.pushed[PROGRESS_KEY])
    assert set(progress.units) == {0}  # units 1 and 2 were not started
    assert progress.units[0].acked == 1 and progress.units[0].checkpoint == checkpoint_of(logs[9])
    assert "HTTP 422" in progress.units[0].error and not progress.units[0].acknowledged
    assert "HTTP 422" in progress.error
    assert report_of(state.values[RESUME_KEY]).units[0].acked == 1
