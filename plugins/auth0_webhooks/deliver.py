"""Step 2 of a run, deliver: units to the webhook in order, one request at a time, recording what
was acknowledged so that a retry, even of a killed task, resumes after it; nothing is skipped.

Units come from `GivenUnits` (handed to LogsToWebhookOperator) or, in the shipped DAG, from a
`LiveStripe` (internal): slot j of n takes units j, j+n, ... while they are read.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from auth0_webhooks.protocol import RESUME_KEY, SUMMARY_KEY, LiveRun, ReadSummary, SlotReport, Unit, \
    UnitProgress, unit_key
from auth0_webhooks.runtime import delete_xcom, peak_rss_mb, raise_if_paused
from auth0_webhooks.webhook_client import DEFAULT_CONTENT_FORMAT, WebhookSender

CHECK_PAUSE_EVERY_SECONDS = 1.0  # another slot may have met a 410 Gone
SAVE_EVERY_SECONDS = 0.0  # progress saved after every acknowledged request: a kill re-sends only what was in flight
FINISHED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
NOT_STARTED_STATES = frozenset({None, "none", "scheduled"})
READER_START_GRACE_SECONDS = 3.0  # a slot waits this long for a reader that has not started, then yields
QUEUED_GRACE_FACTOR = 10  # ... and ten times as long for one queued (sent to a worker that may be busy)


class ReaderNotStarted(Exception):
    """The reader a slot waits for has not started: give the worker back and come again later."""


class UnitMissing(Exception):
    """A unit the run holds is not in XCom any more: this run cannot deliver it."""


# ---- where a delivery task's units come from ----


class GivenUnits:
    """Units handed to the operator: one, or a list, as XCom values of `Unit`."""

    def __init__(self, values: Any) -> None:
        values = values if isinstance(values, (list, tuple)) else [values]
        self.units = {unit.index: unit for unit in map(Unit.from_xcom, values)}
        self.read_id = next(iter(self.units.values())).read_id if self.units else None
        self.largest_unit_bytes = max((len(v) for v in values if isinstance(v, str)), default=0)
        self.waited_seconds = 0.0

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self.units))

    def unit(self, index: int) -> Unit:
        return self.units[index]

    def release(self, index: int) -> None:
        """Nothing to clean: the units belong to the task that produced them."""


class LiveStripe:
    """Internal: slot `slot`'s units of a live run, waiting for the reader that continues the run if needed.

    `pull(task_id, map_index, key)` reads an XCom; `reader_state()` is the state of the continuing
    reader (mapped instance 0 of `more_task`)."""

    def __init__(
        self, run: LiveRun, slot: int, *, pull: Callable[[str, int, str], Any], reader_state: Callable[[], str | None],
        delete: Callable[[str, str, int], Any], sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic, start_grace_seconds: float | None = None,
        state_every_seconds: float = 2.0,
    ) -> None:
        self.run, self.slot, self.read_id = run, slot, run.read_id
        self.pull, self.reader_state, self.delete = pull, reader_state, delete
        self.sleep, self.clock = sleep, clock
        grace = READER_START_GRACE_SECONDS if start_grace_seconds is None else start_grace_seconds
        self.start_grace_seconds, self.state_every_seconds = grace, min(state_every_seconds, grace)
        self.waited_seconds, self.largest_unit_bytes = 0.0, 0

    def __iter__(self) -> Iterator[int]:
        """The indexes of the stripe's units, in order (`unit` fetches one, waiting if needed)."""
        for index in itertools.count(self.slot, max(1, self.run.slots)):
            if self.location(index) is None:
                return
            yield index

    def unit(self, index: int) -> Unit | None:
        """Unit `index`; None when the run has no such unit (the read ended before it)."""
        where = self.location(index)
        value = None if where is None else (
            self.pull(*where, unit_key(index)) if index < self.run.first_units else self._wait_for(where, index))
        if value is None and index < self.run.first_units:
            raise UnitMissing(f"the logs of unit {index} are missing from XCom")
        if value is None:
            return None
        self.largest_unit_bytes = max(self.largest_unit_bytes, len(value))
        return Unit.from_xcom(value)

    def location(self, index: int) -> tuple[str, int] | None:
        """(task id, map index) of the reader that publishes unit `index`; None: no reader does."""
        if index < self.run.first_units:
            return self.run.first_task, -1
        return (self.run.more_task, 0) if self.run.more_task else None

    def release(self, index: int) -> None:
        """Delete an acknowledged unit's logs from XCom: no copy of them lingers in Airflow's database."""
        where = self.location(index)
        if where is not None:
            self.delete(where[0], unit_key(index), where[1])

    def _wait_for(self, where: tuple[str, int], index: int) -> Any | None:
        started = self.clock()
        poll, checked_at = 0.1, started
        while True:
            value = self.pull(*where, unit_key(index))
            if value is not None:
                self.waited_seconds += self.clock() - started
                return value
            summary = ReadSummary.from_xcom(self.pull(*where, SUMMARY_KEY))
            if summary and summary.final:
                self.waited_seconds += self.clock() - started
                if index >= summary.next_unit:
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


def live_stripe(ti: Any, run: LiveRun, slot: int) -> LiveStripe:
    """The stripe of slot `slot`, reading XCom and task states through the task instance `ti`."""

    def pull(task_id: str, map_index: int, key: str) -> Any:
        return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=map_index if map_index >= 0 else None)

    def reader_state() -> str | None:
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=[run.more_task], run_ids=[ti.run_id], map_index=0)
        return next(iter(((states or {}).get(ti.run_id) or {}).values()), None)

    return LiveStripe(run, slot, pull=pull, reader_state=reader_state,
                      delete=lambda task_id, key, map_index: delete_xcom(ti, task_id, key, map_index))


# ---- what has been acknowledged ----


class Progress:
    """A delivery task's SlotReport, kept in Airflow's task state store (`state`, or None), which
    survives retries and kills, and pushed to XCom for the commit and the reader (`push`)."""

    def __init__(self, state: Any, read_id: str | None, push: Callable[[dict], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state, self.push, self.clock = state, push, clock
        self.report = SlotReport(read_id)
        saved = _saved_report(state)
        if saved is not None and saved.read_id == read_id:  # another read's units are not this one's
            self.report.units = {i: UnitProgress(u.acked, u.deliveries, u.logs_acked, u.checkpoint)
                                 for i, u in saved.units.items() if u is not None}
        self._saved_at = clock()

    def acknowledged(self, index: int) -> bool:
        unit = self.report.units.get(index)
        return unit is not None and unit.acknowledged

    def begin(self, unit: Unit) -> int:
        """Start (or resume) a unit; returns how many of its deliveries are already acknowledged."""
        done = self.report.units.get(unit.index)
        self.report.units[unit.index] = UnitProgress.of(unit, min(done.acked if done else 0, len(unit.deliveries)))
        return self.report.units[unit.index].acked

    def acknowledge(self, index: int, unit: Unit) -> None:
        """One more delivery of unit `index` acknowledged; saved unless saved less than SAVE_EVERY_SECONDS ago."""
        progress = self.report.units[index]
        progress.acknowledge(unit.deliveries[progress.acked])
        if self.clock() - self._saved_at >= SAVE_EVERY_SECONDS:
            self.save()

    def fail(self, index: int | None, error: str) -> None:
        """Record why the task stopped (on the unit it was delivering, when there is one)."""
        self.report.error = error
        if index in self.report.units:
            self.report.units[index].error = error

    def save(self) -> None:
        if self.state is not None and self.report.units:
            self.state.set(RESUME_KEY, self.report.to_xcom())
        self._saved_at = self.clock()

    def publish(self, **figures: Any) -> SlotReport:
        """Push the report to XCom (key `progress`), with the task's figures."""
        for name, value in figures.items():
            setattr(self.report, name, value)
        self.report.peak_rss_mb = peak_rss_mb()
        self.push(self.report.to_xcom())
        return self.report


def _saved_report(state: Any) -> SlotReport | None:
    """The report saved by an earlier try; None when there is none, or it is of another shape
    (another release's): its units are then delivered again, never skipped."""
    try:
        return SlotReport.from_xcom(state.get(RESUME_KEY)) if state is not None else None
    except (TypeError, ValueError, AttributeError, KeyError):
        return None


# ---- the loop ----


@dataclass
class Delivered:
    """What one delivery task sent."""

    units: int = 0
    logs: int = 0
    current: int | None = field(default=None, repr=False)  # the unit being delivered, for errors


def deliver_units(sender: WebhookSender, source: GivenUnits | LiveStripe, progress: Progress,
                  as_batch: bool, done: Delivered, content_format: str = DEFAULT_CONTENT_FORMAT) -> Delivered:
    """Send every unit of `source` not yet acknowledged, in order, each delivery one request in `content_format`;
    raises at the first delivery the webhook does not acknowledge (WebhookDeliveryError), or when delivery is
    paused."""
    raise_if_paused()
    checked_at = time.monotonic()
    for index in source:
        if progress.acknowledged(index):
            continue  # acknowledged by an earlier try of this task (and released)
        done.current = index
        unit = source.unit(index)
        if unit is None:
            break
        for delivery in unit.deliveries[progress.begin(unit):]:
            if delivery.logs:  # a delivery without logs only carries the checkpoint past filtered-out logs
                sender.send_logs(delivery.logs, as_batch=as_batch, content_format=content_format)
            progress.acknowledge(index, unit)
            done.logs += len(delivery.logs)
            if time.monotonic() - checked_at >= CHECK_PAUSE_EVERY_SECONDS:
                raise_if_paused()
                checked_at = time.monotonic()
        progress.save()
        source.release(index)
        done.units += 1
        progress.publish(**figures(source, sender))
    done.current = None
    return done


def figures(source: GivenUnits | LiveStripe, sender: WebhookSender | None = None) -> dict:
    """What a delivery task reports of its source and its webhook's answers, beside the units' progress."""
    answers = {"webhook_answers": sender.stats.answered,
               "webhook_answer_ms": round(sender.stats.answer_seconds * 1000, 1)} if sender is not None else {}
    return {"largest_unit_bytes": source.largest_unit_bytes,
            "waited_for_reader_seconds": round(source.waited_seconds, 1), **answers}
