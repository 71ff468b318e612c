"""The read and commit steps of the DAG: Airflow glue around the pure modules.

read_logs -> settings, start point, the first seconds of reading (units pushed to XCom as they are
             cut); returns [run] when there is anything to deliver, [] otherwise
read_more -> mapped over that list: when a backlog remains, goes on reading within the run's time
             budget while the slots deliver, holding back when they lag
deliver   -> LogsToWebhookOperator, mapped over slots x that list (one slot per concurrent call)
commit    -> acknowledged prefix, checkpoint compare-and-set, run report, Slack, run status

A run that finds nothing new runs read_logs and commit only: nothing is mapped.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from auth0_webhooks.auth0_client import MAX_TAKE, Auth0AuthError
from auth0_webhooks.checkpoint import CheckpointConflict, CheckpointStore, acknowledged_prefix
from auth0_webhooks.log_types import LogFilter
from auth0_webhooks.names import (
    CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID, DELIVER_TASK_ID, ERROR_KEY, MORE_TASK_ID, READ_TASK_ID,
    SLACK_CONN_ID, STATE_VARIABLE, SUMMARY_KEY,
)
from auth0_webhooks.planning import Planner, split_into_units
from auth0_webhooks.progress import PROGRESS_KEY, peak_rss_mb
from auth0_webhooks.reading import ReadResult, StartPoint, read_logs, resolve_start
from auth0_webhooks.reporting import RunReport, send_to_slack, should_notify
from auth0_webhooks.settings import Settings, SettingsError, StartFrom, parse_settings, parse_start_from
from auth0_webhooks import variables
from auth0_webhooks.units import ReadingStopped, SlotsView, UnitPublisher, slots_view
from auth0_webhooks.variables import DeliveryPaused, raise_if_paused
from auth0_webhooks.xcom_cleanup import delete_xcom

log = logging.getLogger(__name__)

__all__ = ["READ_TASK_ID", "MORE_TASK_ID", "DELIVER_TASK_ID", "read_step", "read_more_step", "commit_step"]

HANDOVER_KEY = "handover"

FIRST_READ_SECONDS = 2.0  # read_logs reads this long, then hands over, so that the slots start early
BACKLOG_UNITS_PER_SLOT = 4  # read_more holds back while more units than this per slot await delivery
SUMMARY_EVERY_SECONDS = 1.0  # read_more's running summary: what the commit knows if it is killed
STALE_AFTER = timedelta(days=7)


class RunFailed(Exception):
    """The run did not deliver everything it read; the message says what and why."""


def load_settings() -> Settings:
    """Settings from the config Variable (raises SettingsError naming each wrong key)."""
    return parse_settings(variables.variable_get(CONFIG_VARIABLE))


def load_state() -> dict:
    """The pipeline's own bookkeeping (which START_FROM was applied, the checkpoint's date)."""
    try:
        state = json.loads(variables.variable_get(STATE_VARIABLE) or "{}")
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def checkpoint_store() -> CheckpointStore:
    return CheckpointStore(CHECKPOINT_VARIABLE, variables.variable_get, variables.variable_set)


# ---- read ----


def run_params(context: Any) -> dict:
    """Manual-trigger Params (dry_run, max_logs, start_from), validated."""
    params = dict(context.get("params") or {})
    start = params.get("start_from")
    try:
        start_from = parse_start_from(start) if start else None
    except ValueError as error:
        raise SettingsError([f"Param start_from={json.dumps(start)} is not allowed: expected {error}"]) from None
    max_logs = params.get("max_logs")
    return {"dry_run": bool(params.get("dry_run")), "max_logs": int(max_logs) if max_logs else None,
            "start_from": start_from}


@dataclass
class ReadJob:
    """How this run reads: fixed by read_logs and handed to read_more, so both halves cut alike."""

    batch_size: int
    send_as_batch: bool
    log_types: list[str]
    log_level: int | None
    batches_per_unit: int
    slots: int
    max_logs: int | None
    deadline: float  # UNIX time at which reading stops (the run's time budget)
    dry_run: bool
    replay: bool = False  # a manual run's start_from Param: deliver, but leave the checkpoint alone
    read_id: str = ""  # this read's identity: slots' saved progress of another read is not theirs

    @classmethod
    def from_settings(cls, settings: Settings, params: dict, now: float, slots: int | None = None) -> "ReadJob":
        """`slots`: how many delivery slots the DAG maps (else `webhook_concurrent_calls` as read now)."""
        return cls(
            settings.batch_size, settings.send_as_batch, list(settings.log_types), settings.log_level,
            settings.batches_per_task, slots or settings.webhook_concurrent_calls,
            params["max_logs"] or settings.max_logs_per_run, now + settings.run_budget_seconds, params["dry_run"],
            replay=params["start_from"] is not None, read_id=uuid.uuid4().hex,
        )

    def monotonic_deadline(self) -> float:
        """`deadline` on this process's monotonic clock (what waits and reads compare against)."""
        return time.monotonic() + max(0.0, self.deadline - time.time())

    @property
    def log_filter(self) -> LogFilter:
        return LogFilter(tuple(self.log_types), self.log_level)

    @property
    def deliveries_per_unit(self) -> int:
        """About batch_size * batches_per_unit logs a unit, in either mode."""
        return self.batches_per_unit * (1 if self.send_as_batch else self.batch_size)

    def planner(self) -> Planner:
        return Planner(self.log_filter.keeps, self.batch_size, self.send_as_batch, self.deliveries_per_unit)

    def final_units(self, planner: Planner) -> list:
        """The rest of the plan, split so that every slot has work when the run is small."""
        units = split_into_units(planner.plan.deliveries, logs_per_unit=self.batch_size * self.batches_per_unit,
                                 min_units=self.slots)
        planner.plan.deliveries = []
        return units

    def run_descriptor(self, first_units: int, more: bool) -> list[dict]:
        """What the mapped tasks are told (one item, or none when there is nothing to deliver or read)."""
        if self.dry_run or not (more or first_units):
            return []
        return [{"first_task": READ_TASK_ID, "first_units": first_units, "more": more,
                 "more_task": MORE_TASK_ID if more else None,
                 "send_as_batch": self.send_as_batch, "read_id": self.read_id}]


def read_step(context: Any, slots: int | None = None, client: Any | None = None) -> list[dict]:
    """Read the first seconds' worth of new logs; return [run] when anything is to be delivered, else [].

    `slots`: how many delivery slots the DAG maps (its parse-time `webhook_concurrent_calls`)."""
    ti = context["ti"]
    try:
        return _read_first(context, ti, slots, client)
    except Exception as error:
        ti.xcom_push(key=ERROR_KEY, value=f"{type(error).__name__}: {error}")
        if isinstance(error, (SettingsError, Auth0AuthError, DeliveryPaused)):  # retrying cannot help: fail now
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(error)) from None
        raise


def _read_first(context: Any, ti: Any, slots: int | None, client: Any | None) -> list[dict]:
    raise_if_paused()
    settings = load_settings()
    params = run_params(context)
    client = client or _auth0_client()
    state = load_state()
    stored = checkpoint_store().read()
    start = _start_point(client, settings, params["start_from"], stored, state)
    log.info("Reading from %s", start.reason)
    job = ReadJob.from_settings(settings, params, time.time(), slots)
    planner = job.planner()
    publisher = _publisher(ti, READ_TASK_ID, 0, job, slots=None)
    first_read_ends = time.monotonic() + min(FIRST_READ_SECONDS, settings.run_budget_seconds)
    result = read_logs(
        client, start, planner, take=MAX_TAKE, max_logs=job.max_logs, deadline=first_read_ends,
        checkpoint_date=state.get("checkpoint_date") if state.get("checkpoint") == stored else None,
        on_page=lambda: publisher.publish(planner.closed_units()),
    )
    # A dry run reads for the first seconds only: it shows what the filter keeps, it does not drain.
    more = result.stopped_by == "deadline" and time.time() < job.deadline and not job.dry_run
    run = {
        "stored_checkpoint": stored,
        "start": asdict(start) | {"first_log": None},
        "gap": result.gap.describe() if result.gap else None,
        "dry_run": job.dry_run,
        "replay": job.replay,
        "read_id": job.read_id,
        "filter": job.log_filter.describe(),
        "slack_send_success": settings.slack_send_success,
    }
    if more:
        publisher.publish([planner.closed_rest()])
        ti.xcom_push(key=HANDOVER_KEY, value={"job": asdict(job), "run": run, "after": planner.plan.last_log_id,
                                              "planner": planner.state(), "next_unit": publisher.next_index})
    else:
        publisher.publish(job.final_units(planner))
    described = job.run_descriptor(publisher.next_index, more)
    summary = _summary(run, result, planner, publisher, client, final=not more) | {
        "more": more, "slots": job.slots if described and not job.dry_run else 0}
    ti.xcom_push(key=SUMMARY_KEY, value=summary)
    log.info(
        "Read %d logs (%d to send, filter: %s) into %d units; %s",
        summary["logs_read"], summary["logs_kept"], run["filter"], publisher.next_index,
        "a backlog remains: read_more goes on reading" if more else result.stopped_by,
    )
    return described


def read_more_step(context: Any, described: dict, client: Any | None = None) -> dict:
    """Go on reading where read_logs stopped, publishing units while the slots deliver them."""
    ti = context["ti"]
    if not described.get("more"):
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("read_logs read everything there was")
    handover = ti.xcom_pull(task_ids=READ_TASK_ID, key=HANDOVER_KEY)
    if handover is None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"the hand-over from {READ_TASK_ID} is gone: {MORE_TASK_ID} runs once per read. "
                                   f"To read again, clear {READ_TASK_ID} (with its downstream tasks).")
    delete_xcom(ti, READ_TASK_ID, HANDOVER_KEY)  # it holds logs; read_more is not retried (see the DAG)
    job = ReadJob(**handover["job"])
    planner = job.planner().restore(handover["planner"])
    deadline = job.monotonic_deadline()
    publisher = _publisher(ti, MORE_TASK_ID, int(handover["next_unit"]), job, slots=lambda: _slots_view(ti, job),
                           deadline=deadline)
    plan = planner.plan
    result = ReadResult(plan, StartPoint("hand-over"), caught_up=False, stopped_by="not started")
    pushed_at = time.monotonic()
    error = None

    def push_summary(final: bool) -> dict:
        summary = _summary(handover["run"], result, planner, publisher, client, final=final) | {"error": error}
        ti.xcom_push(key=SUMMARY_KEY, value=summary)
        return summary

    def on_page() -> None:
        nonlocal pushed_at
        publisher.publish(planner.closed_units())
        if time.monotonic() - pushed_at >= SUMMARY_EVERY_SECONDS:
            result.stopped_by = "reading"
            push_summary(final=False)
            pushed_at = time.monotonic()

    try:
        raise_if_paused()
        client = client or _auth0_client()
        result = read_logs(  # max_logs: the restored plan counts read_logs' logs too
            client, StartPoint("hand-over from read_logs", checkpoint=handover["after"]), planner,
            take=MAX_TAKE, max_logs=job.max_logs, deadline=deadline, on_page=on_page,
        )
        publisher.publish(job.final_units(planner))
    except ReadingStopped as stopped:
        result.stopped_by = str(stopped)
    except BaseException as failure:  # the slots stop after what was published; the commit says why
        error = f"{type(failure).__name__}: {failure}"
        raise
    finally:
        summary = push_summary(final=True)
    log.info("Read %d logs in all (%d units); %s; held back %.1f s for the slots",
             summary["logs_read"], publisher.next_index, result.stopped_by, publisher.held_back_seconds)
    return {key: summary[key] for key in ("logs_read", "next_unit", "caught_up", "stopped_by")}


def _publisher(ti: Any, task_id: str, next_index: int, job: ReadJob,
               slots: Callable[[], SlotsView] | None, deadline: float | None = None) -> UnitPublisher:
    push = None if job.dry_run else (lambda key, value: ti.xcom_push(key=key, value=value))
    return UnitPublisher(push, task_id, next_index, backlog_limit=BACKLOG_UNITS_PER_SLOT * job.slots,
                         slots=None if job.dry_run else slots, deadline=deadline)


def _slots_view(ti: Any, job: ReadJob) -> SlotsView:
    reports = ti.xcom_pull(task_ids=DELIVER_TASK_ID, key=PROGRESS_KEY, map_indexes=list(range(job.slots)))
    states = ti.get_task_states(dag_id=ti.dag_id, task_ids=[DELIVER_TASK_ID], run_ids=[ti.run_id])
    return slots_view(_as_list(reports), (states or {}).get(ti.run_id) or {}, job.read_id)


def _summary(run: dict, result: ReadResult, planner: Planner, publisher: UnitPublisher, client: Any,
             final: bool) -> dict:
    plan = planner.plan
    return run | {
        "lead": [plan.lead_checkpoint, plan.lead_checkpoint_date],
        "units": publisher.summaries,
        "next_unit": publisher.next_index,
        "logs_read": plan.logs_read,
        "logs_kept": plan.logs_kept,
        "last_log_id": plan.last_log_id,
        "last_log_date": plan.last_log_date,
        "caught_up": result.caught_up,
        "stopped_by": result.stopped_by,
        "final": final,
        "auth0_requests": client.stats.requests if hasattr(client, "stats") else None,
        "largest_unit_bytes": publisher.largest_unit_bytes,
        "peak_rss_mb": peak_rss_mb(),
    }


def _auth0_client() -> Any:
    from auth0_webhooks.hooks.auth0 import Auth0Hook

    return Auth0Hook().get_conn()


def _as_list(value: Any) -> list:
    """XCom pulled for several map indexes (a list, or a lazy sequence), or one value, as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, (dict, str)) else list(value)


def _start_point(client: Any, settings: Settings, param_start: StartFrom | None, stored: str | None,
                 state: dict) -> StartPoint:
    if param_start is not None:  # a manual run's Param: applied for this run only
        start = resolve_start(client, None, param_start, None)
        start.start_from_applied = None
        return start
    return resolve_start(client, stored, settings.start_from, state.get("start_from_applied"))


# ---- commit ----


def commit_step(context: Any, now: datetime | None = None) -> dict:
    """Advance the checkpoint over the acknowledged prefix, report the run, fail it if anything is left."""
    ti = context["ti"]
    dag_run = context.get("dag_run")
    started = getattr(dag_run, "start_date", None) or now or datetime.now(timezone.utc)
    report = RunReport(
        dag_id=getattr(dag_run, "dag_id", DAG_ID), run_id=getattr(dag_run, "run_id", "?"),
        start=_iso(started), end="",
    )
    summary = None
    send_success = False
    try:
        summary = run_summary(ti)
        send_success = bool(summary.get("slack_send_success"))
        _commit(ti, summary, report)
        if summary.get("reader_error"):
            raise RunFailed(
                f"reading stopped early: {summary['reader_error']}. The checkpoint moved over what was "
                "delivered; the next run goes on from there."
            )
    except (RunFailed, CheckpointConflict) as error:
        report.error = str(error)
    report.end = _iso(now or datetime.now(timezone.utc))
    for line in report.lines():
        log.info("%s", line)
    if should_notify(report, send_success) or (summary and summary.get("gap")):
        notify_slack(report)
    if report.failed:
        raise RunFailed(report.error)  # undelivered units stay in XCom, for a retry from the UI
    return report.to_dict()


def run_summary(ti: Any) -> dict:
    """What both readers read, as one summary (read_logs' own when it read everything)."""
    first = ti.xcom_pull(task_ids=READ_TASK_ID, key=SUMMARY_KEY)
    if first is None:
        error = ti.xcom_pull(task_ids=READ_TASK_ID, key=ERROR_KEY)
        raise RunFailed(f"reading logs failed: {error or 'the read task did not run (see its log)'}")
    if not first.get("more"):
        return first
    more = ti.xcom_pull(task_ids=MORE_TASK_ID, key=SUMMARY_KEY, map_indexes=0)
    if more is None:
        return first | {"caught_up": False,
                        "reader_error": f"{MORE_TASK_ID} did not report (killed before its first summary?)"}
    merged = more | {"units": first["units"] + more["units"], "slots": first["slots"]}
    if more.get("error") or not more.get("final"):
        merged["caught_up"] = False
        merged["reader_error"] = more.get("error") or f"{MORE_TASK_ID} was stopped while reading"
    return merged


def slot_progress(ti: Any, slots: int, read_id: str | None = None) -> tuple[dict[int, dict], list[str]]:
    """Every unit's progress record, and the errors that stopped slots, from the slots' reports of this read."""
    if not slots:
        return {}, []
    reports = ti.xcom_pull(task_ids=DELIVER_TASK_ID, key=PROGRESS_KEY, map_indexes=list(range(slots)))
    merged: dict[int, dict] = {}
    errors: list[str] = []
    for report in _as_list(reports):
        if report and report.get("read", read_id) != read_id:
            continue  # left from a read before the run was cleared
        for index, unit in ((report or {}).get("units") or {}).items():
            merged[int(index)] = unit
        if report and report.get("error"):
            errors.append(str(report["error"]))
    return merged, errors


def _commit(ti: Any, summary: dict, report: RunReport) -> None:
    units = summary["units"]
    by_index, slot_errors = slot_progress(ti, int(summary.get("slots") or 0), summary.get("read_id"))
    progress = [by_index.get(int(unit["index"])) for unit in units]
    ack = acknowledged_prefix(tuple(summary["lead"]), units, progress)
    start = summary["start"]
    stored = summary["stored_checkpoint"]
    report.logs_read = summary["logs_read"]
    report.logs_delivered = ack.logs_delivered
    report.logs_filtered_out = summary["logs_read"] - summary["logs_kept"]
    report.checkpoint_before = stored
    report.caught_up = summary["caught_up"] and ack.complete
    report.dry_run = summary["dry_run"]
    if summary.get("gap"):
        report.warnings.append(summary["gap"])
    new_checkpoint = ack.checkpoint or start.get("checkpoint")
    report.checkpoint_after = stored
    if summary["dry_run"]:
        report.warnings.append(f"dry run: {summary['logs_kept']} logs would have been sent; nothing was sent or moved")
    elif summary.get("replay"):
        report.warnings.append(
            f"replay from the start_from Param: {ack.logs_delivered} logs sent again; the checkpoint stays where "
            "the scheduled runs left it")
    elif new_checkpoint:
        run_id = str(getattr(ti, "run_id", ""))
        checkpoint_store().compare_and_set(_expected_checkpoint(stored, run_id), new_checkpoint)
        report.checkpoint_after = new_checkpoint
        _save_state(start, new_checkpoint, ack.checkpoint_date, run_id)
    _warn_if_stale(summary.get("last_log_date"), report)
    if not ack.complete:
        index = ack.first_incomplete_unit
        failed = progress[index] if index is not None and index < len(progress) else None
        reason = (failed or {}).get("error") or (
            f"its delivery slot stopped earlier: {slot_errors[0]}" if slot_errors
            else "its delivery slot did not report (killed, or not run)")
        resend = f"; {ack.logs_acknowledged_after_gap} logs acknowledged after it will be sent again" \
            if ack.logs_acknowledged_after_gap else ""
        raise RunFailed(
            f"unit {units[index]['label']} was not fully delivered: {reason}. "
            f"The checkpoint stops before the first unacknowledged log{resend}."
        )


def _expected_checkpoint(stored: str | None, run_id: str) -> str | None:
    """The value the checkpoint must still have: as read, or as this same run's earlier commit left it
    (the commit runs again when a user clears failed delivery tasks in the UI)."""
    state = load_state()
    if run_id and state.get("written_by_run") == run_id:
        return state.get("checkpoint")
    return stored


def _save_state(start: dict, checkpoint: str, checkpoint_date: str | None, run_id: str) -> None:
    state = load_state()
    if start.get("start_from_applied"):
        state["start_from_applied"] = start["start_from_applied"]
    state["checkpoint"], state["checkpoint_date"] = checkpoint, checkpoint_date
    state["written_by_run"] = run_id
    variables.variable_set(STATE_VARIABLE, json.dumps(state))


def _warn_if_stale(last_log_date: str | None, report: RunReport) -> None:
    if not last_log_date:
        return
    try:
        age = datetime.now(timezone.utc) - datetime.fromisoformat(last_log_date.replace("Z", "+00:00"))
    except ValueError:
        return
    if age > STALE_AFTER:
        report.warnings.append(f"falling behind: the newest log processed is {age.days} days old")


def notify_slack(report: RunReport) -> bool:
    """Send the report to the `auth0_slack` connection when it exists; never raises."""
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
        from airflow.sdk import BaseHook

        BaseHook.get_connection(SLACK_CONN_ID)
    except Exception:  # noqa: BLE001 - no connection: no Slack
        log.info("No connection %r: Slack report not sent", SLACK_CONN_ID)
        return False
    hook = SlackWebhookHook(slack_webhook_conn_id=SLACK_CONN_ID, timeout=10)
    return send_to_slack(report, lambda text: hook.send(text=text))


def _iso(moment: Any) -> str:
    return moment.isoformat() if hasattr(moment, "isoformat") else str(moment)
