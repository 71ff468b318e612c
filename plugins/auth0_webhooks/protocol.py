"""The records that cross task boundaries, their keys, and the rules they carry.

Everything one task hands to another (through XCom, the task state store or the pipeline's
state Variable) is a record below, with `to_xcom()` (JSON-able) and `from_xcom()` (a Record
rebuilds its nested records from its field types). No other module indexes these records by
string, and "a unit is acknowledged" is decided here only.

    read_logs ─ Unit (XCom unit-<i>), LiveRun (return value) ─► deliver slot ─ SlotReport (progress) ─► commit
       │  ReadSummary (summary)  ─────────────────────────────────────────────────────────────────► commit
       └─ Handover (handover) ─► read_more ─ Unit, ReadSummary ─► deliver slot, commit
    deliver slot ─ SlotReport (task state store) ─► the same slot's retries
    commit ─ Checkpoint.log_id ─► Variable auth0_webhooks_checkpoint;  PipelineState ─► auth0_webhooks_state

A `Checkpoint` is the one shape of a position in the log stream, from the read to the commit.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from typing import Any, Mapping

# XCom keys (besides Airflow's return_value) and the task state store's key.
SUMMARY_KEY = "summary"  # ReadSummary of a reader task
HANDOVER_KEY = "handover"  # Handover from read_logs to read_more
PROGRESS_KEY = "progress"  # SlotReport of a delivery task
ERROR_KEY = "error"  # why read_logs failed, as text
REPORT_KEY = "run_report"  # reporting.RunReport of the commit task, failed runs included (also its return value)
TEST_PAYLOAD_KEY = "test_payload"  # test_payload.TestPayloadResult of a send_test_payload run
RESUME_KEY = "acknowledged"  # task state store: a delivery task's SlotReport, for its retries


def unit_key(index: int) -> str:
    """The XCom key of unit `index` (pushed by the reader that cut it)."""
    return f"unit-{index}"


class Record:
    """A dataclass that crosses a task boundary."""

    def to_xcom(self) -> Any:
        return json.loads(json.dumps(asdict(self)))  # tuples as lists, dict keys as strings: as stored

    @classmethod
    def from_xcom(cls, value: Any) -> Any:
        """The record `value` holds (as `to_xcom` made it); None for None or an empty value."""
        if not value or not isinstance(value, Mapping):
            return None
        kinds = _field_types(cls)
        return cls(**{f.name: _decode(kinds[f.name], value[f.name]) for f in fields(cls) if f.name in value})


@cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(kind: Any, value: Any) -> Any:
    """`value` as the annotated `kind`: nested records rebuilt, in lists, tuples and dicts too."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        return _decode(next(arg for arg in args if arg is not type(None)), value)
    if isinstance(kind, type) and issubclass(kind, Record):
        return kind.from_xcom(value)
    if origin in (list, tuple):  # a unit's logs (list[dict]) are taken as they are: no walk per log
        return origin(value) if args[0] is dict else origin(_decode(args[0], item) for item in value)
    if origin is dict:
        return {args[0](key): _decode(args[1], item) for key, item in value.items()}
    return kind(value) if kind in (str, int, float) else value  # a log id written as a number stays an id


@dataclass(frozen=True)
class Checkpoint(Record):
    """A position in the tenant's log stream: a log id (what the API pages from) and that log's date."""

    log_id: str
    date: str | None = None


@dataclass(frozen=True)
class AcknowledgedSpan(Record):
    """Logs an earlier run had acknowledged past its gap: those after log `after`, up to and including
    log `through`, in checkpoint order. A span names its logs by id equality only (no id order)."""

    after: str
    through: str


MAX_ACKNOWLEDGED_SPANS = 500  # the record's bound: spans beyond it are dropped (their logs are sent again)


@dataclass
class Delivery(Record):
    """One request's logs and the checkpoint that is safe once the webhook acknowledged them.

    `skipped`: the spans (their `after`) of an earlier run's record this delivery's checkpoint passes over."""

    logs: list[dict]
    checkpoint: Checkpoint
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UnitSummary(Record):
    """What the commit needs of a unit: who published it, its size, its checkpoint once acknowledged."""

    index: int
    task_id: str
    label: str
    deliveries: int
    logs: int
    checkpoint: Checkpoint
    skipped: dict[str, int] = field(default_factory=dict)  # span (its `after`) -> the delivery passing over it


@dataclass
class Unit(Record):
    """Contiguous deliveries handed to one delivery task at a time; unit `index` is XCom `unit-<index>`.

    Its XCom value is one compact JSON text, which Airflow stores as it is (a list of dicts
    would be walked value by value), built without copying the logs."""

    index: int
    deliveries: list[Delivery]
    read_id: str | None = None  # the read that cut it: a retry never resumes another read's progress
    after: str | None = None  # read_units: the checkpoint the read started after (what the commit expects)

    @property
    def logs(self) -> int:
        return sum(len(delivery.logs) for delivery in self.deliveries)

    def summary(self, task_id: str) -> UnitSummary:
        ids = [entry["log_id"] for delivery in self.deliveries for entry in delivery.logs[:1] + delivery.logs[-1:]]
        label = f"{ids[0]}..{ids[-1]} ({self.logs} logs)" if ids else "no logs to send (all filtered out)"
        skipped = {span: position for position, delivery in enumerate(self.deliveries) for span in delivery.skipped}
        return UnitSummary(self.index, task_id, label, len(self.deliveries), self.logs, self.deliveries[-1].checkpoint,
                           skipped)

    def to_xcom(self) -> str:
        deliveries = [{"logs": d.logs, "checkpoint": asdict(d.checkpoint), **({"skipped": d.skipped} if d.skipped else {})}
                      for d in self.deliveries]
        value = {"index": self.index, "read_id": self.read_id, "after": self.after, "deliveries": deliveries}
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_xcom(cls, value: str | bytes | Mapping) -> Unit:
        return super().from_xcom(json.loads(value) if isinstance(value, (str, bytes)) else value)


@dataclass
class UnitProgress(Record):
    """How much of one unit the webhook acknowledged: its first `acked` deliveries, up to `checkpoint`."""

    acked: int
    deliveries: int
    logs_acked: int = 0
    checkpoint: Checkpoint | None = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        """The one rule: a unit is acknowledged when every one of its deliveries is (an error met
        after the last one, such as a pause, does not undo that)."""
        return self.acked >= self.deliveries

    @classmethod
    def of(cls, unit: Unit, acked: int, error: str | None = None) -> UnitProgress:
        """The progress of `unit` after its first `acked` deliveries were acknowledged."""
        done = unit.deliveries[:acked]
        return cls(acked, len(unit.deliveries), sum(len(d.logs) for d in done),
                   done[-1].checkpoint if done else None, error)

    def acknowledge(self, delivery: Delivery) -> None:
        self.acked += 1
        self.logs_acked += len(delivery.logs)
        self.checkpoint = delivery.checkpoint


@dataclass
class SlotReport(Record):
    """What a delivery task acknowledged, unit by unit, for the reads of one `read_id`."""

    read_id: str | None
    units: dict[int, UnitProgress] = field(default_factory=dict)
    error: str | None = None
    largest_unit_bytes: int = 0
    waited_for_reader_seconds: float = 0.0
    peak_rss_mb: float | None = None
    webhook_answers: int = 0  # requests the webhook answered, and their answer time in all (ms)
    webhook_answer_ms: float = 0.0


def acknowledged_units(reports: list[SlotReport | None], read_id: str | None) -> dict[int, UnitProgress]:
    """Every unit's progress from the delivery tasks' reports of this read (an older read's are ignored)."""
    merged: dict[int, UnitProgress] = {}
    for report in reports:
        if report is not None and report.read_id == read_id:
            merged.update(report.units)
    return merged


@dataclass(frozen=True)
class LiveRun(Record):
    """Internal: the units of a run of the shipped DAG, which delivery slots take while they are read.

    Units below `first_units` were published by `first_task` (finished); `more_task`, when set,
    publishes the rest while the slots run. Slot j of `slots` delivers units j, j + slots, ..."""

    read_id: str
    slots: int
    send_as_batch: bool
    first_task: str
    first_units: int
    more_task: str | None
    content_format: str = "json_array"  # the body of each request (settings.content_format)

    def to_xcom(self) -> dict:
        return {"live_run": asdict(self)}

    @classmethod
    def from_xcom(cls, value: Any) -> LiveRun | None:
        """The live run a mapped argument names, or None when it holds units instead."""
        return cls(**value["live_run"]) if isinstance(value, Mapping) and "live_run" in value else None


@dataclass(frozen=True)
class ReadJob(Record):
    """How a run reads: fixed by read_logs and handed to read_more, so that both halves cut alike."""

    batch_size: int
    send_as_batch: bool
    log_types: tuple[str, ...]
    log_level: int | None
    batches_per_unit: int
    slots: int
    max_logs: int | None
    deadline: float  # UNIX time at which reading stops (the run's time budget)
    dry_run: bool
    replay: bool  # a backfill, or a manual run's start_from or replay Params: leave the checkpoint alone
    read_id: str  # this read's identity: progress saved for another read is not this one's
    content_format: str = "json_array"  # the body of each request (settings.content_format)
    log_categories: tuple[str, ...] = ()  # with log_types and log_level: the filter (log_types.LogFilter)
    window_start: str | None = None  # a replay's window (read.Window): the logs dated in [start, end)
    window_end: str | None = None
    window_kind: str = ""  # "backfill" or "replay"


@dataclass
class Plan(Record):
    """What has been read and not yet cut into units, and where the checkpoint may go so far."""

    deliveries: list[Delivery] = field(default_factory=list)
    lead: Checkpoint | None = None  # passed over by filtered-out logs before the first delivery
    logs_read: int = 0
    logs_kept: int = 0
    last: Checkpoint | None = None  # the last log read
    logs_skipped: int = 0  # in spans an earlier run acknowledged (RunInfo.acknowledged): not sent again
    lead_skipped: list[str] = field(default_factory=list)  # spans passed over before the first delivery
    skipping: str | None = None  # the span being skipped (its `after`), when the read stopped inside it


@dataclass(frozen=True)
class RunInfo(Record):
    """What read_logs decided for the whole run, carried to the commit."""

    read_id: str
    stored_checkpoint: str | None  # the checkpoint Variable as read_logs found it
    start: Checkpoint | None  # where reading started (None: at a first log, included)
    start_from_applied: str | None  # the START_FROM value this run applies, if any
    gap: str | None  # logs lost to retention, described
    dry_run: bool
    replay: bool
    filter: str
    slack_send_success: bool
    window: str | None = None  # a replay's window, described (read.Window); the live checkpoint is left alone
    acknowledged: tuple[AcknowledgedSpan, ...] = ()  # an earlier run's record this run skips (PipelineState)


@dataclass(frozen=True)
class ReadSummary(Record):
    """What a reader task read and published so far (`final`: it has stopped)."""

    run: RunInfo
    units: tuple[UnitSummary, ...]
    next_unit: int
    lead: Checkpoint | None
    last: Checkpoint | None
    logs_read: int
    logs_kept: int
    caught_up: bool
    stopped_by: str
    final: bool
    more: bool = False  # read_logs only: read_more goes on
    slots: int = 0  # delivery slots mapped for this run
    error: str | None = None  # read_more only: why it stopped early
    auth0_requests: int | None = None
    largest_unit_bytes: int = 0
    peak_rss_mb: float | None = None
    sample: str | None = None  # a dry run's first logs, as the webhook would receive them
    auth0_429s: int = 0  # this reader's Auth0 client: 429 answers, pauses for the rate limit and their length
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    logs_skipped: int = 0  # the plan's (Plan.logs_skipped, lead_skipped, skipping): what the commit carries forward
    lead_skipped: tuple[str, ...] = ()
    skipping: str | None = None

    def then(self, more: ReadSummary) -> ReadSummary:
        """read_logs' summary followed by read_more's: the run's whole read."""
        return replace(more, units=self.units + more.units, slots=self.slots, more=True,
                       auth0_429s=self.auth0_429s + more.auth0_429s,
                       rate_limit_waits=self.rate_limit_waits + more.rate_limit_waits,
                       rate_limit_wait_seconds=self.rate_limit_wait_seconds + more.rate_limit_wait_seconds)


@dataclass(frozen=True)
class Handover(Record):
    """What read_more needs to go on where read_logs stopped."""

    job: ReadJob
    run: RunInfo
    plan: Plan
    next_unit: int


@dataclass(frozen=True)
class PipelineState:
    """The pipeline's bookkeeping beside the checkpoint Variable (Variable `auth0_webhooks_state`).

    `acknowledged`: logs past the checkpoint the webhook already acknowledged (a run that failed with a
    gap), valid only while the checkpoint is still `acknowledged_for` and the filter `acknowledged_filter`."""

    checkpoint: Checkpoint | None = None  # as the pipeline last wrote it, with its date
    start_from_applied: str | None = None  # the START_FROM value already applied
    written_by_run: str | None = None
    acknowledged: tuple[AcknowledgedSpan, ...] = ()
    acknowledged_for: str | None = None  # the checkpoint log id the record was written with (None: none yet)
    acknowledged_filter: str | None = None  # the filter it was written with (LogFilter.describe())

    def to_json(self) -> str:  # the Variable's format since the first release: flat, checkpoint as a log id
        value = {"start_from_applied": self.start_from_applied, "written_by_run": self.written_by_run,
                 "checkpoint": self.checkpoint and self.checkpoint.log_id,
                 "checkpoint_date": self.checkpoint and self.checkpoint.date}
        if self.acknowledged:  # keys added later, present only with a record
            value.update(acknowledged_spans=[[span.after, span.through] for span in self.acknowledged],
                         acknowledged_for=self.acknowledged_for, acknowledged_filter=self.acknowledged_filter)
        return json.dumps(value)

    @classmethod
    def from_json(cls, text: str | None) -> PipelineState:
        """The state as stored; an empty or unreadable Variable is a fresh state (an unreadable record: none)."""
        try:
            value = json.loads(text or "{}")
            checkpoint = value.get("checkpoint")
            state = cls(Checkpoint(str(checkpoint), value.get("checkpoint_date")) if checkpoint else None,
                        value.get("start_from_applied"), value.get("written_by_run"))
        except (ValueError, TypeError, AttributeError):
            return cls()
        try:
            spans = tuple(AcknowledgedSpan(str(after), str(through))
                          for after, through in value.get("acknowledged_spans") or ())[:MAX_ACKNOWLEDGED_SPANS]
        except (ValueError, TypeError):
            return state
        written_for, written_filter = value.get("acknowledged_for"), value.get("acknowledged_filter")
        if not spans or written_filter is None:
            return state
        return replace(state, acknowledged=spans, acknowledged_for=None if written_for is None else str(written_for),
                       acknowledged_filter=str(written_filter))

    def acknowledged_past(self, checkpoint: str | None, log_filter: str) -> tuple[AcknowledgedSpan, ...]:
        """The record, when it still holds for a read after `checkpoint` with `log_filter`: written with
        that very checkpoint (a hand edit or a START_FROM discards it) and filter; else none."""
        if checkpoint != self.acknowledged_for or log_filter != self.acknowledged_filter:
            return ()
        return self.acknowledged

    def date_of(self, log_id: str | None) -> str | None:
        """The recorded date of checkpoint `log_id`, when this state wrote it."""
        return self.checkpoint.date if self.checkpoint and self.checkpoint.log_id == log_id else None
