"""auth0_webhooks.units: units in XCom, the reader's backpressure, the slots' wait for the reader."""

from __future__ import annotations

import itertools
import json

import pytest

from auth0_webhooks.planning import Delivery
from auth0_webhooks.units import (
    ReaderNotStarted, ReadingStopped, SlotsView, UnitMissing, UnitPublisher, UnitSource, decode_unit, describe_unit,
    encode_unit, slots_view, stripe, unit_key,
)

SUMMARY = "summary"


def delivery(first: int, count: int = 2) -> Delivery:
    logs = [{"log_id": f"L{n:04d}", "type": "s", "description": "é"} for n in range(first, first + count)]
    return Delivery(logs, logs[-1]["log_id"], f"2026-01-01T00:00:{first % 60:02d}.000Z")


def unit(first: int, deliveries: int = 2) -> list[Delivery]:
    return [delivery(first + 2 * n) for n in range(deliveries)]


# ---------------------------------------------------------------- encoding


def test_a_unit_is_one_compact_json_text_that_decodes_to_its_deliveries():
    value = encode_unit(unit(1))
    assert isinstance(value, str) and ", " not in value and "é" in value  # compact, not ASCII-escaped
    assert decode_unit(value) == [d.to_xcom() for d in unit(1)]
    assert decode_unit(value.encode()) == decode_unit(value)
    assert decode_unit(json.loads(value)) == decode_unit(value)  # a backend that stored it as a list


def test_describe_unit_carries_what_the_commit_needs():
    assert describe_unit(4, unit(1), "read_more") == {
        "index": 4, "task_id": "read_more", "label": "L0001..L0004 (4 logs)", "deliveries": 2, "logs": 4,
        "checkpoint": "L0004", "checkpoint_date": "2026-01-01T00:00:03.000Z",
    }


def test_stripes_share_out_every_index_once():
    assert unit_key(7) == "unit-7"
    assert list(itertools.islice(stripe(1, 3), 4)) == [1, 4, 7, 10]
    taken = sorted(i for slot in range(4) for i in itertools.islice(stripe(slot, 4), 5))
    assert taken == list(range(20))


# ---------------------------------------------------------------- the reader's side


class Slots:
    """What the reader sees of the slots, scripted: one view per poll (the last one repeats)."""

    def __init__(self, *views: SlotsView) -> None:
        self.views = list(views)
        self.polls = 0

    def __call__(self) -> SlotsView:
        self.polls += 1
        return self.views.pop(0) if len(self.views) > 1 else self.views[0]


def publisher(pushed: dict, clock, slots=None, next_index: int = 0, limit: int = 2) -> UnitPublisher:  # noqa: ANN001
    return UnitPublisher(pushed.__setitem__, "read_more", next_index, backlog_limit=limit, slots=slots,
                         sleep=clock.sleep, clock=clock.time)


def test_the_publisher_pushes_units_in_order_and_remembers_them(clock):
    pushed: dict = {}
    units = publisher(pushed, clock, next_index=3, limit=100)
    units.publish([unit(1), [], unit(5, 3)])  # an empty unit is no unit
    assert list(pushed) == ["unit-3", "unit-4"] and decode_unit(pushed["unit-4"]) == [d.to_xcom() for d in unit(5, 3)]
    assert [s["index"] for s in units.summaries] == [3, 4] and units.next_index == 5
    assert units.largest_unit_bytes == max(len(v) for v in pushed.values())


def test_a_dry_run_publisher_only_counts():
    units = UnitPublisher(None, "read_logs", 0, backlog_limit=1, slots=lambda: pytest.fail("no slots in a dry run"))
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


def test_slots_view_finds_the_first_unacknowledged_unit_of_this_read():
    reports = [
        {"read": "r1", "units": {"0": {"acked": 3, "deliveries": 3}, "3": {"acked": 1, "deliveries": 3}}},
        None,  # a slot that has not reported yet
        {"read": "r1", "units": {"1": {"acked": 2, "deliveries": 2}, "4": {"acked": 2, "deliveries": 2}}},
        {"read": "r0", "units": {"2": {"acked": 2, "deliveries": 2}}},  # left from a read before a clear
        {"read": "r1", "units": {"5": {"acked": 2, "deliveries": 2, "error": "HTTP 500"}}},
    ]
    assert slots_view(reports, {"deliver_0": "running"}, "r1") == SlotsView(2, 3, False, True)
    assert slots_view([], {}) == SlotsView(0, 0, False, False)
    assert slots_view([], {"deliver_0": "failed", "deliver_1": "running"}).failed
    for state in ("running", "queued", "up_for_retry", "restarting"):
        assert slots_view([], {"deliver_0": "scheduled", "deliver_1": state}).active
    assert not slots_view([], {"deliver_0": "scheduled", "deliver_1": "up_for_reschedule", "deliver_2": None}).active


# ---------------------------------------------------------------- the slots' side


class Reader:
    """XCom of one run as a slot pulls it, with the continuing reader's state; `script` runs on each sleep."""

    def __init__(self, clock, state: str | None = "running") -> None:  # noqa: ANN001
        self.clock, self.state = clock, state
        self.xcom: dict[tuple[str, int, str], object] = {}
        self.script: list = []
        self.pulls: list[tuple[str, int, str]] = []

    def pull(self, task_id: str, map_index: int, key: str) -> object:
        self.pulls.append((task_id, map_index, key))
        return self.xcom.get((task_id, map_index, key))

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        if self.script:
            self.script.pop(0)()

    def source(self, first_count: int, more_task: str | None = "read_more", **kwargs) -> UnitSource:
        return UnitSource(self.pull, first_task="read_logs", first_count=first_count, more_task=more_task,
                          reader_state=lambda: self.state, summary_key=SUMMARY, sleep=self.sleep,
                          clock=self.clock.time, **kwargs)

    def publish(self, index: int, value: str = "[]") -> None:
        self.xcom[("read_more", 0, unit_key(index))] = value

    def final(self, next_unit: int) -> None:
        self.xcom[("read_more", 0, SUMMARY)] = {"final": True, "next_unit": next_unit}


def test_units_of_the_first_reader_are_pulled_at_once(clock):
    reader = Reader(clock)
    reader.xcom[("read_logs", -1, "unit-1")] = "[1]"
    source = reader.source(first_count=2)
    assert source.location(1) == ("read_logs", -1) and source.location(2) == ("read_more", 0)
    assert source.get(1) == "[1]"
    assert source.get(0) is None  # missing: the slot fails, it never waits for the first reader
    assert clock.sleeps == [] and source.waited_seconds == 0


def test_without_a_continuing_reader_the_stream_ends_after_the_first_units(clock):
    reader = Reader(clock)
    source = reader.source(first_count=2, more_task=None)
    assert source.location(2) is None and source.get(2) is None
    assert reader.pulls == [] and clock.sleeps == []


def test_a_slot_waits_for_a_unit_of_the_continuing_reader(clock):
    reader = Reader(clock)
    reader.script = [lambda: None, lambda: None, lambda: reader.publish(3, "[3]")]
    source = reader.source(first_count=2)
    assert source.get(3) == "[3]"
    assert len(clock.sleeps) == 3 and source.waited_seconds == pytest.approx(sum(clock.sleeps))
    assert clock.sleeps == sorted(clock.sleeps) and max(clock.sleeps) <= 1.0  # backs off up to 1 s


def test_the_final_summary_ends_the_stream(clock):
    reader = Reader(clock)
    reader.script = [lambda: reader.final(4)]
    source = reader.source(first_count=2)
    assert source.get(5) is None and len(clock.sleeps) == 1
    assert source.get(4) is None and len(clock.sleeps) == 1  # no waiting once the reader is done


def test_a_unit_the_final_summary_counts_but_xcom_lacks_is_missing(clock):
    reader = Reader(clock)
    reader.final(4)  # units 2 and 3 were published by read_more; unit 3 is gone
    reader.publish(2, "[2]")
    source = reader.source(first_count=2)
    assert source.get(2) == "[2]"
    with pytest.raises(UnitMissing, match="unit 3 are missing"):
        source.get(3)


def test_a_unit_published_just_before_the_final_summary_is_taken(clock):
    reader = Reader(clock)
    reader.final(4)
    reader.xcom[("read_more", 0, "unit-3")] = None  # not there at the first pull ...
    original = reader.pull
    calls = itertools.count()

    def racing_pull(task_id: str, map_index: int, key: str) -> object:
        if key == "unit-3" and next(calls) == 1:
            reader.publish(3, "[3]")  # ... there at the second, after the summary said final
        return original(task_id, map_index, key)

    source = UnitSource(racing_pull, first_task="read_logs", first_count=2, more_task="read_more",
                        reader_state=lambda: "success", summary_key=SUMMARY, sleep=clock.sleep, clock=clock.time)
    assert source.get(3) == "[3]" and clock.sleeps == []


@pytest.mark.parametrize("state", ["failed", "success", "skipped", "upstream_failed", "removed"])
def test_a_reader_that_ended_without_its_final_summary_ends_the_stream(clock, state):
    reader = Reader(clock, state=state)
    source = reader.source(first_count=0)
    assert source.get(0) is None
    assert 2.0 <= sum(clock.sleeps) < 4.0  # its state is looked at every 2 s


@pytest.mark.parametrize("state", [None, "none", "scheduled"])
def test_a_reader_that_has_not_started_after_the_grace_gives_the_worker_back(clock, state):
    reader = Reader(clock, state=state)
    source = reader.source(first_count=0, start_grace_seconds=3.0)
    with pytest.raises(ReaderNotStarted, match="read_more is"):
        source.get(0)
    assert 3.0 <= sum(clock.sleeps) < 6.0


def test_a_queued_or_running_reader_is_waited_for(clock):
    reader = Reader(clock, state="queued")
    ticks = itertools.count()

    def later() -> None:
        tick = next(ticks)
        if tick == 5:
            reader.state = "running"
        if tick == 40:
            reader.publish(0, "[0]")

    reader.script = [later] * 50
    source = reader.source(first_count=0, start_grace_seconds=3.0)
    assert source.get(0) == "[0]" and sum(clock.sleeps) > 30  # long past the grace
