"""Run reports where users look: the DagRun note, Slack (Block Kit), retry and falling-behind alerts,
the daily digest and metrics. The DAG calls `publish_run` from its commit task and sets
`alert_on_retry` as on_retry_callback; the scheduler-side note writer is `listener.py` (not imported
here: task code never needs it)."""

from __future__ import annotations

from auth0_webhooks.notifications.metrics import emit_metrics
from auth0_webhooks.notifications.note import note_markdown, write_note
from auth0_webhooks.notifications.publish import alert_on_retry, publish_run, retry_alert
from auth0_webhooks.notifications.slack import Auth0RunNotifier, run_url, send_report

__all__ = ["Auth0RunNotifier", "alert_on_retry", "emit_metrics", "note_markdown", "publish_run", "retry_alert",
           "run_url", "send_report", "write_note"]
