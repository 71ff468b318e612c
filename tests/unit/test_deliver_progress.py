"""auth0_webhooks.deliver.Progress: a delivery task's per-unit acknowledged prefixes, saved, resumed and reported."""

from __future__ import annotations

import pytest

from auth0_webhooks.commit import acknowledged_prefix
from auth0_webhooks.deliver import Progress
from auth0_webhooks.protocol import PROGRESS_KEY, RESUME_KEY, Checkpoint, Delivery, SlotReport, Unit, UnitProgress
from auth0_webhooks.runtime import peak_rss_mb

from .fakes import FakeStateStore, FakeTI, through_json

READ_ID = "read-1"


def unit(index: int, *sizes: int) -> Unit:
    """Unit `index` of deliveries of `sizes` logs; a delivery's checkpoint is its last log, dated D<n>."""
    deliveries, number = [], 1
    for size in sizes:
        logs = [{"log_id": f"L{n:04d}"} for n in range(number, number + size)]
        deliveries.append(Delivery(logs, Checkpoint(logs[-1]["log_id"], f"D{number + size - 1}")))
        number += size
    return Unit(index, deliveries, READ_ID)


def progress_of(state=None, read_id: str | None = READ_ID, **kwargs) -> tuple[Progress, list]:  # noqa: ANN001
    pushed: list = []
    return Progress(state, read_id, pushed.append, **kwargs), pushed


def test_unit_progress_is_the_acknowledged_prefix():
    three = unit(0, 3, 3, 2)
    assert UnitProgress.of(three, 0) == UnitProgress(acked=0, deliveries=3, logs_acked=0, checkpoint=None, error=None)
    assert UnitProgress.of(three, 2, "HTTP 500") == UnitProgress(
        acked=2, deliveries=3, logs_acked=6, checkpoint=Checkpoint("L0006", "D6"), error="HTTP 500")


def test_a_record_folds_into_the_checkpoint_like_the_unit_summary():
    three = unit(0, 3, 3, 2)
    summary = three.summary("deliver")
    assert (summary.deliveries, summary.logs, summary.checkpoint) == (3, 8, Checkpoint("L0008", "D8"))
    done = acknowledged_prefix(None, [summary], {0: UnitProgress.of(three, 3)})
    half = acknowledged_prefix(None, [summary], {0: UnitProgress.of(three, 1)})
    assert (done.checkpoint, done.logs_delivered, done.complete) == (Checkpoint("L0008", "D8"), 8, True)
    assert (half.checkpoint, half.logs_delivered, half.complete) == (Checkpoint("L0003", "D3"), 3, False)


def test_acknowledging_moves_the_unit_record(clock):
    progress, _ = progress_of(clock=clock.time)
    four = unit(4, 2, 2)
    assert progress.begin(four) == 0 and not progress.acknowledged(4)
    progress.acknowledge(4, four)
    assert progress.report.units[4] == UnitProgress.of(four, 1) and not progress.acknowledged(4)
    progress.acknowledge(4, four)
    assert progress.report.units[4] == UnitProgress.of(four, 2) and progress.acknowledged(4)
    assert not progress.acknowledged(5) and 5 not in progress.report.units
    progress.save()  # no state store: nothing to do, nothing fails


def test_a_retry_resumes_from_the_saved_state():
    store = FakeStateStore()
    three, other = unit(3, 2, 2, 2), unit(0, 5)
    first, _ = progress_of(store)
    first.begin(other)
    first.acknowledge(0, other)
    first.begin(three)
    first.acknowledge(3, three)
    first.fail(3, "HTTP 500")
    first.save()
    saved = SlotReport(READ_ID, {0: UnitProgress.of(other, 1), 3: UnitProgress.of(three, 1, "HTTP 500")},
                       error="HTTP 500")
    assert store.values[RESUME_KEY] == through_json(saved.to_xcom())
    retry, _ = progress_of(store)
    assert retry.acknowledged(0) and not retry.acknowledged(3)
    assert retry.report.units[3].error is None  # the error of the earlier try is not this try's
    assert retry.report.error is None
    assert retry.begin(three) == 1  # resumes with the second delivery
    retry.acknowledge(3, three)
    assert retry.report.units[3] == UnitProgress.of(three, 2)


def test_the_progress_of_another_read_is_not_resumed():
    """The run was cleared and read again: unit 0 now holds other logs, and none is delivered yet."""
    store = FakeStateStore()
    before, _ = progress_of(store, "read-1")
    zero = unit(0, 2)
    before.begin(zero)
    before.acknowledge(0, zero)
    before.save()
    again, _ = progress_of(store, "read-2")
    assert again.report.units == {} and not again.acknowledged(0) and again.begin(unit(0, 2)) == 0


def test_a_unit_whose_every_delivery_was_acknowledged_stays_acknowledged_after_an_error():
    """A pause met after the last delivery of a unit does not make a retry send that unit again."""
    progress, _ = progress_of()
    zero, one = unit(0, 1), unit(1, 1, 1)
    progress.begin(zero)
    progress.acknowledge(0, zero)
    progress.fail(0, "paused")
    progress.begin(one)
    progress.acknowledge(1, one)
    progress.fail(1, "HTTP 500")
    assert progress.acknowledged(0) and not progress.acknowledged(1)


def test_begin_never_claims_more_than_the_unit_holds():
    store = FakeStateStore()
    store.set(RESUME_KEY, SlotReport(READ_ID, {0: UnitProgress(acked=9, deliveries=9)}).to_xcom())
    progress, _ = progress_of(store)
    assert progress.begin(unit(0, 1, 1)) == 2


@pytest.mark.parametrize("saved, resumed", [
    pytest.param(None, {}, id="nothing saved"),
    pytest.param("text", {}, id="not an object"),
    pytest.param({"unit": "L", "acked": 2}, {}, id="no units"),
    pytest.param({"read_id": READ_ID, "units": ["x"]}, {}, id="units not an object"),
    pytest.param({"read_id": READ_ID, "units": {"0": "x", "1": {"acked": 1, "deliveries": 2}}},
                 {1: UnitProgress(acked=1, deliveries=2)}, id="one unit unreadable"),
    # The previous release's record ("read"; a log id and "checkpoint_date"): not this read's.
    pytest.param({"read": READ_ID, "units": {"0": {"acked": 1, "deliveries": 2, "logs_acked": 1,
                                                   "checkpoint": "L0001", "checkpoint_date": "D1", "error": None}}},
                 {}, id="previous release"),
])
def test_unusable_saved_state_is_ignored(saved, resumed):
    """Another shape (another release's record, a broken value) is never resumed, and never fails the task."""
    store = FakeStateStore()
    if saved is not None:
        store.set(RESUME_KEY, saved)
    progress, _ = progress_of(store)
    assert progress.report.units == resumed


def test_progress_is_saved_after_every_acknowledged_request(clock, monkeypatch):
    """A kill then re-sends only the request in flight; SAVE_EVERY_SECONDS can throttle the saves."""
    saves = []
    store = FakeStateStore()
    store.set = lambda key, value: saves.append(value["units"]["0"]["acked"])  # type: ignore[method-assign]
    progress, _ = progress_of(store, clock=clock.time)
    eight = unit(0, *[1] * 8)
    progress.begin(eight)
    for _ in eight.deliveries:  # one acknowledgement every 0.4 s
        progress.acknowledge(0, eight)
        clock.now += 0.4
    assert saves == [1, 2, 3, 4, 5, 6, 7, 8]
    monkeypatch.setattr("auth0_webhooks.deliver.SAVE_EVERY_SECONDS", 1.0)
    saves.clear()
    again = unit(0, *[1] * 8)
    progress.begin(again)
    progress.report.units[0].acked = 0
    for _ in again.deliveries:
        progress.acknowledge(0, again)
        clock.now += 0.4
    assert saves == [3, 6]  # throttled: at most once a second


def test_fail_without_a_unit_records_the_slot_error():
    progress, _ = progress_of()
    progress.fail(None, "delivery is paused")
    progress.fail(7, "unit 7 is missing")  # a unit never begun: the slot's error only
    assert progress.report.error == "unit 7 is missing" and progress.report.units == {}


def test_the_report_is_pushed_to_xcom_and_returned():
    ti = FakeTI()
    progress = Progress(None, READ_ID, lambda report: ti.xcom_push(key=PROGRESS_KEY, value=report))
    two = unit(2, 2)
    progress.begin(two)
    progress.acknowledge(2, two)
    report = progress.publish(largest_unit_bytes=123)
    assert ti.pushed[PROGRESS_KEY] == through_json(report.to_xcom())
    assert SlotReport.from_xcom(ti.pushed[PROGRESS_KEY]) == report
    assert report.read_id == READ_ID and report.units == {2: UnitProgress.of(two, 1)} and report.error is None
    assert report.largest_unit_bytes == 123 and 0 < report.peak_rss_mb <= peak_rss_mb()
