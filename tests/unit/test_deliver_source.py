"""auth0_webhooks.deliver: where a delivery task's units come from. A live run's slot takes its stripe of
units, at once from the finished first reader, waiting for the reader that continues the run."""

from __future__ import annotations

import itertools

import pytest

from auth0_webhooks.deliver import GivenUnits, LiveStripe, ReaderNotStarted, UnitMissing
from auth0_webhooks.protocol import Checkpoint, Delivery, LiveRun, ReadSummary, RunInfo, Unit, unit_key

READ_ID = "read-1"


def a_unit(index: int) -> Unit:
    log_id = f"L{index:04d}"
    return Unit(index, [Delivery([{"log_id": log_id}], Checkpoint(log_id))], READ_ID)


def final_summary(next_unit: int) -> dict:
    """read_more's last summary: it stopped after publishing units below `next_unit`."""
    run = RunInfo(READ_ID, None, None, None, None, False, False, "all", False)
    return ReadSummary(run, (), next_unit, None, None, 0, 0, True, "caught up", final=True).to_xcom()


def live_run(first_units: int, more_task: str | None = "read_more", slots: int = 1) -> LiveRun:
    return LiveRun(READ_ID, slots, True, "read_logs", first_units, more_task)


class Reader:
    """XCom of one run as a slot pulls it, with the continuing reader's state; `script` runs on each sleep."""

    def __init__(self, clock, state: str | None = "running") -> None:  # noqa: ANN001
        self.clock, self.state = clock, state
        self.xcom: dict[tuple[str, int, str], object] = {}
        self.script: list = []
        self.pulls: list[tuple[str, int, str]] = []
        self.deleted: list[tuple[str, str, int]] = []

    def pull(self, task_id: str, map_index: int, key: str) -> object:
        self.pulls.append((task_id, map_index, key))
        return self.xcom.get((task_id, map_index, key))

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        if self.script:
            self.script.pop(0)()

    def stripe(self, first_units: int, more_task: str | None = "read_more", slot: int = 0, slots: int = 1,
               pull=None, **kwargs) -> LiveStripe:  # noqa: ANN001
        return LiveStripe(live_run(first_units, more_task, slots), slot, pull=pull or self.pull,
                          reader_state=lambda: self.state, delete=lambda *where: self.deleted.append(where),
                          sleep=self.sleep, clock=self.clock.time, **kwargs)

    def publish(self, index: int, task_id: str = "read_more", map_index: int = 0) -> None:
        self.xcom[(task_id, map_index, unit_key(index))] = a_unit(index).to_xcom()

    def final(self, next_unit: int) -> None:
        self.xcom[("read_more", 0, "summary")] = final_summary(next_unit)


def test_stripes_share_out_every_index_once(clock):
    reader = Reader(clock)
    assert unit_key(7) == "unit-7"
    assert list(itertools.islice(reader.stripe(0, slot=1, slots=3), 4)) == [1, 4, 7, 10]
    taken = sorted(i for slot in range(4) for i in itertools.islice(reader.stripe(0, slot=slot, slots=4), 5))
    assert taken == list(range(20))
    assert list(reader.stripe(7, more_task=None, slot=1, slots=3)) == [1, 4]  # no continuing reader: ends
    assert reader.pulls == []  # iterating only names indexes: `unit` fetches them


def test_units_of_the_first_reader_are_pulled_at_once(clock):
    reader = Reader(clock)
    reader.publish(1, "read_logs", -1)
    stripe = reader.stripe(first_units=2)
    assert stripe.location(1) == ("read_logs", -1) and stripe.location(2) == ("read_more", 0)
    assert stripe.unit(1) == a_unit(1)
    with pytest.raises(UnitMissing, match="unit 0 are missing"):  # the slot fails: it never waits for the first reader
        stripe.unit(0)
    assert clock.sleeps == [] and stripe.waited_seconds == 0


def test_without_a_continuing_reader_the_stream_ends_after_the_first_units(clock):
    reader = Reader(clock)
    stripe = reader.stripe(first_units=2, more_task=None)
    assert stripe.location(2) is None and stripe.unit(2) is None
    assert reader.pulls == [] and clock.sleeps == []


def test_a_slot_waits_for_a_unit_of_the_continuing_reader(clock):
    reader = Reader(clock)
    reader.script = [lambda: None, lambda: None, lambda: reader.publish(3)]
    stripe = reader.stripe(first_units=2)
    assert stripe.unit(3) == a_unit(3)
    assert len(clock.sleeps) == 3 and stripe.waited_seconds == pytest.approx(sum(clock.sleeps))
    assert clock.sleeps == sorted(clock.sleeps) and max(clock.sleeps) <= 1.0  # backs off up to 1 s


def test_the_final_summary_ends_the_stream(clock):
    reader = Reader(clock)
    reader.script = [lambda: reader.final(4)]
    stripe = reader.stripe(first_units=2)
    assert stripe.unit(5) is None and len(clock.sleeps) == 1
    assert stripe.unit(4) is None and len(clock.sleeps) == 1  # no waiting once the reader is done


def test_a_unit_the_final_summary_counts_but_xcom_lacks_is_missing(clock):
    reader = Reader(clock)
    reader.final(4)  # units 2 and 3 were published by read_more; unit 3 is gone
    reader.publish(2)
    stripe = reader.stripe(first_units=2)
    assert stripe.unit(2) == a_unit(2)
    with pytest.raises(UnitMissing, match="unit 3 are missing"):
        stripe.unit(3)


def test_a_unit_published_just_before_the_final_summary_is_taken(clock):
    reader = Reader(clock, state="success")
    reader.final(4)
    calls = itertools.count()

    def racing_pull(task_id: str, map_index: int, key: str) -> object:
        if key == "unit-3" and next(calls) == 1:
            reader.publish(3)  # not there at the first pull, there at the second, after the summary said final
        return reader.pull(task_id, map_index, key)

    stripe = reader.stripe(first_units=2, pull=racing_pull)
    assert stripe.unit(3) == a_unit(3) and clock.sleeps == []


@pytest.mark.parametrize("state", ["failed", "success", "skipped", "upstream_failed", "removed"])
def test_a_reader_that_ended_without_its_final_summary_ends_the_stream(clock, state):
    reader = Reader(clock, state=state)
    stripe = reader.stripe(first_units=0)
    assert stripe.unit(0) is None
    assert 2.0 <= sum(clock.sleeps) < 4.0  # its state is looked at every 2 s


@pytest.mark.parametrize("state", [None, "none", "scheduled"])
def test_a_reader_that_has_not_started_after_the_grace_gives_the_worker_back(clock, state):
    reader = Reader(clock, state=state)
    stripe = reader.stripe(first_units=0, start_grace_seconds=3.0)
    with pytest.raises(ReaderNotStarted, match="read_more is"):
        stripe.unit(0)
    assert 3.0 <= sum(clock.sleeps) < 6.0


def test_a_queued_or_running_reader_is_waited_for(clock):
    reader = Reader(clock, state="queued")
    ticks = itertools.count()

    def later() -> None:
        tick = next(ticks)
        if tick == 5:
            reader.state = "running"
        if tick == 40:
            reader.publish(0)

    reader.script = [later] * 50
    stripe = reader.stripe(first_units=0, start_grace_seconds=3.0)
    assert stripe.unit(0) == a_unit(0) and sum(clock.sleeps) > 30  # long past the grace


def test_release_deletes_an_acknowledged_unit_where_its_reader_published_it(clock):
    reader = Reader(clock)
    stripe = reader.stripe(first_units=2)
    stripe.release(1)
    stripe.release(5)
    assert reader.deleted == [("read_logs", "unit-1", -1), ("read_more", "unit-5", 0)]
    reader.stripe(first_units=2, more_task=None).release(5)  # no reader published it: nothing to delete
    assert len(reader.deleted) == 2


def test_given_units_are_delivered_in_index_order_and_never_deleted():
    units = GivenUnits([a_unit(2).to_xcom(), a_unit(0).to_xcom()])
    assert list(units) == [0, 2] and units.unit(2) == a_unit(2) and units.read_id == READ_ID
    units.release(0)
    assert units.unit(0) == a_unit(0)
    one = GivenUnits(a_unit(4).to_xcom())  # one unit, not in a list
    assert list(one) == [4] and GivenUnits([]).read_id is None
