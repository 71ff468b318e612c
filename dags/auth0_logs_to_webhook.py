"""Auth0 logs to a webhook: read new tenant logs, deliver them (mapped slots), commit the checkpoint.

Wiring only: the logic lives in the `auth0_webhooks` package. Settings: Variable
`auth0_webhooks_config`; checkpoint: Variable `auth0_webhooks_checkpoint`; connections
`auth0_default`, `auth0_webhook`, `auth0_slack` (optional). One more DAG,
`auth0_logs_to_webhook__<name>`, per entry of the Variable `auth0_webhooks_pipelines`. See the README.

`read_logs` reads for a couple of seconds and plans the run; when a backlog remains,
`read_more` goes on reading (at the API's rate limit, within the run's time budget) while the
`deliver` slots, one per allowed concurrent call (`webhook_concurrent_calls`), send what has
been read; `commit` moves the checkpoint over what the webhook acknowledged. A run with nothing
new runs `read_logs` and `commit` only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from auth0_webhooks.commit import commit_step
from auth0_webhooks.names import DELIVER_TASK_ID, MORE_TASK_ID, READ_TASK_ID
from auth0_webhooks.notifications import retry_alert
from auth0_webhooks.operators.logs_to_webhook import LogsToWebhookOperator
from auth0_webhooks.pipelines import Pipeline, parse_time_pipelines
from auth0_webhooks.read import REPLAY_BUDGET_SECONDS, read_first, read_more as continue_reading
from auth0_webhooks.scheduling import backlog_alias, dag_schedule
from auth0_webhooks.settings import Settings


def pipeline_dag(pipeline: Pipeline, settings: Settings, problem: str | None) -> DAG:
    run_timeout = timedelta(seconds=max(settings.run_budget_seconds, REPLAY_BUDGET_SECONDS)) + timedelta(minutes=30)
    with DAG(
        dag_id=pipeline.dag_id,
        description="Ships Auth0 tenant logs to a webhook; nothing lost, nothing leaked",
        schedule=dag_schedule(pipeline.dag_id, settings, pipeline=pipeline),  # cron; at once while a backlog remains
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,  # live runs; a backfill's runs are bounded by the backfill's own limit
        max_active_tasks=max(16, settings.webhook_concurrent_calls + 3),
        doc_md=__doc__ + (f"\n\n**Settings problem:** {problem}" if problem else ""),
        tags=["auth0", "webhook"] + ([f"pipeline:{pipeline.name}"] if pipeline.name else []),
        params={
            "dry_run": Param(False, type="boolean", description="Read and filter only: send nothing, move nothing."),
            "max_logs": Param(None, type=["null", "integer"], minimum=1, description="Read at most this many logs."),
            "start_from": Param(None, type=["null", "string"],
                                description="This run only: a log_id to continue after, or an ISO date."),
            "replay_start": Param(None, type=["null", "string"], format="date-time",
                                  description="Replay the logs dated from this date (with replay_end); "
                                              "the live checkpoint is left alone."),
            "replay_end": Param(None, type=["null", "string"], format="date-time",
                                description="End of the replay window (excluded)."),
            "send_test_payload": Param(False, type="boolean",
                                       description="Send one sample event to the webhook, signed as a real "
                                                   "delivery, and report the answer; nothing is read or moved."),
        },
        default_args={
            "retries": settings.task_retries,
            "retry_delay": timedelta(seconds=settings.task_retry_delay_seconds),
            "retry_exponential_backoff": 2.0,  # a multiplier in Airflow 3.3: True would mean 1.0, no backoff
            "max_retry_delay": timedelta(hours=1),
            "on_retry_callback": retry_alert(pipeline.slack_conn_id),  # the first alert, while retries go on
        },
    ) as dag:

        @task(task_id=READ_TASK_ID, execution_timeout=timedelta(minutes=30))
        def read_logs(slots: int, **context):
            return read_first(context, slots)

        # Retrying a half-done read would publish its units twice: a failed read_more ends the run's
        # read, the commit keeps what was delivered, and the next run goes on from there.
        @task(task_id=MORE_TASK_ID, retries=0, priority_weight=100, weight_rule="absolute",
              execution_timeout=run_timeout, map_index_template="continued read")
        def read_more(run: dict, **context):
            return continue_reading(context, run)

        @task(trigger_rule="all_done", retries=0, outlets=[backlog_alias(pipeline.dag_id)])
        def commit(**context):
            return commit_step(context)

        slots = settings.webhook_concurrent_calls
        plan = read_logs(slots)  # [live run] when there is anything to deliver, [] otherwise: nothing is mapped
        continued = read_more.expand(run=plan)
        delivered = LogsToWebhookOperator.partial(  # one slot per allowed concurrent call
            task_id=DELIVER_TASK_ID,
            webhook_conn_id=pipeline.webhook_conn_id,
            map_index_template="{{ delivery_label }}",
            execution_timeout=run_timeout,
        ).expand(units=plan, slot=list(range(slots)))
        [continued, delivered] >> commit()
    return dag


for pipeline, settings, problem in parse_time_pipelines():
    globals()[pipeline.dag_id] = pipeline_dag(pipeline, settings, problem)
