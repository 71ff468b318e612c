"""A DAG of your own, built from the provider's public pieces: your connections, settings and checkpoint.

Failed logins and signups from the tenant behind Connection `tenant_eu` go to the webhook of
Connection `siem_webhook`, three calls at a time; the checkpoint lives in Variable `siem_checkpoint`.
"""

from datetime import datetime

from airflow.sdk import DAG, task

from auth0_webhooks.commit import CheckpointStore
from auth0_webhooks.hooks.auth0 import Auth0Hook
from auth0_webhooks.operators.logs_to_webhook import LogsToWebhookOperator
from auth0_webhooks.read import read_units
from auth0_webhooks.settings import parse_settings

CHECKPOINT = CheckpointStore("siem_checkpoint")
SETTINGS = parse_settings({"batch_size": 50, "log_types": ["f", "fu", "fp", "fs"], "max_run_seconds": 120})

with DAG("auth0_failures_to_siem", schedule="*/10 * * * *", start_date=datetime(2026, 1, 1),
         catchup=False, max_active_runs=1):

    @task(show_return_value_in_logs=False)  # the logs are personal data: keep them out of task logs
    def read() -> list[str]:
        client = Auth0Hook(auth0_conn_id="tenant_eu").get_conn()
        return [unit.to_xcom() for unit in read_units(client, CHECKPOINT.read(), SETTINGS)]

    units = read()
    delivered = LogsToWebhookOperator.partial(
        task_id="deliver", webhook_conn_id="siem_webhook", send_as_batch=SETTINGS.send_as_batch,
        max_active_tis_per_dagrun=3,
    ).expand(units=units)

    @task(trigger_rule="all_done")
    def commit(units: list[str]) -> None:
        CHECKPOINT.advance(units, delivered_by="deliver")  # never past a log the webhook has not acknowledged

    delivered >> commit(units)
