"""Units: the deliveries one XCom carries from a reader task to a delivery slot, while the read goes on.

A run's units are numbered in log order. A reader pushes unit `i` as XCom `unit-<i>` as soon
as it is cut: one JSON text, which Airflow stores as it is (a list of dicts would be walked
value by value). Slot `j` of `n` delivers units j, j+n, j+2n, ... in order and deletes each one
from XCom once the webhook acknowledged all of it, so XCom holds only what is in flight, and a
reader holds back while more than `backlog_limit` units wait: what Airflow stores, and what
any task holds in memory, does not grow with the size of the run.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from auth0_webhooks.planning import Delivery, unit_label

log = logging.getLogger(__name__)

FINISHED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
NOT_STARTED_STATES = frozenset({None, "none", "scheduled"})
READER_START_GRACE_SECONDS = 3.0  # a slot waits this long for a reader that has not started, then yields
QUEUED_GRACE_FACTOR = 10  # ... and ten times as long for one queued (sent to a worker that may be busy)


class ReaderNotStarted(Exception):
    """The reader a slot waits for has not started: give the worker back and come again later."""


class ReadingStopped(Exception):
    """Reading further cannot help this run: a slot failed for good, or the time ran out while waiting."""


class UnitMissing(Exception):
    """A unit the run holds is not in XCom any more: this run cannot deliver it."""


def unit_key(index: int) -> str:
    return f"unit-{index}"


def encode_unit(unit: Sequence[Delivery]) -> str:
    """The XCom value of a unit: its deliveries as one compact JSON text."""
    return json.dumps([delivery.to_xcom() for delivery in unit], separators=(",", ":"), ensure_ascii=False)


def decode_unit(value: Any) -> list[dict]:
    """The deliveries of a unit, from its XCom value (a JSON text, or already a list)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else list(value)


def describe_unit(index: int, unit: Sequence[Delivery], task_id: str) -> dict:
    """What the commit step needs of a unit: where it is, its size, its checkpoint once acknowledged."""
    return {
        "index": index, "task_id": task_id, "label": unit_label(list(unit)), "deliveries": len(unit),
        "logs": sum(len(delivery.logs) for delivery in unit),
        "checkpoint": unit[-1].checkpoint, "checkpoint_date": unit[-1].checkpoint_date,
    }


def stripe(slot: int, slots: int) -> Iterator[int]:
    """The unit indexes slot `slot` of `slots` delivers, in order."""
    return itertools.count(slot, max(1, slots))


STALL_SECONDS = 60.0  # holding back this long with no unit acknowledged ends the read (the next run goes on)
# Slot states in which a slot acknowledges units now or soon. Not "scheduled" (no worker yet: under
# dag.test(), or a full pool) nor "up_for_reschedule" (it yielded, waiting for the reader itself).
ACTIVE_STATES = frozenset({"running", "queued", "up_for_retry", "restarting"})


@dataclass(frozen=True)
class SlotsView:
    """What the reader sees of the delivery slots."""

    first_unacknowledged: int  # every unit below it is acknowledged in full
    acknowledged_units: int
    failed: bool
    active: bool = True  # some slot is delivering, or about to (see ACTIVE_STATES)


class UnitPublisher:
    """Reader side: push units as they are cut, remember their summaries, hold back when slots lag.

    Holding back keeps fewer than `backlog_limit` units between the first unacknowledged one and
    the next to publish, while some slot is active: that bounds what XCom holds, and what a failed
    unit makes the next run send again. It ends the read (ReadingStopped) when a slot failed for
    good, when no unit was acknowledged for STALL_SECONDS, or at `deadline`. With `push` None (a dry run) units are
    only counted."""

    def __init__(
        self,
        push: Callable[[str, Any], None] | None,
        task_id: str,
        next_index: int,
        *,
        backlog_limit: int,
        slots: Callable[[], SlotsView] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 0.5,
        deadline: float | None = None,
        stall_seconds: float | None = None,
    ) -> None:
        self.push, self.task_id, self.next_index = push, task_id, next_index
        self.deadline = deadline  # on `clock`: holding back never goes past the run's time budget
        self.stall_seconds = STALL_SECONDS if stall_seconds is None else stall_seconds
        self.backlog_limit = max(1, backlog_limit)
        self.slots, self.sleep, self.clock, self.poll_seconds = slots, sleep, clock, poll_seconds
        self.summaries: list[dict] = []
        self.largest_unit_bytes = 0
        self.held_back_seconds = 0.0

    def publish(self, units: Sequence[Sequence[Delivery]]) -> None:
        """Push each unit (waiting first while too many are unacknowledged)."""
        for unit in units:
            if not unit:
                continue
            if self.push is None:
                self.next_index += 1
                continue
            self._hold_back()
            value = encode_unit(unit)
            self.push(unit_key(self.next_index), value)
            self.largest_unit_bytes = max(self.largest_unit_bytes, len(value))
            self.summaries.append(describe_unit(self.next_index, unit, self.task_id))
            self.next_index += 1

    def _hold_back(self) -> None:
        if self.slots is None or self.next_index < self.backlog_limit:
            return
        started = progressed_at = self.clock()
        acknowledged = -1
        while True:
            view = self.slots()
            if view.failed:
                raise ReadingStopped("a delivery task failed: the checkpoint cannot move past its logs")
            if not view.active or self.next_index - view.first_unacknowledged < self.backlog_limit:
                break  # nobody would acknowledge while we wait, or there is room
            now = self.clock()
            if view.acknowledged_units != acknowledged:
                acknowledged, progressed_at = view.acknowledged_units, now
            if now - progressed_at >= self.stall_seconds:
                raise ReadingStopped(f"no unit was acknowledged for {self.stall_seconds:.0f} s while "
                                     f"{self.next_index - view.first_unacknowledged} waited")
            if self.deadline is not None and now >= self.deadline:
                raise ReadingStopped("the run's time budget ran out while the webhook lagged behind the read")
            self.sleep(self.poll_seconds)
        self.held_back_seconds += self.clock() - started


def slots_view(progress_reports: Sequence[Mapping | None], states: Mapping[str, Any],
               read_id: str | None = None) -> SlotsView:
    """Fold the slots' progress reports (of this read) and task states into what the reader needs."""
    complete: set[int] = set()
    for report in progress_reports:
        if not report or report.get("read") != read_id:
            continue
        for index, unit in (report.get("units") or {}).items():
            if unit and unit.get("acked", 0) >= unit.get("deliveries", 1) and not unit.get("error"):
                complete.add(int(index))
    first = 0
    while first in complete:
        first += 1
    values = [str(state) for state in states.values()]
    return SlotsView(first_unacknowledged=first, acknowledged_units=len(complete),
                     failed="failed" in values, active=any(state in ACTIVE_STATES for state in values))


class UnitSource:
    """Slot side: the units of a stripe, waiting for the reader that continues the run if needed.

    `pull(task_id, map_index, key)` reads an XCom; `reader_state()` is the state of the continuing
    reader (mapped instance 0 of `more_task`). Units below `first_count` were published by the
    first reader (unmapped), which has finished.
    """

    def __init__(
        self,
        pull: Callable[[str, int, str], Any],
        *,
        first_task: str,
        first_count: int,
        more_task: str | None,
        reader_state: Callable[[], str | None],
        summary_key: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        start_grace_seconds: float | None = None,
        state_every_seconds: float = 2.0,
    ) -> None:
        self.pull, self.first_task, self.first_count, self.more_task = pull, first_task, first_count, more_task
        self.reader_state, self.summary_key = reader_state, summary_key
        self.sleep, self.clock = sleep, clock
        grace = READER_START_GRACE_SECONDS if start_grace_seconds is None else start_grace_seconds
        self.start_grace_seconds, self.state_every_seconds = grace, min(state_every_seconds, grace)
        self.waited_seconds = 0.0

    def location(self, index: int) -> tuple[str, int] | None:
        """(task id, map index) of the reader that publishes unit `index`; None: no reader does."""
        if index < self.first_count:
            return self.first_task, -1
        return (self.more_task, 0) if self.more_task else None

    def get(self, index: int) -> Any | None:
        """Unit `index`'s XCom value; None when the run has no such unit (or it is missing)."""
        where = self.location(index)
        if where is None:
            return None
        if index < self.first_count:
            return self.pull(*where, unit_key(index))
        return self._wait_for(where, index)

    def _wait_for(self, where: tuple[str, int], index: int) -> Any | None:
        started = self.clock()
        poll, checked_at = 0.1, started
        while True:
            value = self.pull(*where, unit_key(index))
            if value is not None:
                self.waited_seconds += self.clock() - started
                return value
            summary = self.pull(*where, self.summary_key)
            if summary and summary.get("final"):
                self.waited_seconds += self.clock() - started
                if index >= int(summary.get("next_unit", 0)):
                    return None
                value = self.pull(*where, unit_key(index))  # published just before the final summary
                if value is None:
                    raise UnitMissing(f"the logs of unit {index} are missing from XCom")
                return value
            now = self.clock()
            if now - checked_at >= self.state_every_seconds:
                checked_at = now
                state = self.reader_state()
                if state in FINISHED_STATES:  # ended without its final summary (killed): take what is there
                    return self.pull(*where, unit_key(index))
                if state in NOT_STARTED_STATES and now - started >= self.start_grace_seconds or (
                        state == "queued" and now - started >= QUEUED_GRACE_FACTOR * self.start_grace_seconds):
                    # Give the worker back: with few workers, the reader may be waiting for this one.
                    raise ReaderNotStarted(f"{where[0]} is {state or 'not scheduled'}")
            self.sleep(poll)
            poll = min(poll * 1.5, 1.0)
