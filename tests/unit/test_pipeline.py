"""read_logs, read_more, the delivery slots and commit without a scheduler.

Variables patched, the emulator as the tenant, XCom and task states faked (tests/unit/fakes.py).
Slots are either faked (`fake_deliver`: reports as if every unit was acknowledged) or real
LogsToWebhookOperator instances sending to the in-process webhook receiver. What crosses task
boundaries is decoded with the records of `protocol` (LiveRun, ReadSummary, Unit, SlotReport).
"""

from __future__ import annotations

import functools
import json
import threading
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, AirflowTaskTimeout

from auth0_webhooks import commit as commit_module
from auth0_webhooks import deliver, read as read_module
from auth0_webhooks.auth0_client import Auth0ApiError, Auth0Credentials, Auth0LogsClient
from auth0_webhooks.commit import RunFailed, commit_step
from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DELIVER_TASK_ID, MORE_TASK_ID, READ_TASK_ID, \
    STATE_VARIABLE
from auth0_webhooks.operators.logs_to_webhook import LogsToWebhookOperator
from auth0_webhooks.protocol import HANDOVER_KEY, PROGRESS_KEY, SUMMARY_KEY, AcknowledgedSpan, Checkpoint, Handover, \
    LiveRun, PipelineState, ReadSummary, SlotReport, UnitProgress, UnitSummary
from auth0_webhooks.read import UnitPublisher, read_first, read_more as read_more_step
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver

from .fakes import FakeStateStore, XComs, execute, fake_variables, fake_xcoms, ids


@pytest.fixture
def variables(monkeypatch):
    return fake_variables(monkeypatch)


@pytest.fixture(autouse=True)
def slack(monkeypatch):
    sent: list = []
    from auth0_webhooks.reporting import should_notify

    def publish_run(context, report, *, send_success=False, **_):  # noqa: ANN001 - the reports Slack would get
        if should_notify(report, send_success):
            sent.append(report)

    monkeypatch.setattr(commit_module, "publish_run", publish_run)
    return sent


@pytest.fixture(autouse=True)
def first_read_seconds(monkeypatch):
    """read_logs reads everything in these tests unless one asks for a hand-over (`handover`)."""
    monkeypatch.setattr(read_module, "FIRST_READ_SECONDS", 60.0)


@pytest.fixture
def handover(monkeypatch):
    """read_logs hands over after its first page."""
    monkeypatch.setattr(read_module, "FIRST_READ_SECONDS", 0.0)


@pytest.fixture
def xcoms(monkeypatch) -> XComs:
    return fake_xcoms(monkeypatch)


@pytest.fixture
def tenant():
    with Auth0Emulator(client_id="c", client_secret="s", seed=11) as emulator:
        yield emulator


@pytest.fixture
def receiver(monkeypatch):
    with WebhookReceiver() as webhook:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": f"{webhook.base_url}/hook", "extra": {"timeout": 5, "max_attempts": 1}}))
        yield webhook


def client_for(emulator: Auth0Emulator) -> Auth0LogsClient:
    return Auth0LogsClient(Auth0Credentials.from_domain(emulator.base_url, "c", "s"))


def configure(variables: dict, **settings) -> None:
    variables[CONFIG_VARIABLE] = json.dumps(settings)


def read(xcoms: XComs, tenant: Auth0Emulator, slots: int | None = None, **params) -> list[dict]:
    return read_first({"ti": xcoms.ti(READ_TASK_ID), "params": params}, slots, client=client_for(tenant))


def read_more(xcoms: XComs, planned: dict, client) -> ReadSummary:  # noqa: ANN001
    """Run read_more; its final summary, as the commit will read it."""
    assert read_more_step({"ti": xcoms.ti(MORE_TASK_ID, 0), "params": {}}, planned, client=client) is None
    return summary_of(xcoms, MORE_TASK_ID)


def commit(xcoms: XComs) -> dict:
    return commit_step({"ti": xcoms.ti("commit")})


def live(plan: list[dict]) -> LiveRun:
    """The one live run read_logs returned."""
    assert len(plan) == 1, plan
    run = LiveRun.from_xcom(plan[0])
    assert run is not None, plan
    return run


def summary_of(xcoms: XComs, task_id: str = READ_TASK_ID) -> ReadSummary:
    summary = ReadSummary.from_xcom(xcoms.get(task_id, SUMMARY_KEY, 0 if task_id == MORE_TASK_ID else -1))
    assert summary is not None, f"{task_id} pushed no summary"
    return summary


def fake_deliver(xcoms: XComs, slots: int, killed: tuple[int, ...] = ()) -> None:
    """Every slot but the `killed` ones acknowledged every unit of its stripe and reported it."""
    read_id = summary_of(xcoms).run.read_id
    reports = {slot: SlotReport(read_id) for slot in range(slots) if slot not in killed}
    for index, unit in xcoms.units().items():
        if index % slots in reports:
            reports[index % slots].units[index] = UnitProgress.of(unit, len(unit.deliveries))
    for slot, report in reports.items():
        xcoms.put(DELIVER_TASK_ID, PROGRESS_KEY, report.to_xcom(), slot)


def deliver_with_slots(xcoms: XComs, planned: dict, slots: int) -> list[SlotReport]:
    """Run every slot (real operator), one after the other."""
    results = []
    for slot in range(slots):
        operator = LogsToWebhookOperator(task_id=DELIVER_TASK_ID, units=planned, slot=slot)
        result, _ = execute(operator, xcoms.ti(DELIVER_TASK_ID, slot), FakeStateStore())
        results.append(SlotReport.from_xcom(result))
    return results


# ---------------------------------------------------------------- read_logs alone, then commit


def test_read_then_commit_moves_the_checkpoint_to_the_last_log(variables, tenant, xcoms):
    logs = tenant.add_logs(230)
    configure(variables, batch_size=50, webhook_concurrent_calls=2)
    plan = read(xcoms, tenant, slots=2)
    run = live(plan)
    assert plan == [LiveRun(run.read_id, slots=2, send_as_batch=True, first_task=READ_TASK_ID,
                            first_units=run.first_units, more_task=None).to_xcom()]
    assert len(run.read_id) == 32
    summary = summary_of(xcoms)
    assert summary.final and not summary.more and summary.slots == 2 and summary.caught_up
    assert summary.run.read_id == run.read_id
    units = summary.units
    assert [u.index for u in units] == list(range(run.first_units)) and len(units) >= 2
    assert all(isinstance(u, UnitSummary) and u.task_id == READ_TASK_ID and u.label and u.deliveries >= 1
               and u.logs >= 1 and u.checkpoint.date for u in units)
    published = xcoms.units()
    assert all(isinstance(xcoms.get(READ_TASK_ID, f"unit-{u.index}"), str) for u in units)  # one JSON text each
    assert all(published[u.index].read_id == run.read_id and len(published[u.index].deliveries) == u.deliveries
               and published[u.index].logs == u.logs and published[u.index].deliveries[-1].checkpoint == u.checkpoint
               for u in units)
    assert sum(u.logs for u in units) == 230
    assert units[-1].checkpoint == Checkpoint(logs[-1]["log_id"], logs[-1]["date"])
    assert HANDOVER_KEY not in xcoms.ti(READ_TASK_ID).pushed
    fake_deliver(xcoms, 2)
    report = commit(xcoms)
    assert report["logs_delivered"] == 230 and report["error"] is None and report["caught_up"]
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]
    state = PipelineState.from_json(variables[STATE_VARIABLE])
    assert state.checkpoint == Checkpoint(logs[-1]["log_id"], logs[-1]["date"])


def test_a_checkpoint_edited_during_the_run_is_not_overwritten(variables, tenant, xcoms, slack):
    logs = tenant.add_logs(20)
    read(xcoms, tenant)
    fake_deliver(xcoms, summary_of(xcoms).slots)
    variables[CHECKPOINT_VARIABLE] = logs[3]["log_id"]  # a user edits it meanwhile
    with pytest.raises(RunFailed) as caught:
        commit(xcoms)
    assert "changed during this run" in str(caught.value) and logs[3]["log_id"] in str(caught.value)
    assert variables[CHECKPOINT_VARIABLE] == logs[3]["log_id"]
    assert slack[-1].failed  # reported


def test_a_failed_read_is_reported_and_fails_the_run(variables, tenant, xcoms):
    variables[CONFIG_VARIABLE] = '{"batch_size": 0}'
    with pytest.raises(AirflowFailException):  # a settings error: retrying cannot help
        read(xcoms, tenant)
    with pytest.raises(RunFailed) as caught:
        commit(xcoms)
    assert "batch_size=0 is not allowed" in str(caught.value)
    assert CHECKPOINT_VARIABLE not in variables


def test_an_undelivered_unit_fails_the_run_and_keeps_the_checkpoint_before_it(variables, tenant, xcoms):
    logs = tenant.add_logs(100)
    configure(variables, batch_size=10, webhook_concurrent_calls=4, batches_per_task=1)
    read(xcoms, tenant, slots=4)
    assert len(summary_of(xcoms).units) == 10  # units of 10 logs; slot 3 holds units 3 and 7
    fake_deliver(xcoms, 4, killed=(3,))  # slot 3 was killed before reporting
    with pytest.raises(RunFailed) as caught:
        commit(xcoms)
    assert "did not report" in str(caught.value) and "unit " in str(caught.value)
    assert variables[CHECKPOINT_VARIABLE] == logs[29]["log_id"]


def test_a_slot_error_is_named_when_its_unit_was_not_delivered(variables, tenant, xcoms):
    logs = tenant.add_logs(40)
    configure(variables, batch_size=10, webhook_concurrent_calls=2, batches_per_task=1)
    read(xcoms, tenant, slots=2)
    fake_deliver(xcoms, 2)
    report = SlotReport.from_xcom(xcoms.get(DELIVER_TASK_ID, PROGRESS_KEY, 1))  # slot 1: unit 1 failed, HTTP 500
    report.units = {1: UnitProgress.of(xcoms.units()[1], 0, error="webhook did not acknowledge: HTTP 500")}
    report.error = "webhook did not acknowledge: HTTP 500"
    xcoms.put(DELIVER_TASK_ID, PROGRESS_KEY, report.to_xcom(), 1)
    with pytest.raises(RunFailed, match="not fully delivered: webhook did not acknowledge: HTTP 500"):
        commit(xcoms)
    assert variables[CHECKPOINT_VARIABLE] == logs[9]["log_id"]


def test_an_expired_checkpoint_restarts_from_the_oldest_log_and_reports_the_gap(variables, tenant, xcoms, slack):
    logs = tenant.add_logs(50)
    variables[CHECKPOINT_VARIABLE] = logs[5]["log_id"]
    tenant.expire(20)  # retention drops the 20 oldest logs, the checkpoint's among them
    read(xcoms, tenant)
    summary = summary_of(xcoms)
    assert logs[5]["log_id"] in summary.run.gap and logs[20]["log_id"] in summary.run.gap
    fake_deliver(xcoms, summary.slots)
    report = commit(xcoms)
    assert report["logs_delivered"] == 30
    assert any("older than the tenant's log retention" in gap for gap in report["gaps"])
    assert slack, "a gap is always reported to Slack"


def test_dry_run_plans_nothing_and_commits_nothing(variables, tenant, xcoms):
    tenant.add_logs(40)
    assert read(xcoms, tenant, dry_run=True) == []
    assert xcoms.units() == {} and summary_of(xcoms).slots == 0
    report = commit(xcoms)
    assert report["dry_run"] and CHECKPOINT_VARIABLE not in variables
    assert "40 logs would have been sent" in " ".join(report["warnings"])


def test_the_gap_is_measured_when_the_checkpoint_date_was_recorded(variables, tenant, xcoms):
    logs = tenant.add_logs(40)
    read(xcoms, tenant)
    fake_deliver(xcoms, summary_of(xcoms).slots)
    commit(xcoms)  # records the checkpoint and its date
    more = tenant.add_logs(10)
    tenant.expire(45)  # the checkpoint (log 39) and the first 5 new logs are gone
    second = XComs(run_id="manual__2")
    read(second, tenant)
    gap = summary_of(second).run.gap
    assert logs[-1]["date"] in gap and more[5]["date"] in gap
    assert "a gap of 0 d 0 h" in gap  # the emulator writes a log a second


def test_a_commit_that_runs_again_after_a_ui_retry_is_not_a_conflict(variables, tenant, xcoms):
    logs = tenant.add_logs(100)
    configure(variables, batch_size=10, webhook_concurrent_calls=4, batches_per_task=1)
    read(xcoms, tenant, slots=4)
    fake_deliver(xcoms, 4)
    missing = xcoms.values.pop((DELIVER_TASK_ID, 3, PROGRESS_KEY))
    with pytest.raises(RunFailed):
        commit(xcoms)
    assert variables[CHECKPOINT_VARIABLE] == logs[29]["log_id"]
    xcoms.put(DELIVER_TASK_ID, PROGRESS_KEY, missing, 3)  # the user cleared slot 3; it delivered
    report = commit(xcoms)  # the cleared commit runs again
    assert report["error"] is None and variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]


def test_an_idle_run_maps_nothing_and_leaves_the_checkpoint(variables, tenant, xcoms):
    logs = tenant.add_logs(10)
    variables[CHECKPOINT_VARIABLE] = logs[-1]["log_id"]
    assert read(xcoms, tenant) == []  # nothing to map: no read_more, no slots
    summary = summary_of(xcoms)
    assert summary.units == () and summary.slots == 0 and summary.logs_read == 0
    report = commit(xcoms)
    assert report["error"] is None and report["logs_read"] == 0 and report["caught_up"]
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]


def test_a_run_whose_logs_are_all_filtered_out_maps_nothing_and_moves_the_checkpoint(variables, tenant, xcoms):
    logs = tenant.add_logs(30, types=["s"])
    configure(variables, log_types=["f"])
    assert read(xcoms, tenant) == []
    report = commit(xcoms)
    assert report["error"] is None and report["logs_filtered_out"] == 30 and report["logs_delivered"] == 0
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]


def test_a_small_run_has_fewer_units_than_slots_and_the_idle_slots_report_nothing(variables, tenant, xcoms,
                                                                                  receiver):
    logs = tenant.add_logs(3)
    configure(variables, batch_size=1, webhook_concurrent_calls=5)
    plan = read(xcoms, tenant, slots=5)
    run = live(plan)
    assert run.first_units == 3 and run.more_task is None and run.slots == 5
    results = deliver_with_slots(xcoms, plan[0], 5)
    assert [sorted(r.units) for r in results] == [[0], [1], [2], [], []]
    assert all(unit.acknowledged for r in results for unit in r.units.values())
    report = commit(xcoms)
    assert report["error"] is None and report["logs_delivered"] == 3
    assert receiver.delivered_log_ids() == ids(logs)
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"] and xcoms.unit_keys() == []


def test_read_more_skips_when_read_logs_read_everything(variables, tenant, xcoms):
    tenant.add_logs(10)
    plan = read(xcoms, tenant)
    assert live(plan).more_task is None
    with pytest.raises(AirflowSkipException):
        read_more(xcoms, plan[0], client_for(tenant))


# ---------------------------------------------------------------- hand-over to read_more


def test_a_hand_over_run_delivers_every_log_once_and_moves_the_checkpoint_to_the_last_log(
        variables, tenant, xcoms, receiver, handover):
    logs = tenant.add_logs(350, types=["s", "f", "sapi"])
    configure(variables, batch_size=10, batches_per_task=4, webhook_concurrent_calls=3, log_types=["s", "f"])
    kept = [entry for entry in logs if entry["type"] in ("s", "f")]
    plan = read(xcoms, tenant, slots=3)
    run = live(plan)
    assert plan == [LiveRun(run.read_id, 3, True, READ_TASK_ID, run.first_units, MORE_TASK_ID).to_xcom()]
    assert run.first_units >= 1
    first = summary_of(xcoms)
    assert first.more and not first.final and first.stopped_by == "deadline" and first.slots == 3
    assert [u.index for u in first.units] == list(range(run.first_units))
    passed = Handover.from_xcom(xcoms.ti(READ_TASK_ID).pushed[HANDOVER_KEY])
    assert passed.next_unit == run.first_units and passed.job.read_id == run.read_id
    result = read_more(xcoms, plan[0], client_for(tenant))
    assert result.caught_up and result.logs_read == 350 and result.stopped_by == "caught up"
    assert HANDOVER_KEY not in xcoms.ti(READ_TASK_ID).pushed  # it holds logs: deleted once taken
    more = summary_of(xcoms, MORE_TASK_ID)
    assert more.final and more.error is None
    assert [u.index for u in more.units] == list(range(run.first_units, result.next_unit))
    assert all(u.task_id == MORE_TASK_ID for u in more.units)
    xcoms.states[(MORE_TASK_ID, 0)] = "success"
    deliver_with_slots(xcoms, plan[0], 3)
    report = commit(xcoms)
    assert report["error"] is None and report["caught_up"]
    assert report["logs_read"] == 350 and report["logs_delivered"] == len(kept)
    assert receiver.delivered_log_ids() and sorted(receiver.delivered_log_ids()) == ids(kept)  # each once
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]
    assert xcoms.unit_keys() == []  # every acknowledged unit was deleted


def test_read_more_and_the_slots_work_at_once_with_backpressure(variables, tenant, xcoms, receiver, handover,
                                                               monkeypatch):
    monkeypatch.setattr(read_module, "BACKLOG_UNITS_PER_SLOT", 1)  # read_more holds back at 2 unacknowledged units
    logs = tenant.add_logs(400)
    configure(variables, batch_size=10, batches_per_task=2, webhook_concurrent_calls=2)
    plan = read(xcoms, tenant, slots=2)
    assert live(plan).first_units > 2  # read_logs publishes without holding back
    backlog: list[int] = []

    class RecordingPublisher(UnitPublisher):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs, poll_seconds=0.01)

        def publish(self, units) -> None:  # noqa: ANN001
            for unit in units:
                super().publish([unit])
                backlog.append(len(xcoms.unit_keys()))

    monkeypatch.setattr(read_module, "UnitPublisher", RecordingPublisher)
    monkeypatch.setattr(deliver, "LiveStripe",  # slots poll XCom often: a short test
                        functools.partial(deliver.LiveStripe, sleep=lambda seconds: time.sleep(min(seconds, 0.01))))
    for slot in range(2):
        xcoms.states[(DELIVER_TASK_ID, slot)] = "running"
    xcoms.states[(MORE_TASK_ID, 0)] = "running"
    errors: list[BaseException] = []

    def task(name: tuple[str, int], work) -> None:  # noqa: ANN001
        try:
            work()
            xcoms.states[name] = "success"
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
            xcoms.states[name] = "failed"

    def slot_work(slot: int):  # noqa: ANN202
        operator = LogsToWebhookOperator(task_id=DELIVER_TASK_ID, units=plan[0], slot=slot)
        return lambda: execute(operator, xcoms.ti(DELIVER_TASK_ID, slot), None)

    threads = [threading.Thread(target=task, args=((MORE_TASK_ID, 0), lambda: read_more(xcoms, plan[0],
                                                                                        client_for(tenant))))]
    threads += [threading.Thread(target=task, args=((DELIVER_TASK_ID, slot), slot_work(slot))) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(thread.is_alive() for thread in threads)
    report = commit(xcoms)
    assert report["error"] is None and report["logs_delivered"] == 400
    assert sorted(receiver.delivered_log_ids()) == ids(logs) and len(receiver.delivered_log_ids()) == 400
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]
    assert summary_of(xcoms, MORE_TASK_ID).next_unit >= 20
    assert backlog and max(backlog) <= 2  # read_more never had more than 2 unacknowledged units in XCom


class FailingClient:
    """The tenant's client, raising `error` (default: the API failed for good) after `pages` pages."""

    def __init__(self, client: Auth0LogsClient, pages: int, error: BaseException | None = None) -> None:
        self.client, self.pages = client, pages
        self.error = error or Auth0ApiError("HTTP 503 after 5 attempts", status=503)
        self.stats = client.stats

    def logs_after(self, log_id: str, take: int) -> list[dict]:
        self.pages -= 1
        if self.pages < 0:
            raise self.error
        return self.client.logs_after(log_id, take)

    def first_log(self, since=None):  # noqa: ANN001
        return self.client.first_log(since)


def test_read_more_failing_midway_commits_what_was_delivered_and_names_the_reader_error(
        variables, tenant, xcoms, handover, slack):
    logs = tenant.add_logs(400)
    configure(variables, batch_size=10, batches_per_task=2, webhook_concurrent_calls=2)
    plan = read(xcoms, tenant, slots=2)
    with pytest.raises(Auth0ApiError):
        read_more(xcoms, plan[0], FailingClient(client_for(tenant), pages=1))
    more = summary_of(xcoms, MORE_TASK_ID)
    assert more.final and "Auth0ApiError: HTTP 503" in more.error and not more.caught_up
    assert more.logs_read == 201  # read_logs' first log and page, then one page of read_more
    fake_deliver(xcoms, 2)
    with pytest.raises(RunFailed, match="reading stopped early: Auth0ApiError: HTTP 503"):
        commit(xcoms)
    published = xcoms.units()
    last_unit = published[max(published)]
    assert variables[CHECKPOINT_VARIABLE] == last_unit.deliveries[-1].checkpoint.log_id  # over what was delivered
    delivered = sum(unit.logs for unit in published.values())
    assert 100 < delivered < 201 and variables[CHECKPOINT_VARIABLE] == logs[delivered - 1]["log_id"]
    assert slack[-1].failed and "Auth0ApiError" in slack[-1].error


def test_a_read_more_that_never_reported_fails_the_run_after_committing_read_logs_units(
        variables, tenant, xcoms, handover):
    tenant.add_logs(300)
    configure(variables, batch_size=10, batches_per_task=2, webhook_concurrent_calls=2)
    read(xcoms, tenant, slots=2)
    fake_deliver(xcoms, 2)  # read_more was killed before its first summary
    first_units = summary_of(xcoms).units
    with pytest.raises(RunFailed, match="read_more did not report"):
        commit(xcoms)
    assert variables[CHECKPOINT_VARIABLE] == first_units[-1].checkpoint.log_id


def test_read_more_stops_reading_when_a_slot_failed_for_good(variables, tenant, xcoms, handover, monkeypatch):
    monkeypatch.setattr(read_module, "BACKLOG_UNITS_PER_SLOT", 1)
    tenant.add_logs(400)
    configure(variables, batch_size=10, batches_per_task=2, webhook_concurrent_calls=2)
    plan = read(xcoms, tenant, slots=2)
    xcoms.states[(DELIVER_TASK_ID, 0)] = "failed"
    xcoms.states[(DELIVER_TASK_ID, 1)] = "running"
    result = read_more(xcoms, plan[0], client_for(tenant))
    assert "a delivery task failed" in result.stopped_by and not result.caught_up
    more = summary_of(xcoms, MORE_TASK_ID)
    assert more.final and more.error is None and more.units == ()  # held back from the first unit
    assert result.logs_read < 400


def test_max_logs_counts_the_logs_of_both_readers(variables, tenant, xcoms, handover):
    tenant.add_logs(500)
    configure(variables, batch_size=10, webhook_concurrent_calls=2)
    plan = read(xcoms, tenant, slots=2, max_logs=250)
    assert summary_of(xcoms).logs_read == 101  # the oldest log, then one page
    result = read_more(xcoms, plan[0], client_for(tenant))
    assert result.stopped_by == "max_logs" and result.logs_read == 250  # exactly: the last page is cut short


def test_max_logs_is_exact_on_a_first_run(variables, tenant, xcoms):
    """No checkpoint yet: the oldest retained log counts as one of max_logs (it used to be one more)."""
    logs = tenant.add_logs(300)
    plan = read(xcoms, tenant, slots=1, max_logs=100)
    summary = summary_of(xcoms)
    assert summary.logs_read == 100 and summary.stopped_by == "max_logs" and not summary.caught_up
    fake_deliver(xcoms, 1)
    assert len(plan) == 1 and commit(xcoms)["logs_delivered"] == 100
    assert variables[CHECKPOINT_VARIABLE] == logs[99]["log_id"]


def test_a_dry_run_reads_the_first_seconds_only_and_maps_nothing(variables, tenant, xcoms, handover):
    """A dry run shows what the filter keeps; it does not drain a backlog at the rate limit."""
    tenant.add_logs(350)
    assert read(xcoms, tenant, dry_run=True) == []  # no hand-over, no slots
    assert xcoms.units() == {} and HANDOVER_KEY not in xcoms.ti(READ_TASK_ID).pushed
    report = commit(xcoms)
    assert report["dry_run"] and CHECKPOINT_VARIABLE not in variables and not report["caught_up"]
    assert "101 logs would have been sent" in " ".join(report["warnings"])


def test_a_read_more_stopped_by_its_timeout_fails_the_run_naming_it(variables, tenant, xcoms, handover):
    """AirflowTaskTimeout and AirflowTaskTerminated are BaseExceptions: still reported as the reader's error."""
    tenant.add_logs(400)
    configure(variables, batch_size=10, webhook_concurrent_calls=2)
    plan = read(xcoms, tenant, slots=2)
    client = FailingClient(client_for(tenant), pages=1, error=AirflowTaskTimeout("Timeout, PID: 123"))
    with pytest.raises(AirflowTaskTimeout):
        read_more(xcoms, plan[0], client)
    more = summary_of(xcoms, MORE_TASK_ID)
    assert more.final and "AirflowTaskTimeout" in more.error
    fake_deliver(xcoms, 2)
    with pytest.raises(RunFailed, match="reading stopped early: AirflowTaskTimeout"):
        commit(xcoms)


def test_a_replay_from_the_start_from_param_leaves_the_checkpoint_alone(variables, tenant, xcoms):
    """start_from as a Param is for this run only: it sends the logs again from there, and the
    scheduled runs go on from where they were (never forward over logs they did not send, never back)."""
    logs = tenant.add_logs(120)
    configure(variables, batch_size=50, webhook_concurrent_calls=2)
    variables[CHECKPOINT_VARIABLE] = logs[99]["log_id"]
    read(xcoms, tenant, slots=2, start_from=logs[9]["log_id"])
    fake_deliver(xcoms, 2)
    report = commit(xcoms)
    assert report["logs_delivered"] == 110  # logs 10..119, again
    assert variables[CHECKPOINT_VARIABLE] == logs[99]["log_id"]
    assert "the live checkpoint is left as it is" in " ".join(report["warnings"])


def test_read_more_without_its_hand_over_says_what_to_clear(variables, tenant, xcoms):
    planned = LiveRun("r", slots=1, send_as_batch=True, first_task=READ_TASK_ID, first_units=1,
                      more_task=MORE_TASK_ID).to_xcom()
    with pytest.raises(AirflowFailException, match="read_more runs once per read. To read again, clear read_logs"):
        read_more(xcoms, planned, client_for(tenant))


# ---------------------------------------------------------------- nothing acknowledged is sent twice


class RefusingReceiver(WebhookReceiver):
    """The in-process receiver, answering 400 to every request that carries log `refused` (None: to none)."""

    refused: str | None = None

    def _answer(self, request, record):  # noqa: ANN001, ANN202
        if self.refused is not None and self.refused in record.log_ids:
            return self._status_reply(400, record, self.behaviour)
        return super()._answer(request, record)


@pytest.fixture
def refusing(monkeypatch):
    with RefusingReceiver() as webhook:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": f"{webhook.base_url}/hook", "extra": {"timeout": 5, "max_attempts": 1}}))
        yield webhook


def deliver_all_slots(xcoms: XComs, planned: dict, slots: int) -> None:
    """Every slot runs (real operator); a slot whose request is refused fails after reporting its progress."""
    for slot in range(slots):
        operator = LogsToWebhookOperator(task_id=DELIVER_TASK_ID, units=planned, slot=slot)
        try:
            execute(operator, xcoms.ti(DELIVER_TASK_ID, slot), FakeStateStore())
        except AirflowFailException:
            xcoms.states[(DELIVER_TASK_ID, slot)] = "failed"


def run_once(xcoms: XComs, tenant: Auth0Emulator, slots: int, handing_over: bool) -> None:
    """read_logs (and read_more when it hands over), every slot, and the commit (whose failure is kept)."""
    plan = read(xcoms, tenant, slots=slots)
    if handing_over:
        assert live(plan).more_task == MORE_TASK_ID
        read_more(xcoms, plan[0], client_for(tenant))
        xcoms.states[(MORE_TASK_ID, 0)] = "success"
    deliver_all_slots(xcoms, plan[0], slots)


@pytest.mark.parametrize("handing_over, refused", [(False, 1_020), (True, 1_020), (False, 20)],
                         ids=["read_logs", "hand-over", "first unit: no checkpoint yet"])
def test_a_refused_request_costs_no_duplicate_the_next_run_sends_only_what_was_not_acknowledged(
        variables, tenant, refusing, monkeypatch, handing_over, refused):
    """Issue 12 item 3, measured case at a smaller size: 2,000 logs, batch 50, 3 slots, the webhook refuses
    every request carrying one log (in the middle, or in unit 0), for the first run only."""
    if handing_over:
        monkeypatch.setattr(read_module, "FIRST_READ_SECONDS", 0.0)
    logs = tenant.add_logs(2_000)
    configure(variables, batch_size=50, batches_per_task=2, webhook_concurrent_calls=3)
    refusing.refused = logs[refused]["log_id"]  # e.g. unit 10 (logs 1,000..1,099), slot 1: it stops there
    start = refused // 100 * 100  # its unit's first log: the checkpoint stops before it
    first = fake_xcoms(monkeypatch)
    run_once(first, tenant, 3, handing_over)
    with pytest.raises(RunFailed) as failed:
        commit(first)
    after_gap = len(refusing.delivered_log_ids()) - start
    assert after_gap > 500  # units 11.. of the two other slots
    assert f"{after_gap} logs acknowledged after it are recorded and will not be sent again" in str(failed.value)
    checkpoint = logs[start - 1]["log_id"] if start else None
    assert variables.get(CHECKPOINT_VARIABLE) == checkpoint  # never past an unacknowledged log
    state = json.loads(variables[STATE_VARIABLE])
    assert state["acknowledged_for"] == checkpoint and state["acknowledged_spans"]

    refusing.refused = None  # the second run: every request is acknowledged
    second = fake_xcoms(monkeypatch)  # the second run's XComs
    run_once(second, tenant, 3, handing_over)
    report = commit(second)
    assert report["error"] is None and report["caught_up"]
    delivered = refusing.delivered_log_ids()
    assert len(delivered) - len(set(delivered)) == 0, "a log acknowledged in the first run was sent again"
    assert sorted(delivered) == ids(logs)  # every log, once
    assert report["logs_delivered"] == 2_000 - start - after_gap
    assert any(f"{after_gap} logs the webhook acknowledged in an earlier run" in w for w in report["warnings"])
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]
    assert "acknowledged_spans" not in json.loads(variables[STATE_VARIABLE])  # cleared: the checkpoint passed it


def recorded_state(logs: list[dict], log_filter: str = "all event types") -> str:
    """A state whose record says logs 21..30 were acknowledged, written with checkpoint log 10."""
    return PipelineState(Checkpoint(logs[9]["log_id"]), None, "earlier", (AcknowledgedSpan(
        logs[19]["log_id"], logs[29]["log_id"]),), logs[9]["log_id"], log_filter).to_json()


@pytest.mark.parametrize("change, params, skipped", [
    ({}, {}, 10),
    ({"checkpoint": 5}, {}, 0),  # the checkpoint was edited by hand
    ({"config": {"start_from": "2020-01-01T00:00:00Z"}}, {}, 0),  # a START_FROM to apply
    ({"config": {"log_types": ["s", "f"]}}, {}, 0),  # the filter changed
    ({}, {"start_from": "2020-01-01T00:00:00Z"}, 0),  # a replay from the start_from Param
    ({}, {"dry_run": True}, 0),
])
def test_the_record_is_skipped_only_by_a_live_run_from_the_checkpoint_and_filter_it_was_written_with(
        variables, tenant, xcoms, change, params, skipped):
    logs = tenant.add_logs(40)
    configure(variables, batch_size=10, **change.get("config", {}))
    variables[CHECKPOINT_VARIABLE] = logs[change.get("checkpoint", 9)]["log_id"]
    variables[STATE_VARIABLE] = recorded_state(logs)
    read(xcoms, tenant, slots=1, **params)
    summary = summary_of(xcoms)
    assert summary.logs_skipped == skipped
    assert bool(summary.run.acknowledged) == bool(skipped)
    sent = [entry["log_id"] for unit in xcoms.units().values() for d in unit.deliveries for entry in d.logs]
    assert not skipped or sent == ids(logs[10:20] + logs[30:])


def test_a_run_that_discarded_the_record_writes_its_own_state_without_it(variables, tenant, xcoms):
    logs = tenant.add_logs(40)
    configure(variables, batch_size=10)
    variables[CHECKPOINT_VARIABLE] = logs[4]["log_id"]  # edited by hand since the record was written
    variables[STATE_VARIABLE] = recorded_state(logs)
    read(xcoms, tenant, slots=1)
    fake_deliver(xcoms, 1)
    assert commit(xcoms)["logs_delivered"] == 35
    assert PipelineState.from_json(variables[STATE_VARIABLE]).acknowledged == ()
