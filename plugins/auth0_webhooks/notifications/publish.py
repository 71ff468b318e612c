"""The two calls the DAG makes: `publish_run` from the commit task, `alert_on_retry` as on_retry_callback.

Each part is guarded on its own: a failure of one (Slack down, Variable API error, Stats misconfigured)
never fails the run nor stops the others. Slack is given 10 s per message, and once Slack has failed in
a call no further message is tried in it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from auth0_webhooks.names import SLACK_CONN_ID
from auth0_webhooks.notifications import alerts, slack
from auth0_webhooks.notifications.metrics import emit_metrics
from auth0_webhooks.notifications.note import note_markdown, write_note
from auth0_webhooks.reporting import RunReport, should_notify

log = logging.getLogger(__name__)


class _Slack:
    """Sends messages to one connection until one fails; then skips the rest (Slack is down: do not wait
    10 s per message). Counts what it sent, for the log and tests."""

    def __init__(self, conn_id: str | None) -> None:
        self.conn_id, self.sent, self.down = conn_id, [], False

    def __call__(self, kind: str, message: slack.SlackMessage) -> bool:
        if self.down or not self.conn_id:
            return False
        if slack.send_blocks(message, self.conn_id):
            self.sent.append(kind)
            return True
        self.down = True
        return False


def _guarded(what: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as error:  # noqa: BLE001 - publishing never fails a run
        log.warning("Run report: %s failed: %s", what, type(error).__name__)
        return None


def publish_run(context: Any, report: RunReport, *, slack_conn_id: str | None = SLACK_CONN_ID,
                send_success: bool = False, lag_alert_seconds: float | None = None,
                digest_hour_utc: int | None = None, now: datetime | None = None) -> None:
    """Publish a run's report: the DagRun note, metrics, the Slack report (failed runs always, successful
    ones with `send_success`), the falling-behind alert (`lag_alert_seconds`; None: off) and the daily
    digest (`digest_hour_utc`, 0-23; None: off). Fills `report.run_url` when empty. Never raises."""
    now = now or datetime.now(timezone.utc)
    if report.run_url is None:
        report.run_url = _guarded("run link", lambda: slack.run_url(report.dag_id, report.run_id))
    _guarded("note", lambda: write_note(context, note_markdown(report)))
    _guarded("metrics", lambda: emit_metrics(report))
    send = _Slack(slack_conn_id)
    if should_notify(report, send_success):
        _guarded("Slack report", lambda: send("report", slack.report_message(report)))
    _guarded("alerts", lambda: _alerts(report, send, lag_alert_seconds, digest_hour_utc, now))
    if send.sent:
        log.info("Slack messages sent: %s", ", ".join(send.sent))


def _alerts(report: RunReport, send: _Slack, lag_alert_seconds: float | None, digest_hour_utc: int | None,
            now: datetime) -> None:
    state = alerts.load_state(report.dag_id)
    messages = []
    if report.run_kind in alerts.LIVE_KINDS:
        state.lag, lag_alerts = alerts.step_lag(state.lag, report.lag_seconds, lag_alert_seconds, now)
        messages += [slack.lag_message(dag_id=report.dag_id, lag_seconds=a.data["lag_seconds"],
                                       limit_seconds=a.data["limit_seconds"], since=a.data["since"],
                                       checkpoint=report.checkpoint_after, url=report.run_url,
                                       cleared=a.kind == "lag_cleared") for a in lag_alerts]
    state.digest, digests = alerts.step_digest(state.digest, report, now, digest_hour_utc)
    messages += [slack.digest_message(dag_id=report.dag_id, tally=a.data, lag_seconds=a.data.get("lag_seconds"),
                                      checkpoint=a.data.get("checkpoint"), url=slack.dag_url(report.dag_id))
                 for a in digests]
    alerts.save_state(report.dag_id, state)  # before sending: a slow Slack never makes a message repeat
    for message in messages:
        send("alert", message)


# ---- the retry alert ----


def next_try_time(task: Any, try_number: int, now: datetime) -> datetime | None:
    """When Airflow will try again at the earliest: retry_delay x backoff^(try-1), capped by max_retry_delay
    (Airflow may add up to as much again as jitter with exponential backoff)."""
    delay = getattr(task, "retry_delay", None)
    if not isinstance(delay, timedelta):
        return None
    backoff = getattr(task, "retry_exponential_backoff", 0) or 0
    multiplier = 2.0 if backoff is True else float(backoff)
    seconds = delay.total_seconds() * (multiplier ** max(try_number - 1, 0) if multiplier > 1 else 1)
    cap = getattr(task, "max_retry_delay", None)
    if isinstance(cap, timedelta):
        seconds = min(seconds, cap.total_seconds())
    return now + timedelta(seconds=seconds)


def retry_alert(slack_conn_id: str | None = SLACK_CONN_ID) -> Callable[[Any], None]:
    """An on_retry_callback that alerts Slack at the first retry of a run (any task), once per run."""

    def on_retry(context: Any) -> None:
        _guarded("retry alert", lambda: _alert_on_retry(context, slack_conn_id))

    return on_retry


def _alert_on_retry(context: Any, slack_conn_id: str | None, now: datetime | None = None) -> bool:
    ti, now = context["ti"], now or datetime.now(timezone.utc)
    dag_id, run_id = ti.dag_id, ti.run_id
    try:
        state = alerts.load_state(dag_id)
        state, due = alerts.step_retry(state, run_id)
        if not due:
            return False
        alerts.save_state(dag_id, state)
    except Exception as error:  # noqa: BLE001 - without the state, alert anyway (at worst once per retry)
        log.warning("Retry alert state not available: %s", type(error).__name__)
    map_index = getattr(ti, "map_index", -1)
    task = ti.task_id + (f"[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else "")
    try_number = int(getattr(ti, "try_number", 1) or 1)
    max_tries = getattr(ti, "max_tries", None)
    message = slack.retry_message(dag_id=dag_id, run_id=run_id, task=task, try_number=try_number,
                                  max_tries=max_tries if isinstance(max_tries, int) else None,
                                  error=context.get("exception"),
                                  next_try=next_try_time(context.get("task"), try_number, now),
                                  url=slack.run_url(dag_id, run_id))
    return slack.send_blocks(message, slack_conn_id)


alert_on_retry = retry_alert()
