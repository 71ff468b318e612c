"""auth0_webhooks.read: the reader publishes units to XCom as it cuts them, and holds back while the slots lag.

(The slots' side, LiveStripe, is in test_deliver_source.py; a unit's XCom text in test_protocol.py.)
"""

from __future__ import annotations

import pytest

from auth0_webhooks.protocol import Checkpoint, Delivery, SlotReport, Unit, UnitProgress
from auth0_webhooks.read import ReadingStopped, SlotsView, UnitPublisher, slots_view

READ_ID = "read-1"


def delivery(first: int, count: int = 2) -> Delivery:
    logs = [{"log_id": f"L{n:04d}", "type": "s", "description": "é"} for n in range(first, first + count)]
    return Delivery(logs, Checkpoint(logs[-1]["log_id"], f"2026-01-01T00:00:{first % 60:02d}.000Z"))


def unit(first: int, deliveries: int = 2) -> list[Delivery]:
    return [delivery(first + 2 * n) for n in range(deliveries)]


class Slots:
    """What the reader sees of the slots, scripted: one view per poll (the last one repeats)."""

    def __init__(self, *views: SlotsView) -> None:
        self.views = list(views)
        self.polls = 0

    def __call__(self) -> SlotsView:
        self.polls += 1
        return self.views.pop(0) if len(self.views) > 1 else self.views[0]


def publisher(pushed: dict, clock, slots=None, next_index: int = 0, limit: int = 2) -> UnitPublisher:  # noqa: ANN001
    return UnitPublisher(pushed.__setitem__, "read_more", READ_ID, next_index, backlog_limit=limit, slots=slots,
                         sleep=clock.sleep, clock=clock.time)


def test_the_publisher_pushes_units_in_order_and_remembers_them(clock):
    pushed: dict = {}
    units = publisher(pushed, clock, next_index=3, limit=100)
    units.publish([unit(1), [], unit(5, 3)])  # an empty unit is no unit
    assert list(pushed) == ["unit-3", "unit-4"]
    assert Unit.from_xcom(pushed["unit-3"]) == Unit(3, unit(1), READ_ID)
    assert Unit.from_xcom(pushed["unit-4"]) == Unit(4, unit(5, 3), READ_ID)
    assert units.summaries == [Unit(3, unit(1)).summary("read_more"), Unit(4, unit(5, 3)).summary("read_more")]
    assert [s.index for s in units.summaries] == [3, 4] and units.next_index == 5
    assert units.largest_unit_bytes == max(len(v) for v in pushed.values())


def test_a_dry_run_publisher_only_counts():
    units = UnitPublisher(None, "read_logs", READ_ID, 0, backlog_limit=1,
                          slots=lambda: pytest.fail("no slots in a dry run"))
    units.publish([unit(1), unit(5), unit(9)])
    assert units.next_index == 3 and units.summaries == []


def view(first: int = 0, acknowledged: int | None = None, failed: bool = False) -> SlotsView:
    return SlotsView(first_unacknowledged=first, acknowledged_units=first if acknowledged is None else acknowledged,
                     failed=failed)


def test_no_holding_back_below_the_limit(clock):
    pushed: dict = {}
    slots = Slots(view(0))
    units = publisher(pushed, clock, slots, limit=2)
    units.publish([unit(1), unit(5)])
    assert slots.polls == 0 and units.held_back_seconds == 0


def test_the_publisher_holds_back_while_the_slots_lag_then_goes_on(clock):
    pushed: dict = {}
    slots = Slots(view(0), view(0), view(0), view(1))
    units = publisher(pushed, clock, slots, limit=2)
    units.publish([unit(1), unit(5)])
    units.publish([unit(9)])  # 2 unacknowledged: waits until the first of them is acknowledged
    assert list(pushed) == ["unit-0", "unit-1", "unit-2"]
    assert slots.polls == 4 and clock.sleeps == [0.5, 0.5, 0.5] and units.held_back_seconds == 1.5


def test_holding_back_counts_from_the_first_unacknowledged_unit(clock):
    """A stuck unit holds the read back even while later units are acknowledged: what the next run
    would send again stays within the limit."""
    pushed: dict = {}
    stuck = view(first=0, acknowledged=5)  # unit 0 waits for a retry; units 1-5 are done
    slots = Slots(*[stuck] * 5, view(first=6))
    units = publisher(pushed, clock, slots, next_index=6, limit=4)
    units.publish([unit(1)])
    assert slots.polls == 6 and list(pushed) == ["unit-6"]


def test_no_holding_back_when_no_slot_is_active(clock):
    """Slots without a worker yet (dag.test() runs one task at a time, or a full pool), or that
    yielded waiting for this reader: waiting for them could never end."""
    pushed: dict = {}
    slots = Slots(SlotsView(first_unacknowledged=0, acknowledged_units=0, failed=False, active=False))
    units = publisher(pushed, clock, slots, limit=1)
    units.publish([unit(1), unit(5), unit(9)])
    assert len(pushed) == 3 and clock.sleeps == []


def test_no_progress_for_the_stall_time_ends_the_read(clock):
    pushed: dict = {}
    slots = Slots(view(0))  # nothing is ever acknowledged (slots retrying against a dead webhook)
    units = publisher(pushed, clock, slots, next_index=2, limit=2)
    with pytest.raises(ReadingStopped, match="no unit was acknowledged for 60 s while 2 waited"):
        units.publish([unit(1)])
    assert pushed == {} and 60.0 <= sum(clock.sleeps) <= 61.0


def test_progress_keeps_the_reader_waiting_past_the_stall_time(clock):
    pushed: dict = {}
    slowly = [view(first=0, acknowledged=count // 100) for count in range(300)]  # one unit every 50 s
    slots = Slots(*slowly, view(first=1))
    units = publisher(pushed, clock, slots, next_index=2, limit=2)
    units.publish([unit(1)])
    assert list(pushed) == ["unit-2"] and sum(clock.sleeps) >= 149


def test_the_publisher_stops_reading_when_a_slot_failed(clock):
    pushed: dict = {}
    slots = Slots(view(0), view(0, failed=True))
    units = publisher(pushed, clock, slots, next_index=2, limit=2)
    with pytest.raises(ReadingStopped, match="a delivery task failed"):
        units.publish([unit(1)])
    assert pushed == {} and units.next_index == 2 and units.summaries == []


def test_holding_back_stops_reading_when_the_time_budget_runs_out(clock):
    pushed: dict = {}
    slots = Slots(*[view(0, acknowledged=n) for n in range(10)])
    units = publisher(pushed, clock, slots, limit=1)
    units.deadline = clock.time() + 1.0
    units.publish([unit(1)])
    with pytest.raises(ReadingStopped, match="time budget ran out"):
        units.publish([unit(5)])
    assert list(pushed) == ["unit-0"] and clock.time() >= units.deadline


def acked(deliveries: int, acknowledged: int | None = None, error: str | None = None) -> UnitProgress:
    return UnitProgress(deliveries if acknowledged is None else acknowledged, deliveries, error=error)


def test_slots_view_finds_the_first_unacknowledged_unit_of_this_read():
    reports = [
        SlotReport("r1", {0: acked(3), 3: acked(3, 1)}),
        None,  # a slot that has not reported yet
        SlotReport("r1", {1: acked(2), 4: acked(2)}),
        SlotReport("r0", {2: acked(2)}),  # left from a read before a clear
        SlotReport("r1", {5: acked(2, error="paused")}),  # every delivery acknowledged, then a pause
        SlotReport("r1", {6: acked(2, 1, error="HTTP 500")}),
    ]
    assert slots_view(reports, ["running"], "r1") == SlotsView(2, 4, False, True)
    assert slots_view([], [], "r1") == SlotsView(0, 0, False, False)
    assert slots_view([], ["failed", "running"], "r1").failed
    for state in ("running", "queued", "up_for_retry", "restarting"):
        assert slots_view([], ["scheduled", state], "r1").active
    assert not slots_view([], ["scheduled", "up_for_reschedule", None], "r1").active
