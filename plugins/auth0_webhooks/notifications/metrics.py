"""Metrics through Airflow's own Stats (StatsD or OpenTelemetry, as `[metrics]` configures; nothing is
sent when neither is on). The Task SDK sets Stats up in every task process.

Names are `auth0_webhooks.<dag_id>.<metric>` so that plain StatsD, which has no tags, still tells the
pipelines apart (a `.` in a dag id becomes `__`, as Airflow does for its own names); the same values
carry the tag `dag_id` for backends with tags. Airflow prefixes them with `[metrics] statsd_prefix` /
`otel_prefix` (`airflow.` by default); a `metrics_allow_list` must include `auth0_webhooks`.
"""

from __future__ import annotations

import logging
from typing import Any

from auth0_webhooks.reporting import RunReport

log = logging.getLogger(__name__)

PREFIX = "auth0_webhooks"
# (metric, kind, RunReport attribute or None, meaning): the README's list comes from this table.
METRICS = (
    ("runs", "counter", None, "runs that ended (commit task)"),
    ("failed_runs", "counter", None, "runs that failed"),
    ("logs_read", "counter", "logs_read", "logs read from Auth0"),
    ("logs_filtered", "counter", "logs_filtered_out", "logs dropped by LOG_TYPES / LOG_LEVEL"),
    ("logs_delivered", "counter", "logs_delivered", "logs the webhook acknowledged"),
    ("logs_failed", "counter", "logs_failed", "logs read and kept but not delivered"),
    ("rate_limit_waits", "counter", "rate_limit_waits", "pauses for Auth0's rate limit"),
    ("auth0_429s", "counter", "auth0_429s", "HTTP 429 answers from Auth0"),
    ("rate_limit_wait_seconds", "gauge", "rate_limit_wait_seconds", "seconds spent waiting for the rate limit in the last run"),
    ("lag_seconds", "gauge", "lag_seconds", "age of the newest acknowledged log at the end of the last live run"),
    ("webhook_latency_ms", "timing", "webhook_latency_ms", "webhook answer time (median or mean of the run), ms"),
)


def metric_name(dag_id: str, metric: str) -> str:
    return f"{PREFIX}.{dag_id.replace('.', '__')}.{metric}"


def emit_metrics(report: RunReport, stats: Any = None) -> int:
    """Send the run's figures to Airflow's Stats; the number of metrics sent. Never raises."""
    try:
        if stats is None:
            from airflow.sdk.observability.stats import Stats as stats
        tags = {"dag_id": report.dag_id}
        sent = 0
        for metric, kind, attribute, _ in METRICS:
            value = getattr(report, attribute) if attribute else (1 if metric == "runs" else int(report.failed))
            if value is None or (metric == "lag_seconds" and report.run_kind not in ("scheduled", "manual")):
                continue
            name = metric_name(report.dag_id, metric)
            if kind == "counter":
                if not value:
                    continue
                stats.incr(name, count=int(value), tags=tags)
            elif kind == "gauge":
                stats.gauge(name, float(value), tags=tags)
            else:
                stats.timing(name, float(value), tags=tags)
            sent += 1
        return sent
    except Exception as error:  # noqa: BLE001 - metrics never fail a run
        log.warning("Metrics not sent: %s", type(error).__name__)
        return 0
