"""Step 3 of a run, commit: move the checkpoint over what the webhook acknowledged, report the run.

The checkpoint moves over every unit acknowledged in full, then over the acknowledged deliveries of
the first unit that is not, and stops there: never past a log the webhook has not acknowledged. The
write is a compare-and-set. What the webhook acknowledged past that gap is recorded beside it
(`acknowledged_record`, in PipelineState), so that the next run does not send it again.
`commit_step` is the shipped DAG's task; `CheckpointStore.advance` is the same rule for a DAG of
your own (without the record).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

from airflow.sdk import Context

from auth0_webhooks.names import CHECKPOINT_VARIABLE, DELIVER_TASK_ID, MORE_TASK_ID, READ_TASK_ID
from auth0_webhooks.pipelines import Pipeline, current_pipeline
from auth0_webhooks.protocol import ERROR_KEY, MAX_ACKNOWLEDGED_SPANS, PROGRESS_KEY, REPORT_KEY, SUMMARY_KEY, \
    TEST_PAYLOAD_KEY, AcknowledgedSpan, Checkpoint, PipelineState, ReadSummary, SlotReport, Unit, UnitProgress, \
    UnitSummary, acknowledged_units
from auth0_webhooks.notifications import publish_run
from auth0_webhooks.reporting import RunReport, lag_seconds, run_kind
from auth0_webhooks.scheduling import announce_backlog
from auth0_webhooks.settings import Settings, SettingsError
from auth0_webhooks.test_payload import TestPayloadResult
from auth0_webhooks import runtime

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(days=7)


class RunFailed(Exception):
    """The run did not deliver everything it read; the message says what and why."""


class CheckpointConflict(Exception):
    """The checkpoint changed during the run (edited by hand, or another writer)."""


# ---- the rule ----


@dataclass(frozen=True)
class Acknowledged:
    """Where the acknowledged prefix ends, and what it holds."""

    checkpoint: Checkpoint | None
    logs_delivered: int
    logs_acknowledged_after_gap: int
    first_incomplete_unit: int | None  # position in the units; None: all acknowledged

    @property
    def complete(self) -> bool:
        return self.first_incomplete_unit is None


def acknowledged_prefix(lead: Checkpoint | None, units: Sequence[UnitSummary],
                        progress: dict[int, UnitProgress]) -> Acknowledged:
    """Fold the units read (in order) and their delivery progress (by unit index) into the new checkpoint.

    `lead`: the position of logs the filter dropped before the first unit (None: none)."""
    checkpoint, delivered = lead, 0
    for position, unit in enumerate(units):
        done = progress.get(unit.index)
        if done is not None and done.acknowledged:
            checkpoint, delivered = unit.checkpoint, delivered + unit.logs
            continue
        if done is not None and done.acked > 0:
            checkpoint, delivered = done.checkpoint, delivered + done.logs_acked
        beyond = sum(progress[u.index].logs_acked for u in units[position + 1:] if u.index in progress)
        return Acknowledged(checkpoint, delivered, beyond, position)
    return Acknowledged(checkpoint, delivered, 0, None)


@dataclass(frozen=True)
class Recorded:
    """The acknowledgment record a commit writes: its spans, and how many of this run's logs they hold."""

    spans: tuple[AcknowledgedSpan, ...]
    logs: int  # logs this run acknowledged past its gap that the record keeps (not sent again)


def acknowledged_record(summary: ReadSummary, progress: dict[int, UnitProgress], ack: Acknowledged,
                        limit: int = MAX_ACKNOWLEDGED_SPANS) -> Recorded:
    """What the webhook acknowledged past the new checkpoint `ack`, as spans of log ids, in read order.

    Units are contiguous and a slot acknowledges a unit's deliveries in order, so each unit after the
    first incomplete one that has acknowledged deliveries gives the span from the previous unit's
    checkpoint through its own acknowledged part. The earlier record the read skipped
    (`summary.run.acknowledged`) is carried forward, but for the spans passed over by an acknowledged
    delivery or the lead (the checkpoint passed them, or a new span holds them), and for those the
    read should have met but did not (it caught up: they are behind). Touching spans merge; beyond
    `limit` spans the last ones are dropped (their logs would be sent again, never lost)."""
    old = {span.after: span for span in summary.run.acknowledged}
    met = set(summary.lead_skipped)
    spans: list[list] = []  # [after, through, logs of this run]
    units = summary.units
    for position, unit in enumerate(units):
        done = progress.get(unit.index)
        acked = done.acked if done is not None else 0
        met.update(unit.skipped)
        if ack.first_incomplete_unit is not None and position > ack.first_incomplete_unit and acked > 0:
            spans.append([units[position - 1].checkpoint.log_id, done.checkpoint.log_id, done.logs_acked])
        spans += [[old[key].after, old[key].through, 0] for key, delivery in sorted(
            unit.skipped.items(), key=lambda item: item[1]) if delivery >= acked and key in old]
    if summary.skipping in old and summary.last is not None:  # the read stopped inside it
        met.add(summary.skipping)
        last, through = summary.last.log_id, old[summary.skipping].through
        if units and units[-1].checkpoint.log_id == last:  # the last delivery passed over part of it
            done = progress.get(units[-1].index)
            carried = done is not None and done.acknowledged
        else:
            carried = not units and summary.lead is not None and summary.lead.log_id == last
        # once acknowledged, the part passed over is behind the checkpoint or inside a new span: the rest
        spans.append([last if carried else summary.skipping, through, 0])
    if not summary.caught_up:
        spans += [[span.after, span.through, 0] for key, span in old.items() if key not in met]
    merged: list[list] = []
    for span in spans:
        if merged and merged[-1][1] == span[0]:
            merged[-1][1], merged[-1][2] = span[1], merged[-1][2] + span[2]
        else:
            merged.append(span)
    kept = merged[:limit]
    return Recorded(tuple(AcknowledgedSpan(after, through) for after, through, _ in kept),
                    sum(logs for _, _, logs in kept))


# ---- the checkpoint Variable ----


class CheckpointStore:
    """A checkpoint Variable: the `log_id` of the last log the webhook acknowledged (editable by hand).

    `get` / `set_` default to Airflow's Variable (through the Task SDK: inside a task)."""

    def __init__(self, key: str = CHECKPOINT_VARIABLE, get: Callable[[str], str | None] | None = None,
                 set_: Callable[[str, str], None] | None = None) -> None:
        self.key = key
        self._get = get or (lambda name: runtime.variable_get(name))
        self._set = set_ or (lambda name, value: runtime.variable_set(name, value))

    def read(self) -> str | None:
        value = self._get(self.key)
        value = value.strip() if isinstance(value, str) else value
        return value or None

    def compare_and_set(self, expected: str | None, new: str) -> bool:
        """Write `new` if the stored value is still `expected`; raise CheckpointConflict otherwise.

        Returns False when there was nothing to change. The Variable API has no atomic
        compare-and-set: the window between the read and the write is a few milliseconds, and
        only one run of a pipeline is active at a time (max_active_runs=1).
        """
        current = self.read()
        if current != expected:
            raise CheckpointConflict(
                f"Variable {self.key!r} changed during this run, from {expected!r} to {current!r} "
                f"(edited by hand?). It was left as it is now; this run's acknowledged position "
                f"was {new!r}. Check the value and trigger the DAG again."
            )
        if current == new:
            return False
        self._set(self.key, new)
        return True

    def advance(self, units: Sequence[Any], *, delivered_by: str = "deliver",
                reports: Sequence[Any] | None = None) -> Acknowledged:
        """For a DAG of your own: move the checkpoint over what the LogsToWebhookOperator task
        `delivered_by` acknowledged of `units` (read_units' XCom values), by compare-and-set from
        where the read started. Call it in a task downstream of the delivery (trigger rule all_done):
        it reads the delivery tasks' progress, failed ones included (`reports` overrides that).
        Raises RunFailed, after moving the checkpoint over the acknowledged prefix, when a unit was
        not delivered: the next run sends the rest."""
        read = [Unit.from_xcom(unit) for unit in units]
        if not read:
            return acknowledged_prefix(None, [], {})
        if reports is None:
            from airflow.sdk import get_current_context

            reports = runtime.as_list(get_current_context()["ti"].xcom_pull(task_ids=delivered_by, key=PROGRESS_KEY))
        progress = acknowledged_units([SlotReport.from_xcom(report) for report in reports], read[0].read_id)
        ack = acknowledged_prefix(None, [unit.summary(delivered_by) for unit in read], progress)
        if ack.checkpoint:
            self.compare_and_set(read[0].after, ack.checkpoint.log_id)
        if not ack.complete:
            raise RunFailed(f"unit {ack.first_incomplete_unit} of {len(read)} was not fully delivered; the "
                            f"checkpoint stops before its first unacknowledged log ({ack.logs_delivered} logs "
                            "delivered). The next run sends the rest.")
        return ack


# ---- the shipped DAG's commit task ----


def commit_step(context: Context, now: datetime | None = None) -> dict:
    """Advance the checkpoint over the acknowledged prefix, report the run, fail it if anything is left."""
    ti, dag_run = context["ti"], context.get("dag_run")
    pipeline = current_pipeline(ti.dag_id)
    report = RunReport(dag_id=getattr(dag_run, "dag_id", ti.dag_id), run_id=getattr(dag_run, "run_id", ti.run_id),
                       start=(getattr(dag_run, "start_date", None) or now or datetime.now(timezone.utc)).isoformat(),
                       end="", pipeline=pipeline.name, run_kind=run_kind(getattr(dag_run, "run_type", None)))
    summary = None
    try:
        if (tested := TestPayloadResult.from_xcom(ti.xcom_pull(task_ids=READ_TASK_ID, key=TEST_PAYLOAD_KEY))):
            report.run_kind = "test payload"
            if not tested.delivered:
                raise RunFailed(tested.describe())
            report.warnings.append(tested.describe())
        else:
            summary, reader_error = run_summary(ti)
            _commit(ti, summary, report, pipeline)
            if reader_error:
                raise RunFailed(f"reading stopped early: {reader_error}. The checkpoint moved over what was "
                                "delivered; the next run goes on from there.")
            if _backlog_remains(context, summary):
                announce_backlog(context, ti.dag_id)
    except (RunFailed, CheckpointConflict) as error:
        report.error = str(error)
    report.end = (now or datetime.now(timezone.utc)).isoformat()
    for line in report.lines():
        log.info("%s", line)
    settings = _settings_or_defaults(pipeline)
    publish_run(context, report, slack_conn_id=pipeline.slack_conn_id,
                send_success=settings.slack_send_success or bool(report.gaps),
                lag_alert_seconds=settings.lag_alert_seconds, digest_hour_utc=settings.digest_hour_utc)
    ti.xcom_push(key=REPORT_KEY, value=report.to_dict())  # a failed run's too (the run history page shows it)
    if report.failed:
        raise RunFailed(report.error)  # undelivered units stay in XCom, for a retry from the UI
    return report.to_dict()


def _settings_or_defaults(pipeline: Pipeline) -> Settings:
    """The settings for the report's messages; a setting broken since the read must not hide the report."""
    try:
        return pipeline.settings()
    except SettingsError:
        return Settings()


def _backlog_remains(context: Context, summary: ReadSummary) -> bool:
    """A live run that read for its whole budget (or max_logs_per_run): the next run starts at once."""
    run = summary.run
    asked_for_less = bool((context.get("params") or {}).get("max_logs"))  # a manual run's cap: no follow-up
    return not (summary.caught_up or run.dry_run or run.replay or asked_for_less)


def run_summary(ti: Any) -> tuple[ReadSummary, str | None]:
    """What both readers read, as one summary, and why reading stopped early (None: it did not)."""
    first = ReadSummary.from_xcom(ti.xcom_pull(task_ids=READ_TASK_ID, key=SUMMARY_KEY))
    if first is None:
        error = ti.xcom_pull(task_ids=READ_TASK_ID, key=ERROR_KEY)
        raise RunFailed(f"reading logs failed: {error or 'the read task did not run (see its log)'}")
    if not first.more:
        return first, None
    more = ReadSummary.from_xcom(ti.xcom_pull(task_ids=MORE_TASK_ID, key=SUMMARY_KEY, map_indexes=0))
    if more is None:
        return first, f"{MORE_TASK_ID} did not report (killed before its first summary?)"
    stopped = more.error or (None if more.final else f"{MORE_TASK_ID} was stopped while reading")
    return first.then(more), stopped


def slot_reports(ti: Any, slots: int) -> list[SlotReport | None]:
    """The delivery slots' reports (None for a slot that never reported)."""
    if not slots:
        return []
    pulled = ti.xcom_pull(task_ids=DELIVER_TASK_ID, key=PROGRESS_KEY, map_indexes=list(range(slots)))
    return [SlotReport.from_xcom(value) for value in runtime.as_list(pulled)]


def _commit(ti: Any, summary: ReadSummary, report: RunReport, pipeline: Pipeline = Pipeline()) -> None:
    reports = slot_reports(ti, summary.slots)
    progress = acknowledged_units(reports, summary.run.read_id)
    ack = acknowledged_prefix(summary.lead, summary.units, progress)
    run, stored = summary.run, summary.run.stored_checkpoint
    report.logs_read, report.logs_delivered = summary.logs_read, ack.logs_delivered
    report.logs_filtered_out = summary.logs_read - summary.logs_kept - summary.logs_skipped
    report.logs_failed = 0 if run.dry_run else max(0, summary.logs_kept - ack.logs_delivered)
    report.checkpoint_before = report.checkpoint_after = stored
    report.caught_up, report.dry_run = summary.caught_up and ack.complete, run.dry_run
    report.run_kind = run_kind(report.run_kind, dry_run=run.dry_run, replay=run.replay)
    report.gaps = [run.gap] if run.gap else []
    report.auth0_429s, report.rate_limit_waits = summary.auth0_429s, summary.rate_limit_waits
    report.rate_limit_wait_seconds, report.sample = summary.rate_limit_wait_seconds, summary.sample
    answered = [r for r in reports if r is not None and r.read_id == run.read_id and r.webhook_answers]
    if answered:
        report.webhook_latency_ms = round(sum(r.webhook_answer_ms for r in answered)
                                          / sum(r.webhook_answers for r in answered), 1)
    if not (run.dry_run or run.replay):  # the age of the newest acknowledged log (the checkpoint's: nothing new)
        report.lag_seconds = lag_seconds((ack.checkpoint or run.start or Checkpoint("")).date)
    new = ack.checkpoint or run.start
    recorded = Recorded((), 0)
    if summary.logs_skipped:
        report.warnings.append(f"{summary.logs_skipped} logs the webhook acknowledged in an earlier run were "
                               "passed over, not sent again")
    if run.dry_run:
        report.warnings.append(f"dry run: {summary.logs_kept} logs would have been sent; nothing was sent or moved")
    elif run.replay:
        what = run.window or "replay from the start_from Param"
        report.warnings.append(f"{what}: {ack.logs_delivered} logs sent; the live checkpoint is left as it is")
    elif new or not ack.complete:
        run_id = str(getattr(ti, "run_id", ""))
        state = PipelineState.from_json(runtime.variable_get(pipeline.state_variable))  # read once per commit
        recorded = acknowledged_record(summary, progress, ack)  # written with the checkpoint it holds for
        if new:
            # As read, or as this same run's earlier commit left it (a UI clear of failed deliveries runs it again).
            expected = state.checkpoint.log_id if run_id and state.written_by_run == run_id and state.checkpoint \
                else stored
            CheckpointStore(pipeline.checkpoint_variable).compare_and_set(expected, new.log_id)
            report.checkpoint_after = new.log_id
            runtime.variable_set(pipeline.state_variable, PipelineState(
                new, run.start_from_applied or state.start_from_applied, run_id,
                recorded.spans, new.log_id, run.filter).to_json())
        elif recorded.spans and not run.start_from_applied:  # no checkpoint yet: the record holds while none is set
            runtime.variable_set(pipeline.state_variable, replace(
                state, written_by_run=run_id, acknowledged=recorded.spans, acknowledged_for=None,
                acknowledged_filter=run.filter).to_json())
        else:
            recorded = Recorded((), 0)
    if not run.replay:
        _warn_if_stale(summary.last, report)
    if not ack.complete:
        unit = summary.units[ack.first_incomplete_unit]
        failed = progress.get(unit.index)
        errors = [r.error for r in reports if r is not None and r.read_id == run.read_id and r.error]
        reason = (failed and failed.error) or (
            f"its delivery slot stopped earlier: {errors[0]}" if errors
            else "its delivery slot did not report (killed, or not run)")
        resend = _after_the_gap(ack.logs_acknowledged_after_gap, recorded.logs)
        raise RunFailed(f"unit {unit.label} was not fully delivered: {reason}. "
                        f"The checkpoint stops before the first unacknowledged log{resend}.")
    if run.window and not summary.caught_up and summary.stopped_by != "max_logs":
        raise RunFailed(f"the {run.window} stopped before the window's end ({summary.stopped_by}) after "
                        f"{ack.logs_delivered} logs: clear this run to replay the window again (receivers "
                        "drop what they already have by webhook-id), or backfill smaller intervals")


def _after_the_gap(acknowledged: int, recorded: int) -> str:
    """What becomes of the logs acknowledged past the first unacknowledged one."""
    parts = [f"{recorded} logs acknowledged after it are recorded and will not be sent again"] if recorded else []
    if acknowledged > recorded:
        parts.append(f"{acknowledged - recorded} logs acknowledged after it will be sent again")
    return "".join(f"; {part}" for part in parts)


def _warn_if_stale(last: Checkpoint | None, report: RunReport) -> None:
    try:
        age = datetime.now(timezone.utc) - datetime.fromisoformat((last.date or "").replace("Z", "+00:00"))
    except (AttributeError, ValueError, TypeError):
        return
    if age > STALE_AFTER:
        report.warnings.append(f"falling behind: the newest log processed is {age.days} days old")
