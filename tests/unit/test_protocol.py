"""auth0_webhooks.protocol: every record that crosses a task boundary survives the trip, and the rules it carries."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from auth0_webhooks.protocol import (
    Checkpoint, Delivery, Handover, LiveRun, Plan, PipelineState, ReadJob, ReadSummary, RunInfo, SlotReport, Unit,
    UnitProgress, UnitSummary, acknowledged_units, unit_key,
)

CP = Checkpoint("90020260101000000000000000000000000000000000042", "2026-01-01T00:00:42.000Z")


def delivery(first: int, count: int = 2) -> Delivery:
    logs = [{"log_id": f"L{n:04d}", "type": "s", "description": "é"} for n in range(first, first + count)]
    return Delivery(logs, Checkpoint(logs[-1]["log_id"], f"2026-01-01T00:00:{first % 60:02d}.000Z"))


def unit_summary(index: int = 4) -> UnitSummary:
    return UnitSummary(index, "read_more", "L0001..L0004 (4 logs)", 2, 4, CP)


RUN = RunInfo("read-1", "L0000", CP, "2026-01-01", "a gap of 1 d 0 h 0 min", True, True, "types s", True)
JOB = ReadJob(100, False, ("s", "f"), 3, 5, 4, 10_000, 1_800_000_000.5, True, True, "read-1")
PLAN = Plan([delivery(1), delivery(3, 1)], Checkpoint("L0000"), 7, 3, CP)
SUMMARY = ReadSummary(RUN, (unit_summary(0), unit_summary(1)), 2, Checkpoint("L0000"), CP, 7, 3, False, "deadline",
                      True, more=True, slots=4, error="boom", auth0_requests=12, largest_unit_bytes=345,
                      peak_rss_mb=98.5)
PROGRESS = UnitProgress(1, 2, 2, CP, "HTTP 500")
REPORT = SlotReport("read-1", {0: UnitProgress(2, 2, 4, CP), 12: PROGRESS}, "HTTP 500", 678, 1.5, 99.0)

RECORDS = {
    "checkpoint": CP,
    "checkpoint without a date": Checkpoint("L0001"),
    "delivery": delivery(1),
    "delivery without logs": Delivery([], Checkpoint("L0009")),
    "unit summary": unit_summary(),
    "unit progress": PROGRESS,
    "unit progress, nothing acknowledged": UnitProgress(0, 3),
    "slot report": REPORT,
    "slot report, nothing yet": SlotReport(None),
    "live run": LiveRun("read-1", 3, False, "read_logs", 5, "read_more"),
    "live run without read_more": LiveRun("read-1", 3, True, "read_logs", 5, None),
    "read job": JOB,
    "plan": PLAN,
    "empty plan": Plan(),
    "run info": RUN,
    "run info from a first log": RunInfo("read-1", None, None, None, None, False, False, "all", False),
    "read summary": SUMMARY,
    "read summary, nothing read": ReadSummary(replace(RUN, start=None), (), 0, None, None, 0, 0, True, "caught up",
                                              False),
    "handover": Handover(JOB, RUN, PLAN, 9),
}


@pytest.mark.parametrize("record", RECORDS.values(), ids=RECORDS.keys())
def test_every_record_round_trips_through_json(record):
    value = json.loads(json.dumps(record.to_xcom()))
    assert type(record).from_xcom(value) == record


@pytest.mark.parametrize("unit", [Unit(4, [delivery(1), delivery(3)], "read-1"), Unit(0, [Delivery([], CP)])])
def test_a_unit_round_trips_through_its_json_text(unit):
    value = unit.to_xcom()
    assert isinstance(value, str)
    assert Unit.from_xcom(json.loads(json.dumps(value))) == unit


def test_a_unit_is_one_compact_json_text_that_decodes_to_its_deliveries():
    unit = Unit(3, [delivery(1), delivery(3)], "read-1")
    value = unit.to_xcom()
    assert isinstance(value, str) and ", " not in value and "é" in value  # compact, not ASCII-escaped
    assert Unit.from_xcom(value).deliveries == [delivery(1), delivery(3)]
    assert Unit.from_xcom(value.encode()) == Unit.from_xcom(value) == unit
    assert Unit.from_xcom(json.loads(value)) == unit  # a backend that stored it as an object
    assert unit_key(unit.index) == "unit-3"


def test_a_unit_summary_carries_what_the_commit_needs():
    unit = Unit(4, [delivery(1), delivery(3)], "read-1")
    assert unit.summary("read_more") == UnitSummary(
        index=4, task_id="read_more", label="L0001..L0004 (4 logs)", deliveries=2, logs=4,
        checkpoint=Checkpoint("L0004", "2026-01-01T00:00:03.000Z"))


# ---------------------------------------------------------------- the acknowledged rule


def test_a_unit_is_acknowledged_when_every_delivery_is():
    assert UnitProgress(3, 3).acknowledged
    assert not UnitProgress(2, 3).acknowledged
    assert UnitProgress(3, 3, error="paused").acknowledged  # an error after the last delivery undoes nothing
    assert not UnitProgress(1, 3, error="HTTP 500").acknowledged
    assert UnitProgress(0, 0).acknowledged  # 0 of 0


def test_acknowledged_units_ignore_another_read_and_slots_that_did_not_report():
    zero, five, old = UnitProgress(2, 2), UnitProgress(1, 3), UnitProgress(4, 4)
    reports = [SlotReport("read-1", {0: zero}), None, SlotReport("read-0", {0: old, 7: old}),
               SlotReport("read-1", {5: five})]
    assert acknowledged_units(reports, "read-1") == {0: zero, 5: five}
    assert acknowledged_units(reports, "read-2") == {}
    assert acknowledged_units([None, None], "read-1") == {}
    assert acknowledged_units([], "read-1") == {}


# ---------------------------------------------------------------- the state Variable


def test_pipeline_state_keeps_the_historical_flat_format():
    state = PipelineState(CP, "2026-01-01", "scheduled__2026-01-02")
    assert json.loads(state.to_json()) == {"start_from_applied": "2026-01-01",
                                           "written_by_run": "scheduled__2026-01-02",
                                           "checkpoint": CP.log_id, "checkpoint_date": CP.date}
    assert json.loads(PipelineState().to_json()) == {"start_from_applied": None, "written_by_run": None,
                                                     "checkpoint": None, "checkpoint_date": None}
    assert PipelineState.from_json(state.to_json()) == state
    assert PipelineState.from_json(PipelineState().to_json()) == PipelineState()


def test_pipeline_state_reads_what_the_previous_release_wrote():
    written = json.dumps({"start_from_applied": "L0100", "checkpoint": "L0200",
                          "checkpoint_date": "2026-01-01T00:00:00.000Z", "written_by_run": "manual__1"})
    state = PipelineState.from_json(written)
    assert state == PipelineState(Checkpoint("L0200", "2026-01-01T00:00:00.000Z"), "L0100", "manual__1")
    assert state.date_of("L0200") == "2026-01-01T00:00:00.000Z" and state.date_of("L0300") is None
    # Before any commit, the previous release wrote only the START_FROM it applied.
    assert PipelineState.from_json(json.dumps({"start_from_applied": "2026-01-01"})) == PipelineState(
        None, "2026-01-01", None)


@pytest.mark.parametrize("text", ["[1]", "not json", None, "", "null", '"text"', "42"])
def test_an_unreadable_state_is_a_fresh_state(text):
    assert PipelineState.from_json(text) == PipelineState()


# ---------------------------------------------------------------- read_logs, then read_more


def test_read_summary_then_concatenates_units_and_keeps_read_logs_slots():
    first = replace(SUMMARY, units=(unit_summary(0), unit_summary(1)), next_unit=2, slots=4, more=True, final=True,
                    logs_read=7)
    more = replace(SUMMARY, units=(unit_summary(2),), next_unit=3, slots=0, more=False, final=False, logs_read=20,
                   error="stopped")
    whole = first.then(more)
    assert whole.units == (unit_summary(0), unit_summary(1), unit_summary(2))
    assert whole.slots == 4 and whole.more
    assert whole == replace(more, units=whole.units, slots=4, more=True)  # the rest is read_more's


@pytest.mark.parametrize("value", [
    Unit(0, [delivery(1)], "read-1").to_xcom(),  # a unit's JSON text
    json.loads(Unit(0, [delivery(1)], "read-1").to_xcom()),  # ... stored as an object
    [Unit(0, [delivery(1)]).to_xcom()],  # a list of units
    None,
])
def test_live_run_from_xcom_is_none_for_unit_values(value):
    assert LiveRun.from_xcom(value) is None
