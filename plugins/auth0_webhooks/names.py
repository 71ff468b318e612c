"""The public names users see: DAG id, connection ids and Variable keys (the README lists them)."""

from __future__ import annotations

DAG_ID = "auth0_logs_to_webhook"
PIPELINE_DAG_PREFIX = f"{DAG_ID}__"  # + <name>: one more pipeline per entry of auth0_webhooks_pipelines
AUTH0_CONN_ID = "auth0_default"
WEBHOOK_CONN_ID = "auth0_webhook"
SLACK_CONN_ID = "auth0_slack"
CONFIG_VARIABLE = "auth0_webhooks_config"
CHECKPOINT_VARIABLE = "auth0_webhooks_checkpoint"
STATE_VARIABLE = "auth0_webhooks_state"
PAUSE_VARIABLE = "auth0_webhooks_paused"
PIPELINES_VARIABLE = "auth0_webhooks_pipelines"  # more pipelines: see pipelines.py

# Tasks of the shipped DAG (the XCom keys they share are in protocol.py).
READ_TASK_ID = "read_logs"  # reads the first seconds' worth, plans the run (unmapped)
MORE_TASK_ID = "read_more"  # continues the read while the slots deliver (mapped over 0 or 1 hand-over)
DELIVER_TASK_ID = "deliver"  # LogsToWebhookOperator, mapped over the delivery slots
