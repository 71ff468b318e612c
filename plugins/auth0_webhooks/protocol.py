"""The records that cross task boundaries, their keys, and the rules they carry.

Everything one task hands to another (through XCom, the task state store or the pipeline's
state Variable) is a record below, with `to_xcom()` (JSON-able) and `from_xcom()`. No other
module indexes these records by string, and "a unit is acknowledged" is decided here only.

    read_logs ─ Unit (XCom unit-<i>), LiveRun (return value) ─► deliver slot ─ SlotReport (progress) ─► commit
       │  ReadSummary (summary)  ─────────────────────────────────────────────────────────────────► commit
       └─ Handover (handover) ─► read_more ─ Unit, ReadSummary ─► deliver slot, commit
    deliver slot ─ SlotReport (task state store) ─► the same slot's retries
    commit ─ Checkpoint.log_id ─► Variable auth0_webhooks_checkpoint;  PipelineState ─► auth0_webhooks_state

A `Checkpoint` is the one shape of a position in the log stream, from the read to the commit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping

# XCom keys (besides Airflow's return_value) and the task state store's key.
SUMMARY_KEY = "summary"  # ReadSummary of a reader task
HANDOVER_KEY = "handover"  # Handover from read_logs to read_more
PROGRESS_KEY = "progress"  # SlotReport of a delivery task
ERROR_KEY = "error"  # why read_logs failed, as text
RESUME_KEY = "acknowledged"  # task state store: a delivery task's SlotReport, for its retries


def unit_key(index: int) -> str:
    """The XCom key of unit `index` (pushed by the reader that cut it)."""
    return f"unit-{index}"


@dataclass(frozen=True)
class Checkpoint:
    """A position in the tenant's log stream: a log id (what the API pages from) and that log's date."""

    log_id: str
    date: str | None = None

    def to_xcom(self) -> dict:
        return {"log_id": self.log_id, "date": self.date}

    @classmethod
    def from_xcom(cls, value: Mapping | None) -> Checkpoint | None:
        return cls(str(value["log_id"]), value.get("date")) if value else None


@dataclass
class Delivery:
    """One request's logs and the checkpoint that is safe once the webhook acknowledged them."""

    logs: list[dict]
    checkpoint: Checkpoint

    def to_xcom(self) -> dict:
        return {"logs": self.logs, "checkpoint": self.checkpoint.to_xcom()}

    @classmethod
    def from_xcom(cls, value: Mapping) -> Delivery:
        return cls(list(value["logs"]), Checkpoint.from_xcom(value["checkpoint"]))


@dataclass(frozen=True)
class UnitSummary:
    """What the commit needs of a unit: who published it, its size, its checkpoint once acknowledged."""

    index: int
    task_id: str
    label: str
    deliveries: int
    logs: int
    checkpoint: Checkpoint

    def to_xcom(self) -> dict:
        return asdict(self) | {"checkpoint": self.checkpoint.to_xcom()}

    @classmethod
    def from_xcom(cls, value: Mapping) -> UnitSummary:
        return cls(**(dict(value) | {"checkpoint": Checkpoint.from_xcom(value["checkpoint"])}))


@dataclass
class Unit:
    """Contiguous deliveries handed to one delivery task at a time; unit `index` is XCom `unit-<index>`.

    Its XCom value is one compact JSON text, which Airflow stores as it is (a list of dicts
    would be walked value by value)."""

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
        return UnitSummary(self.index, task_id, label, len(self.deliveries), self.logs, self.deliveries[-1].checkpoint)

    def to_xcom(self) -> str:
        value = {"index": self.index, "read_id": self.read_id, "after": self.after,
                 "deliveries": [delivery.to_xcom() for delivery in self.deliveries]}
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_xcom(cls, value: str | bytes | Mapping) -> Unit:
        value = json.loads(value) if isinstance(value, (str, bytes)) else value
        return cls(int(value["index"]), [Delivery.from_xcom(d) for d in value["deliveries"]], value.get("read_id"),
                   value.get("after"))


@dataclass
class UnitProgress:
    """How much of one unit the webhook acknowledged: its first `acked` deliveries, up to `checkpoint`."""

    acked: int
    deliveries: int
    logs_acked: int = 0
    checkpoint: Checkpoint | None = None
    error: str | None = None

    @property
    def acknowledged(self) -> bool:
        """The one rule: a unit is acknowledged when every delivery is, and nothing failed."""
        return self.acked >= self.deliveries and not self.error

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

    def to_xcom(self) -> dict:
        return asdict(self) | {"checkpoint": self.checkpoint.to_xcom() if self.checkpoint else None}

    @classmethod
    def from_xcom(cls, value: Mapping) -> UnitProgress:
        return cls(**(dict(value) | {"checkpoint": Checkpoint.from_xcom(value.get("checkpoint"))}))


@dataclass
class SlotReport:
    """What a delivery task acknowledged, unit by unit, for the reads of one `read_id`."""

    read_id: str | None
    units: dict[int, UnitProgress] = field(default_factory=dict)
    error: str | None = None
    largest_unit_bytes: int = 0
    waited_for_reader_seconds: float = 0.0
    peak_rss_mb: float | None = None

    def to_xcom(self) -> dict:
        return asdict(self) | {"units": {str(i): unit.to_xcom() for i, unit in self.units.items()}}

    @classmethod
    def from_xcom(cls, value: Mapping | None) -> SlotReport | None:
        if not isinstance(value, Mapping):
            return None
        units = {int(i): UnitProgress.from_xcom(unit) for i, unit in (value.get("units") or {}).items()}
        return cls(**(dict(value) | {"units": units}))


def acknowledged_units(reports: list[SlotReport | None], read_id: str | None) -> dict[int, UnitProgress]:
    """Every unit's progress from the delivery tasks' reports of this read (an older read's are ignored)."""
    merged: dict[int, UnitProgress] = {}
    for report in reports:
        if report is not None and report.read_id == read_id:
            merged.update(report.units)
    return merged


@dataclass(frozen=True)
class LiveRun:
    """Internal: the units of a run of the shipped DAG, which delivery slots take while they are read.

    Units below `first_units` were published by `first_task` (finished); `more_task`, when set,
    publishes the rest while the slots run. Slot j of `slots` delivers units j, j + slots, ..."""

    read_id: str
    slots: int
    send_as_batch: bool
    first_task: str
    first_units: int
    more_task: str | None

    def to_xcom(self) -> dict:
        return {"live_run": asdict(self)}

    @classmethod
    def from_xcom(cls, value: Any) -> LiveRun | None:
        """The live run a mapped argument names, or None when it holds units instead."""
        return cls(**value["live_run"]) if isinstance(value, Mapping) and "live_run" in value else None


@dataclass(frozen=True)
class ReadJob:
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
    replay: bool  # a manual run's start_from Param: deliver, but leave the checkpoint alone
    read_id: str  # this read's identity: progress saved for another read is not this one's

    def to_xcom(self) -> dict:
        return asdict(self) | {"log_types": list(self.log_types)}

    @classmethod
    def from_xcom(cls, value: Mapping) -> ReadJob:
        return cls(**(dict(value) | {"log_types": tuple(value["log_types"])}))


@dataclass
class Plan:
    """What has been read and not yet cut into units, and where the checkpoint may go so far."""

    deliveries: list[Delivery] = field(default_factory=list)
    lead: Checkpoint | None = None  # passed over by filtered-out logs before the first delivery
    logs_read: int = 0
    logs_kept: int = 0
    last: Checkpoint | None = None  # the last log read

    def to_xcom(self) -> dict:
        return {"deliveries": [d.to_xcom() for d in self.deliveries], "logs_read": self.logs_read,
                "logs_kept": self.logs_kept, "lead": _xcom(self.lead), "last": _xcom(self.last)}

    @classmethod
    def from_xcom(cls, value: Mapping) -> Plan:
        return cls([Delivery.from_xcom(d) for d in value["deliveries"]], Checkpoint.from_xcom(value["lead"]),
                   int(value["logs_read"]), int(value["logs_kept"]), Checkpoint.from_xcom(value["last"]))


@dataclass(frozen=True)
class RunInfo:
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

    def to_xcom(self) -> dict:
        return asdict(self) | {"start": _xcom(self.start)}

    @classmethod
    def from_xcom(cls, value: Mapping) -> RunInfo:
        return cls(**(dict(value) | {"start": Checkpoint.from_xcom(value["start"])}))


@dataclass(frozen=True)
class ReadSummary:
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

    def to_xcom(self) -> dict:
        return asdict(self) | {"run": self.run.to_xcom(), "units": [u.to_xcom() for u in self.units],
                               "lead": _xcom(self.lead), "last": _xcom(self.last)}

    @classmethod
    def from_xcom(cls, value: Mapping | None) -> ReadSummary | None:
        if not isinstance(value, Mapping):
            return None
        return cls(**(dict(value) | {
            "run": RunInfo.from_xcom(value["run"]), "units": tuple(UnitSummary.from_xcom(u) for u in value["units"]),
            "lead": Checkpoint.from_xcom(value["lead"]), "last": Checkpoint.from_xcom(value["last"])}))

    def then(self, more: ReadSummary) -> ReadSummary:
        """read_logs' summary followed by read_more's: the run's whole read."""
        return replace(more, units=self.units + more.units, slots=self.slots, more=True)


@dataclass(frozen=True)
class Handover:
    """What read_more needs to go on where read_logs stopped."""

    job: ReadJob
    run: RunInfo
    plan: Plan
    next_unit: int

    def to_xcom(self) -> dict:
        return {"job": self.job.to_xcom(), "run": self.run.to_xcom(), "plan": self.plan.to_xcom(),
                "next_unit": self.next_unit}

    @classmethod
    def from_xcom(cls, value: Mapping) -> Handover:
        return cls(ReadJob.from_xcom(value["job"]), RunInfo.from_xcom(value["run"]), Plan.from_xcom(value["plan"]),
                   int(value["next_unit"]))


@dataclass(frozen=True)
class PipelineState:
    """The pipeline's bookkeeping beside the checkpoint Variable (Variable `auth0_webhooks_state`)."""

    checkpoint: Checkpoint | None = None  # as the pipeline last wrote it, with its date
    start_from_applied: str | None = None  # the START_FROM value already applied
    written_by_run: str | None = None

    def to_json(self) -> str:  # the Variable's format since the first release: flat, checkpoint as a log id
        return json.dumps({"start_from_applied": self.start_from_applied, "written_by_run": self.written_by_run,
                           "checkpoint": self.checkpoint and self.checkpoint.log_id,
                           "checkpoint_date": self.checkpoint and self.checkpoint.date})

    @classmethod
    def from_json(cls, text: str | None) -> PipelineState:
        """The state as stored; an empty or unreadable Variable is a fresh state."""
        try:
            value = json.loads(text or "{}")
            checkpoint = value.get("checkpoint")
            return cls(Checkpoint(str(checkpoint), value.get("checkpoint_date")) if checkpoint else None,
                       value.get("start_from_applied"), value.get("written_by_run"))
        except (ValueError, TypeError, AttributeError):
            return cls()

    def date_of(self, log_id: str | None) -> str | None:
        """The recorded date of checkpoint `log_id`, when this state wrote it."""
        return self.checkpoint.date if self.checkpoint and self.checkpoint.log_id == log_id else None


def _xcom(checkpoint: Checkpoint | None) -> dict | None:
    return checkpoint.to_xcom() if checkpoint else None
