"""auth0_webhooks.progress: a slot's per-unit acknowledged prefixes, saved, resumed and reported."""

from __future__ import annotations

import pytest

from auth0_webhooks.checkpoint import acknowledged_prefix
from auth0_webhooks.progress import PROGRESS_KEY, RESUME_KEY, SlotProgress, peak_rss_mb, unit_progress

from .test_operator import FakeStateStore, FakeTI


def deliveries(*sizes: int) -> list[dict]:
    result, number = [], 1
    for size in sizes:
        logs = [{"log_id": f"L{n:04d}"} for n in range(number, number + size)]
        result.append({"logs": logs, "checkpoint": logs[-1]["log_id"], "checkpoint_date": f"D{number + size - 1}"})
        number += size
    return result


def test_unit_progress_is_the_acknowledged_prefix():
    unit = deliveries(3, 3, 2)
    assert unit_progress(unit, 0) == {"acked": 0, "deliveries": 3, "logs_acked": 0, "checkpoint": None,
                                      "checkpoint_date": None, "error": None}
    assert unit_progress(unit, 2, "HTTP 500") == {"acked": 2, "deliveries": 3, "logs_acked": 6, "checkpoint": "L0006",
                                                  "checkpoint_date": "D6", "error": "HTTP 500"}


def test_a_record_folds_into_the_checkpoint_like_the_unit_summary():
    unit = deliveries(3, 3, 2)
    summary = {"deliveries": 3, "logs": 8, "checkpoint": "L0008", "checkpoint_date": "D8"}
    done = acknowledged_prefix((None, None), [summary], [unit_progress(unit, 3)])
    half = acknowledged_prefix((None, None), [summary], [unit_progress(unit, 1)])
    assert (done.checkpoint, done.logs_delivered, done.complete) == ("L0008", 8, True)
    assert (half.checkpoint, half.logs_delivered, half.complete) == ("L0003", 3, False)


def test_acknowledging_moves_the_unit_record(clock):
    progress = SlotProgress(None, clock=clock.time)
    unit = deliveries(2, 2)
    assert progress.begin(4, unit) == 0 and not progress.is_complete(4)
    progress.acknowledge(4, unit[0])
    assert progress.units["4"] == unit_progress(unit, 1)
    progress.acknowledge(4, unit[1])
    assert progress.units["4"] == unit_progress(unit, 2) and progress.is_complete(4)
    assert not progress.is_complete(5) and progress.acked(5) == 0
    progress.save()  # no state store: nothing to do, nothing fails


def test_a_retry_resumes_from_the_saved_state():
    store = FakeStateStore()
    unit, other = deliveries(2, 2, 2), deliveries(5)
    first = SlotProgress(store, "read-1")
    first.begin(0, other)
    first.acknowledge(0, other[0])
    first.begin(3, unit)
    first.acknowledge(3, unit[0])
    first.fail(3, "HTTP 500")
    first.save()
    assert store.values[RESUME_KEY] == {"read": "read-1", "units": {"0": unit_progress(other, 1),
                                                                    "3": unit_progress(unit, 1, "HTTP 500")}}
    retry = SlotProgress(store, "read-1")
    assert retry.is_complete(0) and not retry.is_complete(3)
    assert retry.units["3"]["error"] is None  # the error of the earlier try is not this try's
    assert retry.begin(3, unit) == 1  # resumes with the second delivery
    retry.acknowledge(3, unit[1])
    assert retry.units["3"] == unit_progress(unit, 2)


def test_the_progress_of_another_read_is_not_resumed():
    """The run was cleared and read again: unit 0 now holds other logs, and none is delivered yet."""
    store = FakeStateStore()
    before = SlotProgress(store, "read-1")
    unit = deliveries(2)
    before.begin(0, unit)
    before.acknowledge(0, unit[0])
    before.save()
    again = SlotProgress(store, "read-2")
    assert again.units == {} and not again.is_complete(0) and again.begin(0, deliveries(2)) == 0


def test_a_completed_unit_with_an_error_is_not_complete():
    progress = SlotProgress(None)
    unit = deliveries(1)
    progress.begin(0, unit)
    progress.acknowledge(0, unit[0])
    progress.fail(0, "paused")
    assert not progress.is_complete(0)


def test_begin_never_claims_more_than_the_unit_holds():
    store = FakeStateStore()
    store.set(RESUME_KEY, {"units": {"0": {"acked": 9, "deliveries": 9}}})
    assert SlotProgress(store).begin(0, deliveries(1, 1)) == 2


@pytest.mark.parametrize("saved", [None, "text", {"unit": "L", "acked": 2}, {"units": ["x"]},
                                   {"units": {"0": "x", "1": {"acked": 1, "deliveries": 2}}}])
def test_unusable_saved_state_is_ignored(saved):
    store = FakeStateStore()
    if saved is not None:
        store.set(RESUME_KEY, saved)
    units = SlotProgress(store).units
    assert units == ({"1": {"acked": 1, "deliveries": 2, "error": None}} if isinstance(saved, dict)
                     and isinstance(saved.get("units"), dict) else {})


def test_saving_while_sending_is_throttled(clock, monkeypatch):
    saves = []
    store = FakeStateStore()
    store.set = lambda key, value: saves.append(value["units"]["0"]["acked"])  # type: ignore[method-assign]
    progress = SlotProgress(store, clock=clock.time)
    unit = deliveries(*[1] * 8)
    progress.begin(0, unit)
    for delivery in unit:  # one acknowledgement every 0.4 s
        progress.acknowledge(0, delivery)
        clock.now += 0.4
    assert saves == [4, 7]  # at most every SAVE_EVERY_SECONDS (1 s)
    monkeypatch.setattr("auth0_webhooks.progress.SAVE_EVERY_SECONDS", 0)
    progress.begin(1, unit[:1])
    progress.acknowledge(1, unit[0])
    assert len(saves) == 3


def test_fail_without_a_unit_records_the_slot_error():
    progress = SlotProgress(None)
    progress.fail(None, "delivery is paused")
    progress.fail(7, "unit 7 is missing")  # a unit never begun: the slot's error only
    assert progress.error == "unit 7 is missing" and progress.units == {}


def test_the_report_is_pushed_to_xcom_and_returned():
    ti = FakeTI()
    progress = SlotProgress(None)
    unit = deliveries(2)
    progress.begin(2, unit)
    progress.acknowledge(2, unit[0])
    report = progress.report(ti, largest_unit_bytes=123)
    assert ti.pushed[PROGRESS_KEY] == report
    assert report["units"] == {"2": unit_progress(unit, 1)} and report["error"] is None
    assert report["largest_unit_bytes"] == 123 and 0 < report["peak_rss_mb"] <= peak_rss_mb()
