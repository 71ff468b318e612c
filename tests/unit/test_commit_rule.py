"""auth0_webhooks.checkpoint: advance over the acknowledged prefix only; compare-and-set writes.

Spec: original-extension.md, first defect: a batch that failed must never be passed over by
the checkpoint (those logs were lost for good).
"""

from __future__ import annotations

import pytest

from auth0_webhooks.checkpoint import Acknowledged, CheckpointConflict, CheckpointStore, acknowledged_prefix

LEAD = ("L0000", "2026-01-01T00:00:00.000Z")
# Three units of 2 deliveries each (100 logs per delivery).
UNITS = [
    {"deliveries": 2, "logs": 200, "checkpoint": "L0200", "checkpoint_date": "d200"},
    {"deliveries": 2, "logs": 200, "checkpoint": "L0400", "checkpoint_date": "d400"},
    {"deliveries": 2, "logs": 200, "checkpoint": "L0600", "checkpoint_date": "d600"},
]


def done(unit: dict) -> dict:
    return {"acked": unit["deliveries"], "logs_acked": unit["logs"], "checkpoint": unit["checkpoint"],
            "checkpoint_date": unit["checkpoint_date"]}


PARTIAL_1 = {"acked": 1, "logs_acked": 100, "checkpoint": "L0300", "checkpoint_date": "d300"}


def test_never_moves_past_a_gap():
    result = acknowledged_prefix(LEAD, UNITS, [done(UNITS[0]), PARTIAL_1, done(UNITS[2])])
    assert result == Acknowledged(
        checkpoint="L0300",
        checkpoint_date="d300",
        logs_delivered=300,
        logs_acknowledged_after_gap=200,
        complete=False,
        first_incomplete_unit=1,
    )


def test_unit_with_nothing_acknowledged_stops_at_the_previous_unit():
    zero = {"acked": 0, "logs_acked": 0, "checkpoint": "L0200", "checkpoint_date": "d200"}
    result = acknowledged_prefix(LEAD, UNITS, [done(UNITS[0]), zero, done(UNITS[2])])
    assert (result.checkpoint, result.checkpoint_date) == ("L0200", "d200")
    assert result.logs_delivered == 200
    assert result.logs_acknowledged_after_gap == 200
    assert result.first_incomplete_unit == 1 and not result.complete


def test_killed_task_reports_none():
    result = acknowledged_prefix(LEAD, UNITS, [done(UNITS[0]), None, done(UNITS[2])])
    assert result.checkpoint == "L0200"
    assert result.logs_delivered == 200
    assert result.logs_acknowledged_after_gap == 200
    assert result.first_incomplete_unit == 1


def test_first_unit_killed_keeps_the_lead():
    result = acknowledged_prefix(LEAD, UNITS, [None, None, None])
    assert (result.checkpoint, result.checkpoint_date) == LEAD
    assert result.logs_delivered == 0 and result.logs_acknowledged_after_gap == 0
    assert result.first_incomplete_unit == 0 and not result.complete


def test_missing_progress_entries_count_as_never_reported():
    result = acknowledged_prefix(LEAD, UNITS, [done(UNITS[0])])
    assert result.checkpoint == "L0200" and result.first_incomplete_unit == 1


def test_all_complete_moves_to_the_last_unit():
    result = acknowledged_prefix(LEAD, UNITS, [done(unit) for unit in UNITS])
    assert result == Acknowledged("L0600", "d600", 600, 0, True, None)


def test_lead_only_when_everything_was_filtered_out():
    result = acknowledged_prefix(("L0042", "d42"), [], [])
    assert result == Acknowledged("L0042", "d42", 0, 0, True, None)


def test_nothing_at_all():
    assert acknowledged_prefix((None, None), [], []) == Acknowledged(None, None, 0, 0, True, None)


def test_later_partial_units_do_not_count_before_the_gap():
    partial_2 = {"acked": 1, "logs_acked": 100, "checkpoint": "L0500", "checkpoint_date": "d500"}
    result = acknowledged_prefix(LEAD, UNITS, [None, done(UNITS[1]), partial_2])
    assert result.checkpoint == LEAD[0]
    assert result.logs_acknowledged_after_gap == 300


# ---------------------------------------------------------------- CheckpointStore


class FakeVariables:
    def __init__(self, **values):
        self.values = dict(values)
        self.writes: list[tuple[str, str]] = []

    def get(self, key):
        return self.values.get(key)

    def set(self, key, value):
        self.writes.append((key, value))
        self.values[key] = value


def store_with(value):
    variables = FakeVariables(cp=value) if value is not None else FakeVariables()
    return CheckpointStore("cp", variables.get, variables.set), variables


def test_read_strips_and_treats_empty_as_none():
    assert store_with("  L1 \n")[0].read() == "L1"
    assert store_with("")[0].read() is None
    assert store_with(None)[0].read() is None


def test_compare_and_set_writes_when_unchanged():
    store, variables = store_with("L0100")
    assert store.compare_and_set("L0100", "L0200") is True
    assert variables.writes == [("cp", "L0200")]
    assert store.read() == "L0200"


def test_compare_and_set_from_no_checkpoint():
    store, variables = store_with(None)
    assert store.compare_and_set(None, "L0001") is True
    assert variables.values["cp"] == "L0001"


def test_compare_and_set_conflict_names_both_values_and_writes_nothing():
    store, variables = store_with("L9999")
    with pytest.raises(CheckpointConflict) as caught:
        store.compare_and_set("L0100", "L0200")
    message = str(caught.value)
    assert "'L0100'" in message and "'L9999'" in message
    assert "'cp'" in message
    assert variables.writes == []
    assert variables.values["cp"] == "L9999"


def test_compare_and_set_conflict_when_deleted_during_the_run():
    store, variables = store_with(None)
    with pytest.raises(CheckpointConflict):
        store.compare_and_set("L0100", "L0200")
    assert variables.writes == []


def test_compare_and_set_returns_false_when_equal():
    store, variables = store_with("L0100")
    assert store.compare_and_set("L0100", "L0100") is False
    assert variables.writes == []
