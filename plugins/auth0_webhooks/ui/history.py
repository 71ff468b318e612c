"""The run history page's logic, without Airflow: which DAGs it covers, the query a request asks for,
one run as a row (its DagRun fields and its run report, read tolerantly), and the figures it shows.

A run's report is the XCom `return_value` of its `commit` task (reporting.RunReport.to_dict()). The page
reads it as a mapping: a field it does not know is still shown in the full report, a field it expects
but that is missing (older runs, a run that failed before `commit`) shows as "—".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from auth0_webhooks.names import DAG_ID, PIPELINE_DAG_PREFIX
from auth0_webhooks.protocol import REPORT_KEY
from auth0_webhooks.reporting import human_duration

URL_PREFIX = "/logs-to-webhook"  # where the api-server mounts the page; not /auth...: Airflow reserves those
PAGE_SIZE = 10
CHART_RUNS = 50  # the chart shows the newest runs of the selection, up to this many
REPORT_TASK_ID = "commit"  # its XCom holds the run report (reporting.RunReport.to_dict())
# The XCom keys of the report, the first found wins: a run that succeeds returns it; a failed run's commit
# raises instead of returning, so it pushes the same report as `run_report` first.
REPORT_XCOM_KEYS = ("return_value", REPORT_KEY)
MISSING = "—"
STATUSES = ("all", "failed")

# How a run came to be, from DagRun.run_type.
RUN_KINDS = {"scheduled": "scheduled", "manual": "manual", "backfill": "backfill",
             "operator_triggered": "triggered by a task", "asset_triggered": "asset",
             "asset_materialization": "asset"}

# The report's fields in the order the full report lists them, with their labels; fields the report
# gains later are listed after these, under their own names.
REPORT_LABELS = {
    "dag_id": "DAG", "run_id": "Run id", "run_kind": "Run kind", "start": "Start", "end": "End",
    "logs_read": "Logs read", "logs_delivered": "Logs delivered", "logs_filtered_out": "Logs filtered out",
    "logs_failed": "Logs failed", "checkpoint_before": "Checkpoint before", "checkpoint_after": "Checkpoint after",
    "lag_seconds": "Lag", "caught_up": "Caught up", "dry_run": "Dry run", "gaps": "Gaps",
    "rate_limit_waits": "Rate-limit waits", "rate_limit_wait_seconds": "Rate-limit wait (s)",
    "auth0_429s": "Auth0 429 answers", "webhook_latency_ms": "Webhook latency (ms)", "pipeline": "Pipeline",
    "run_url": "Run link", "error": "Error", "warnings": "Warnings",
}


def is_project_dag(dag_id: str) -> bool:
    """The default pipeline's DAG, or one of `auth0_logs_to_webhook__<name>`."""
    return dag_id == DAG_ID or (dag_id.startswith(PIPELINE_DAG_PREFIX) and len(dag_id) > len(PIPELINE_DAG_PREFIX))


class QueryError(ValueError):
    """A request's parameter is not allowed; the message names it, the value and what is allowed."""


@dataclass(frozen=True)
class Query:
    """What one request of the list asks for. `dag_id` None: every project DAG the user may read."""

    dag_id: str | None = None
    failed_only: bool = False
    page: int = 1

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def link(self, **changes: Any) -> str:
        """The list's relative URL for this query with `changes` (dag_id, failed_only, page)."""
        values = {"dag_id": self.dag_id, "failed_only": self.failed_only, "page": self.page, **changes}
        params = {"dag_id": values["dag_id"], "status": "failed" if values["failed_only"] else None,
                  "page": values["page"] if values["page"] != 1 else None}
        text = urlencode({key: value for key, value in params.items() if value is not None})
        return f"./?{text}" if text else "./"


def parse_query(dag_id: str | None, status: str | None, page: str | None) -> Query:
    """The list's query parameters -> Query. Raises QueryError naming the parameter."""
    dag_id = dag_id or None
    if dag_id is not None and not is_project_dag(dag_id):
        raise QueryError(f"dag_id={dag_id!r} is not allowed: expected {DAG_ID!r} or {PIPELINE_DAG_PREFIX}<name>")
    status = status or "all"
    if status not in STATUSES:
        raise QueryError(f"status={status!r} is not allowed: expected one of {', '.join(STATUSES)}")
    try:
        number = int(page or 1)
    except ValueError:
        number = 0
    if number < 1:
        raise QueryError(f"page={page!r} is not allowed: expected an integer of at least 1")
    return Query(dag_id=dag_id, failed_only=status == "failed", page=number)


def page_count(total: int) -> int:
    """Pages of PAGE_SIZE rows for `total` runs (at least 1: an empty list is one empty page)."""
    return max(1, math.ceil(total / PAGE_SIZE))


@dataclass(frozen=True)
class RunRow:
    """One run: its DagRun fields and its report (None when its `commit` left none)."""

    dag_id: str
    run_id: str
    run_type: str
    state: str
    start: datetime | None
    end: datetime | None
    report: Mapping[str, Any] | None = None
    note: str | None = None

    @property
    def kind(self) -> str:
        """The DagRun's run type; the report's run kind when it says more than that (a replay, a dry run)."""
        reported = self.field("run_kind")
        if reported and str(reported) not in RUN_KINDS.values():
            return str(reported)
        return RUN_KINDS.get(self.run_type, self.run_type)

    @property
    def failed(self) -> bool:
        return self.state == "failed"

    def field(self, key: str) -> Any:
        """A report field, or None when the report or the field is missing."""
        return (self.report or {}).get(key)

    @property
    def logs_delivered(self) -> int | None:
        value = self.field("logs_delivered")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def lag_seconds(self) -> float | None:
        value = self.field("lag_seconds")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def checkpoint_after(self) -> str | None:
        return self.field("checkpoint_after")

    @property
    def error(self) -> str | None:
        return self.field("error")

    @property
    def warnings(self) -> list[str]:
        value = self.field("warnings")
        return [str(item) for item in value] if isinstance(value, list) else []

    def report_items(self) -> list[tuple[str, str, Any]]:
        """(key, label, value) of every report field: the known ones first, then any others."""
        report = dict(self.report or {})
        known = [(key, label, report.pop(key, None)) for key, label in REPORT_LABELS.items()
                 if key in report or key in ("logs_delivered", "checkpoint_after", "lag_seconds")]
        return known + [(key, key.replace("_", " ").capitalize(), value) for key, value in sorted(report.items())]


def show(value: Any) -> str:
    """A field as the page shows it: "—" for a missing value, yes/no for booleans."""
    if value is None or value == "" or value == []:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return show_time(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "; ".join(show(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {show(item)}" for key, item in value.items())
    return str(value)


def show_time(moment: datetime | None) -> str:
    if moment is None:
        return MISSING
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def show_lag(seconds: float | None) -> str:
    """A lag as a person reads it (reporting.human_duration: 45 s, 12 min 5 s, 3 h 20 min, 2 d 4 h)."""
    return MISSING if seconds is None else human_duration(seconds)


def run_url(base_url: str, dag_id: str, run_id: str) -> str:
    """The run's page in the Airflow UI."""
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def report_link(dag_id: str, run_id: str) -> str:
    """The page's own relative URL of one run's full report."""
    return "run?" + urlencode({"dag_id": dag_id, "run_id": run_id})


@dataclass(frozen=True)
class ChartPoint:
    """One run on the chart: when it started, what it delivered, its lag (None: not reported)."""

    moment: datetime
    logs_delivered: int | None
    lag_seconds: float | None
    run_id: str


def chart_points(rows: list[RunRow]) -> list[ChartPoint]:
    """The runs that started, oldest first (the chart's x axis is time)."""
    points = [ChartPoint(row.start, row.logs_delivered, row.lag_seconds, row.run_id) for row in rows if row.start]
    return sorted(points, key=lambda point: point.moment)
