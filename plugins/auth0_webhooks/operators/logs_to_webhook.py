"""LogsToWebhookOperator: deliver units of Auth0 logs to a webhook, in order, resuming after a retry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

from auth0_webhooks.deliver import Delivered, GivenUnits, Progress, ReaderNotStarted, UnitMissing, deliver_units, \
    figures, live_stripe
from auth0_webhooks.hooks.webhook import WebhookConfigError, WebhookHook
from auth0_webhooks.names import WEBHOOK_CONN_ID
from auth0_webhooks.protocol import PROGRESS_KEY, LiveRun
from auth0_webhooks.runtime import DeliveryPaused, pause_delivery
from auth0_webhooks.webhook_client import DEFAULT_CONTENT_FORMAT, WebhookDeliveryError, content_type

RESCHEDULE_AFTER = timedelta(seconds=2)


class LogsToWebhookOperator(BaseOperator):
    """POST units of Auth0 logs (from `auth0_webhooks.read.read_units`) to a webhook, in order.

    Each delivery of a unit is one request: a JSON array of logs when `send_as_batch`, else one
    JSON object; or, in `content_format` "json_lines", one log per line. One request at a time per task, so N mapped instances never have more than N
    calls in flight. The task stops at the first request the webhook does not acknowledge
    (nothing is skipped); only 2xx counts. What was acknowledged is kept in the task state store,
    so that a retry, even of a killed task, resumes after the last acknowledged request, and is
    returned (a SlotReport, as XCom) for `CheckpointStore.advance`. A permanent refusal (4xx)
    fails the task without retries; 410 Gone also pauses delivery until an operator resumes it.

    :param units: a unit, or a list of units, as `read_units` returns them (XCom values of
        `protocol.Unit`); map the operator over them for concurrent calls.
    :param webhook_conn_id: the webhook connection: host is the full URL, password the exact
        Authorization value; extras `timeout`, `headers`, `signing_secret`, `max_attempts`.
    :param send_as_batch: one request per batch (a JSON array) or one per log (a JSON object).
    :param content_format: the body of each request: ``"json_array"`` (default; Content-Type
        ``application/json``: an array per batch, an object per log) or ``"json_lines"`` (Content-Type
        ``application/x-ndjson``: one log per line, every line ending with a newline, so one line per
        request when not `send_as_batch`). The signature covers the exact bytes sent; ``webhook-id``
        depends on the logs only.
    :param slot: internal, for the shipped DAG's delivery slots (`units` is then a live run).
    """

    template_fields: Sequence[str] = ("webhook_conn_id",)
    ui_color = "#eb5424"

    def __init__(self, *, units: Any, webhook_conn_id: str = WEBHOOK_CONN_ID, send_as_batch: bool = True,
                 content_format: str = DEFAULT_CONTENT_FORMAT, slot: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        content_type(content_format)  # a wrong format fails here, naming the allowed ones
        self.units, self.webhook_conn_id, self.send_as_batch, self.slot = units, webhook_conn_id, send_as_batch, slot
        self.content_format = content_format

    def execute(self, context: Context) -> dict:
        ti = context["ti"]
        live = LiveRun.from_xcom(self.units)
        source = GivenUnits(self.units) if live is None else live_stripe(ti, live, int(self.slot or 0))
        as_batch = self.send_as_batch if live is None else live.send_as_batch
        content_format = self.content_format if live is None else live.content_format
        context["delivery_label"] = f"slot {int(self.slot or 0) + 1} of {live.slots}" if live else "units"
        progress = Progress(context.get("task_state_store"), source.read_id,
                            lambda report: ti.xcom_push(key=PROGRESS_KEY, value=report))
        sender = None
        done, publish = Delivered(), lambda: progress.publish(**figures(source, sender))
        if progress.report.units:  # a retry or a reschedule: Airflow cleared this task's XCom; say what is done
            publish()
        try:
            sender = WebhookHook(webhook_conn_id=self.webhook_conn_id).get_conn()
            deliver_units(sender, source, progress, as_batch, done, content_format)
        except ReaderNotStarted as waiting:
            progress.save()
            publish()
            self.log.info("%s; this slot comes back in %s", waiting, RESCHEDULE_AFTER)
            raise AirflowRescheduleException(datetime.now(timezone.utc) + RESCHEDULE_AFTER) from None
        except (WebhookConfigError, DeliveryPaused, UnitMissing, WebhookDeliveryError) as error:
            progress.fail(done.current, str(error))
            progress.save()
            publish()
            if isinstance(error, WebhookDeliveryError) and error.gone:
                pause_delivery(str(error), str(getattr(ti, "run_id", "")))
            if not isinstance(error, WebhookDeliveryError) or error.permanent:  # retrying cannot help
                raise AirflowFailException(str(error)) from None
            raise
        report = publish()
        context["delivery_label"] += f": {done.logs} logs in {done.units} units"
        self.log.info("Delivered %d logs of %d units in %d requests to %s (%d retried; %.1f s waiting for the "
                      "reader)", done.logs, done.units, sender.stats.requests, sender.target, sender.stats.retries,
                      source.waited_seconds)
        return report.to_xcom()
