"""The read and commit steps of the DAG: Airflow glue around the pure modules.

read   -> settings, start point, pages of logs, filter, deliveries, units (XCom, one per unit)
deliver-> LogsToWebhookOperator, mapped over the units
commit -> acknowledged prefix, checkpoint compare-and-set, run report, Slack, run status
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from typing import Any

from auth0_webhooks.auth0_client import MAX_TAKE, Auth0AuthError
from auth0_webhooks.checkpoint import CheckpointConflict, CheckpointStore, acknowledged_prefix
from auth0_webhooks.log_types import LogFilter
from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID, SLACK_CONN_ID, STATE_VARIABLE
from auth0_webhooks.operators.logs_to_webhook import PROGRESS_KEY
from auth0_webhooks.planning import Planner, split_into_units, unit_label
from auth0_webhooks.reading import StartPoint, read_logs, resolve_start
from auth0_webhooks.reporting import RunReport, send_to_slack, should_notify
from auth0_webhooks.settings import Settings, SettingsError, StartFrom, parse_settings, parse_start_from
from auth0_webhooks import variables
from auth0_webhooks.variables import DeliveryPaused, raise_if_paused

log = logging.getLogger(__name__)

READ_TASK_ID = "read_logs"
DELIVER_TASK_ID = "deliver"
SUMMARY_KEY = "summary"
ERROR_KEY = "error"
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


def read_step(context: Any, client: Any | None = None) -> list[dict]:
    """Read new logs, plan the deliveries, store each unit in XCom; return the units to map over."""
    ti = context["ti"]
    try:
        return _read(context, ti, client)
    except Exception as error:
        ti.xcom_push(key=ERROR_KEY, value=f"{type(error).__name__}: {error}")
        if isinstance(error, (SettingsError, Auth0AuthError, DeliveryPaused)):  # retrying cannot help: fail now
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(str(error)) from None
        raise


def _read(context: Any, ti: Any, client: Any | None) -> list[dict]:
    raise_if_paused()
    settings = load_settings()
    params = run_params(context)
    if client is None:
        from auth0_webhooks.hooks.auth0 import Auth0Hook

        client = Auth0Hook().get_conn()
    state = load_state()
    stored = checkpoint_store().read()
    start = _start_point(client, settings, params["start_from"], stored, state)
    log.info("Reading from %s", start.reason)
    log_filter = LogFilter(settings.log_types, settings.log_level)
    planner = Planner(log_filter.keeps, settings.batch_size, settings.send_as_batch)
    result = read_logs(
        client, start, planner, take=MAX_TAKE, max_logs=params["max_logs"] or settings.max_logs_per_run,
        checkpoint_date=state.get("checkpoint_date") if state.get("checkpoint") == stored else None,
    )
    plan = result.plan
    units = [] if params["dry_run"] else split_into_units(
        plan.deliveries, logs_per_unit=settings.batch_size * settings.batches_per_task,
        min_units=settings.webhook_concurrent_calls,
    )
    descriptors = []
    unit_summaries = []
    for index, unit in enumerate(units):
        key = f"unit-{index}"
        ti.xcom_push(key=key, value=[delivery.to_xcom() for delivery in unit])
        label = unit_label(unit)
        descriptors.append({"index": index, "label": label, "send_as_batch": settings.send_as_batch,
                            "xcom": {"task_id": READ_TASK_ID, "key": key}})
        unit_summaries.append({"label": label, "deliveries": len(unit), "logs": sum(len(d.logs) for d in unit),
                               "checkpoint": unit[-1].checkpoint, "checkpoint_date": unit[-1].checkpoint_date})
    summary = {
        "stored_checkpoint": stored,
        "start": asdict(start) | {"first_log": None},
        "lead": [plan.lead_checkpoint, plan.lead_checkpoint_date],
        "units": unit_summaries,
        "logs_read": plan.logs_read,
        "logs_kept": plan.logs_kept,
        "last_log_id": plan.last_log_id,
        "last_log_date": plan.last_log_date,
        "caught_up": result.caught_up,
        "gap": result.gap.describe() if result.gap else None,
        "dry_run": params["dry_run"],
        "filter": log_filter.describe(),
        "slack_send_success": settings.slack_send_success,
        "auth0_requests": client.stats.requests if hasattr(client, "stats") else None,
    }
    ti.xcom_push(key=SUMMARY_KEY, value=summary)
    log.info(
        "Read %d logs (%d to send, filter: %s) in %d units; %s",
        plan.logs_read, plan.logs_kept, summary["filter"], len(units),
        "caught up" if result.caught_up else "more logs are waiting",
    )
    return descriptors


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
    summary = ti.xcom_pull(task_ids=READ_TASK_ID, key=SUMMARY_KEY)
    send_success = False
    try:
        if summary is None:
            error = ti.xcom_pull(task_ids=READ_TASK_ID, key=ERROR_KEY)
            raise RunFailed(f"reading logs failed: {error or 'the read task did not run (see its log)'}")
        send_success = bool(summary.get("slack_send_success"))
        _commit(ti, summary, report)
    except (RunFailed, CheckpointConflict) as error:
        report.error = str(error)
    report.end = _iso(now or datetime.now(timezone.utc))
    for line in report.lines():
        log.info("%s", line)
    if should_notify(report, send_success) or (summary and summary.get("gap")):
        notify_slack(report)
    if report.failed:
        raise RunFailed(report.error)  # the units' logs stay in XCom, for a retry from the UI
    purge_unit_logs(ti, len(summary["units"]))
    return report.to_dict()


def _commit(ti: Any, summary: dict, report: RunReport) -> None:
    units = summary["units"]
    progress = (
        ti.xcom_pull(task_ids=DELIVER_TASK_ID, key=PROGRESS_KEY, map_indexes=list(range(len(units))))
        if units else []
    )
    progress = list(progress) if isinstance(progress, list) else [progress]
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
    elif new_checkpoint:
        run_id = str(getattr(ti, "run_id", ""))
        checkpoint_store().compare_and_set(_expected_checkpoint(stored, run_id), new_checkpoint)
        report.checkpoint_after = new_checkpoint
        _save_state(start, new_checkpoint, ack.checkpoint_date, run_id)
    _warn_if_stale(summary.get("last_log_date"), report)
    if not ack.complete:
        index = ack.first_incomplete_unit
        failed = progress[index] if index is not None and index < len(progress) else None
        reason = (failed or {}).get("error") or "its delivery task did not report (killed, or failed before sending)"
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


def purge_unit_logs(ti: Any, count: int) -> None:
    """Delete the delivered logs from XCom, so that no copy of them lingers in Airflow's database."""
    try:
        from airflow.sdk.bases.xcom import BaseXCom

        for index in range(count):
            BaseXCom.delete(key=f"unit-{index}", task_id=READ_TASK_ID, dag_id=ti.dag_id, run_id=ti.run_id,
                            map_index=-1)
    except Exception as error:  # noqa: BLE001 - a cleanup must never fail a delivered run
        log.warning("Could not remove the delivered logs from XCom: %s", type(error).__name__)


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
