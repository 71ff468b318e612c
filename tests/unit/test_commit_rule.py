"""auth0_webhooks.commit: advance over the acknowledged prefix only; compare-and-set writes.

Spec: original-extension.md, first defect: a batch that failed must never be passed over by
the checkpoint (those logs were lost for good).
"""

from __future__ import annotations

import pytest

from auth0_webhooks.commit import Acknowledged, CheckpointConflict, CheckpointStore, acknowledged_prefix
from auth0_webhooks.protocol import Checkpoint, UnitProgress, UnitSummary

LEAD = Checkpoint("L0000", "2026-01-01T00:00:00.000Z")


def summary(index: int, last: int) -> UnitSummary:
    """Unit `index` of 2 deliveries of 100 logs each, ending on log L<last>."""
    return UnitSummary(index, "read_logs", f"L{last - 199:04d}..L{last:04d} (200 logs)", 2, 200,
                       Checkpoint(f"L{last:04d}", f"d{last}"))


UNITS = [summary(0, 200), summary(1, 400), summary(2, 600)]


def done(unit: UnitSummary) -> UnitProgress:
    return UnitProgress(acked=unit.deliveries, deliveries=unit.deliveries, logs_acked=unit.logs,
                        checkpoint=unit.checkpoint)


PARTIAL_1 = UnitProgress(acked=1, deliveries=2, logs_acked=100, checkpoint=Checkpoint("L0300", "d300"))


def test_never_moves_past_a_gap():
    result = acknowledged_prefix(LEAD, UNITS, {0: done(UNITS[0]), 1: PARTIAL_1, 2: done(UNITS[2])})
    assert result == Acknowledged(
        checkpoint=Checkpoint("L0300", "d300"),
        logs_delivered=300,
        logs_acknowledged_after_gap=200,
        first_incomplete_unit=1,
    )
    assert not result.complete


def test_unit_with_nothing_acknowledged_stops_at_the_previous_unit():
    zero = UnitProgress(acked=0, deliveries=2, logs_acked=0, checkpoint=Checkpoint("L0399", "d399"))
    result = acknowledged_prefix(LEAD, UNITS, {0: done(UNITS[0]), 1: zero, 2: done(UNITS[2])})
    assert result.checkpoint == Checkpoint("L0200", "d200")
    assert result.logs_delivered == 200
    assert result.logs_acknowledged_after_gap == 200
    assert result.first_incomplete_unit == 1 and not result.complete


def test_killed_task_reports_none():
    result = acknowledged_prefix(LEAD, UNITS, {0: done(UNITS[0]), 2: done(UNITS[2])})  # unit 1: no report
    assert result.checkpoint == Checkpoint("L0200", "d200")
    assert result.logs_delivered == 200
    assert result.logs_acknowledged_after_gap == 200
    assert result.first_incomplete_unit == 1


def test_first_unit_killed_keeps_the_lead():
    result = acknowledged_prefix(LEAD, UNITS, {})
    assert result.checkpoint == LEAD
    assert result.logs_delivered == 0 and result.logs_acknowledged_after_gap == 0
    assert result.first_incomplete_unit == 0 and not result.complete


def test_missing_progress_entries_count_as_never_reported():
    result = acknowledged_prefix(LEAD, UNITS, {0: done(UNITS[0])})
    assert result.checkpoint == Checkpoint("L0200", "d200") and result.first_incomplete_unit == 1


def test_all_complete_moves_to_the_last_unit():
    result = acknowledged_prefix(LEAD, UNITS, {unit.index: done(unit) for unit in UNITS})
    assert result == Acknowledged(Checkpoint("L0600", "d600"), 600, 0, None) and result.complete


def test_lead_only_when_everything_was_filtered_out():
    result = acknowledged_prefix(Checkpoint("L0042", "d42"), [], {})
    assert result == Acknowledged(Checkpoint("L0042", "d42"), 0, 0, None) and result.complete


def test_nothing_at_all():
    result = acknowledged_prefix(None, [], {})
    assert result == Acknowledged(None, 0, 0, None) and result.complete


def test_later_partial_units_do_not_count_before_the_gap():
    partial_2 = UnitProgress(acked=1, deliveries=2, logs_acked=100, checkpoint=Checkpoint("L0500", "d500"))
    result = acknowledged_prefix(LEAD, UNITS, {1: done(UNITS[1]), 2: partial_2})
    assert result.checkpoint == LEAD
    assert result.logs_acknowledged_after_gap == 300


def test_progress_is_matched_by_unit_index_not_by_position():
    """read_more's units are numbered on from read_logs'; reports of units the summary does not list
    (another reader's, or beyond the read) count for nothing."""
    later = [summary(5, 200), summary(6, 400)]
    stray = UnitProgress(acked=2, deliveries=2, logs_acked=200, checkpoint=Checkpoint("L0999", "d999"))
    result = acknowledged_prefix(LEAD, later, {0: stray, 5: done(later[0]), 7: stray})
    assert result == Acknowledged(Checkpoint("L0200", "d200"), 200, 0, 1)


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
