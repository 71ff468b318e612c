"""Slack messages in Block Kit, sent through the Slack provider's `SlackWebhookHook` (connection
`auth0_slack`, type *Slack Incoming Webhook*). Each message has a plain-text `text` fallback (what
notifications and old clients show) and blocks; every free text went through `reporting.redact`.

`Auth0RunNotifier` is the provider's `SlackWebhookNotifier` shape: a BaseNotifier usable as a task
callback, or directly (`Auth0RunNotifier(report=...).notify(context)`). `send_blocks` /
`send_report` send one message and never raise; without the connection they send nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from auth0_webhooks.names import SLACK_CONN_ID
from auth0_webhooks.reporting import RunReport, human_duration, redact

log = logging.getLogger(__name__)

SLACK_TIMEOUT = 10  # seconds: a Slack outage never holds a run longer than this per message
DEFAULT_BASE_URL = "http://localhost:8080"
_ICONS = {"failed": ":x:", "succeeded": ":white_check_mark:", "dry run": ":test_tube:"}


@dataclass(frozen=True)
class SlackMessage:
    """One Slack message: the plain-text fallback and the Block Kit blocks."""

    text: str
    blocks: list[dict]

    def payload(self) -> dict:
        return {"text": self.text, "blocks": self.blocks}


# ---- links ----


def airflow_base_url() -> str:
    """Airflow's UI as configured (`[api] base_url`), else http://localhost:8080."""
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="") or ""
    except Exception:  # noqa: BLE001
        base = ""
    return (base.strip() or DEFAULT_BASE_URL).rstrip("/")


def run_url(dag_id: str, run_id: str, base_url: str | None = None) -> str:
    """The run's page in the Airflow UI: `{base}/dags/{dag_id}/runs/{run_id}` (run id escaped)."""
    return f"{(base_url or airflow_base_url()).rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def dag_url(dag_id: str, base_url: str | None = None) -> str:
    return f"{(base_url or airflow_base_url()).rstrip('/')}/dags/{quote(dag_id, safe='')}"


# ---- blocks ----


def escape(text: Any) -> str:
    """Redacted text, safe in Slack mrkdwn (&, < and > escaped, as Slack asks)."""
    return redact(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _fields(pairs: list[tuple[str, str]]) -> dict:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"[:2000]}
                                          for name, value in pairs[:10]]}


def _code(title: str, text: Any) -> dict:
    body = escape(text).replace("```", "'''")
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n```{body[:2900]}```"}}


def _context(lines: list[str]) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": line[:3000]} for line in lines[:10]]}


def _button(label: str, url: str | None) -> list[dict]:
    if not url:
        return []
    return [{"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url[:3000], "action_id": "open_run"}]}]


def _cp(checkpoint: str | None) -> str:
    return f"`{escape(checkpoint)}`" if checkpoint else "none"


def report_message(report: RunReport) -> SlackMessage:
    """A run's report: status, the original's fields (start, end, logs processed, next checkpoint, error),
    the summary's figures, lag, gaps, warnings and a button to the run's page."""
    failed = f", {report.logs_failed} not delivered" if report.logs_failed else ""
    pairs = [("Pipeline", escape(report.pipeline or report.dag_id)), ("Run kind", escape(report.run_kind)),
             ("Start", escape(report.start)), ("End", escape(report.end)),
             ("Logs processed", f"{report.logs_delivered} delivered, {report.logs_filtered_out} filtered out, "
                                f"{report.logs_read} read{failed}"),
             ("Next checkpoint", f"{_cp(report.checkpoint_after)}\n(was {_cp(report.checkpoint_before)})"),
             ("Lag", human_duration(report.lag_seconds)),
             ("Backlog", "caught up" if report.caught_up else "more logs waiting: the next run continues"),
             ("Rate limit", f"{report.rate_limit_waits} waits ({report.rate_limit_wait_seconds:.1f} s), "
                            f"{report.auth0_429s} × 429"),
             ("Webhook latency", "n/a" if report.webhook_latency_ms is None else f"{report.webhook_latency_ms:.0f} ms")]
    blocks = [_header(f"{_ICONS.get(report.status, '')} Auth0 logs to webhook: {report.status} ({report.dag_id})"),
              {"type": "section", "text": {"type": "mrkdwn", "text": f"Run `{escape(report.run_id)}`"}},
              _fields(pairs)]
    if report.error:
        blocks.append(_code("Error", report.error))
    notes = [f":warning: gap: {escape(gap)}" for gap in report.gaps] + \
            [f":warning: {escape(warning)}" for warning in report.warnings]
    if notes:
        blocks.append(_context(notes))
    blocks += _button("Open the run in Airflow", report.run_url)
    return SlackMessage(report.text()[:3000], blocks)


def retry_message(*, dag_id: str, run_id: str, task: str, try_number: int, max_tries: int | None,
                  error: Any, next_try: datetime | None, url: str | None) -> SlackMessage:
    """A task failed and Airflow will try it again: the first sign of a failure that keeps repeating."""
    tries = f"{try_number} of {max_tries + 1}" if max_tries is not None else str(try_number)
    when = next_try.strftime("%Y-%m-%d %H:%M:%S UTC") if next_try else "as Airflow schedules it"
    error_text = redact(error) or "(no message)"
    text = (f"Auth0 logs to webhook ({dag_id}): task {task} failed (try {tries}) and will be retried at {when}. "
            f"Run {run_id}. Error: {error_text}" + (f" Run: {url}" if url else ""))
    blocks = [_header(f":warning: Retrying: {task} ({dag_id})"),
              {"type": "section", "text": {"type": "mrkdwn", "text": f"Run `{escape(run_id)}`: a task failed and "
                                                                   "will be tried again. Further failures of this "
                                                                   "run are not announced until it ends."}},
              _fields([("Task", f"`{escape(task)}`"), ("Try", tries), ("Next try", when)]),
              _code("Error", error_text)]
    blocks += _button("Open the run in Airflow", url)
    return SlackMessage(text[:3000], blocks)


def lag_message(*, dag_id: str, lag_seconds: float, limit_seconds: float, since: str | None,
                checkpoint: str | None, url: str | None, cleared: bool = False) -> SlackMessage:
    """Falling behind (lag above the limit), or cleared (back under it)."""
    lag, limit = human_duration(lag_seconds), human_duration(limit_seconds)
    if cleared:
        title = f":white_check_mark: Lag cleared ({dag_id})"
        text = f"Auth0 logs to webhook ({dag_id}): lag cleared, now {lag} (limit {limit}); behind since {since}."
    else:
        title = f":hourglass_flowing_sand: Falling behind ({dag_id})"
        text = (f"Auth0 logs to webhook ({dag_id}) is falling behind: the newest delivered log is {lag} old "
                f"(limit {limit}), since {since}.")
    pairs = [("Lag", lag), ("Limit", limit), ("Behind since", escape(since or "?")), ("Checkpoint", _cp(checkpoint))]
    blocks = [_header(title), _fields(pairs)]
    if not cleared:
        blocks.append(_context(["Repeated at most hourly while it lasts; a message says when it clears."]))
    blocks += _button("Open the run in Airflow", url)
    return SlackMessage(text + (f" Run: {url}" if url else ""), blocks)


def digest_message(*, dag_id: str, tally: dict, lag_seconds: float | None, checkpoint: str | None,
                   url: str | None) -> SlackMessage:
    """The daily digest of one pipeline (`tally`: see alerts.DigestTally.to_dict)."""
    gaps = tally.get("gaps", 0)
    pairs = [("Period", f"{escape(tally.get('since', '?'))} → now"), ("Runs", str(tally.get("runs", 0))),
             ("Failed runs", str(tally.get("failures", 0))), ("Warnings", str(tally.get("warnings", 0))),
             ("Logs delivered", str(tally.get("logs_delivered", 0))),
             ("Logs not delivered", str(tally.get("logs_failed", 0))), ("Gaps", str(gaps)),
             ("Current lag", human_duration(lag_seconds)), ("Checkpoint", _cp(checkpoint))]
    text = (f"Auth0 logs to webhook ({dag_id}) daily digest: {tally.get('runs', 0)} runs, "
            f"{tally.get('failures', 0)} failed, {tally.get('warnings', 0)} warnings, "
            f"{tally.get('logs_delivered', 0)} logs delivered, {gaps} gaps, lag {human_duration(lag_seconds)}, "
            f"checkpoint {checkpoint or 'none'}.")
    blocks = [_header(f":bar_chart: Daily digest ({dag_id})"), _fields(pairs)]
    if tally.get("last_error"):
        blocks.append(_code("Last error", tally["last_error"]))
    blocks += _button("Open the DAG in Airflow", url)
    return SlackMessage(text, blocks)


# ---- sending ----


def _connection_exists(conn_id: str) -> bool:
    try:
        from airflow.sdk import BaseHook

        BaseHook.get_connection(conn_id)
        return True
    except Exception:  # noqa: BLE001 - no connection: no Slack
        return False


def send_blocks(message: SlackMessage, conn_id: str | None = SLACK_CONN_ID, *,
                timeout: int = SLACK_TIMEOUT) -> bool:
    """Post `message` through the Slack connection `conn_id`; True when Slack accepted it. Without the
    connection (or with conn_id None) nothing is sent. Never raises; an error is logged by type only
    (its text could hold the webhook URL)."""
    if not conn_id or not _connection_exists(conn_id):
        log.info("No connection %r: Slack message not sent", conn_id)
        return False
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        # No retry handlers: one try (a report never waits on Slack), and slack_sdk's retry log line, which
        # names the webhook URL, never happens.
        SlackWebhookHook(slack_webhook_conn_id=conn_id, timeout=timeout, retry_handlers=[]).send(
            text=message.text, blocks=message.blocks)
        return True
    except Exception as error:  # noqa: BLE001 - a report never breaks a run
        log.warning("Slack message not sent through %r: %s", conn_id, type(error).__name__)
        return False


def send_report(report: RunReport, conn_id: str | None = SLACK_CONN_ID) -> bool:
    """Send a run's report to Slack; True when sent. Never raises."""
    try:
        message = report_message(report)
    except Exception as error:  # noqa: BLE001
        log.warning("Slack report not built: %s", type(error).__name__)
        return False
    return send_blocks(message, conn_id)


class Auth0RunNotifier(BaseNotifier):
    """A run's report to Slack, in the shape of the provider's `SlackWebhookNotifier`.

    :param report: the run's RunReport (or its `to_dict()`); None: read from the commit task's return
        value, `task_ids=commit_task_id`, in the callback's context
    :param slack_webhook_conn_id: the Slack Incoming Webhook connection (default `auth0_slack`)
    :param commit_task_id: the task whose return value is the report, when `report` is None
    :param timeout: seconds to wait for Slack
    """

    # Only the connection id is templated: a report's text could contain `{{` from an error message.
    template_fields = ("slack_webhook_conn_id",)

    def __init__(self, *, report: RunReport | dict | None = None, slack_webhook_conn_id: str = SLACK_CONN_ID,
                 commit_task_id: str = "commit", timeout: int = SLACK_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.slack_webhook_conn_id = slack_webhook_conn_id
        self.commit_task_id = commit_task_id
        self.timeout = timeout
        self.sent: bool | None = None

    def _report(self, context: Any) -> RunReport | None:
        if isinstance(self.report, RunReport):
            return self.report
        if self.report is not None:
            return RunReport.from_dict(self.report)
        return RunReport.from_dict(context["ti"].xcom_pull(task_ids=self.commit_task_id))

    def notify(self, context: Any) -> None:
        report = self._report(context)
        if report is None:
            self.log.info("No run report to send")
            self.sent = False
            return
        if report.run_url is None:
            report.run_url = run_url(report.dag_id, report.run_id)
        self.sent = send_blocks(report_message(report), self.slack_webhook_conn_id, timeout=self.timeout)


MessageSender = Callable[[SlackMessage], bool]
