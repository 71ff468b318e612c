"""LogsToWebhookOperator: deliver one unit of logs to the webhook and report what was acknowledged."""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from auth0_webhooks.hooks.webhook import WebhookConfigError, WebhookHook
from auth0_webhooks.names import WEBHOOK_CONN_ID
from auth0_webhooks.variables import DeliveryPaused, pause_delivery, raise_if_paused
from auth0_webhooks.webhook_client import WebhookDeliveryError, encode, webhook_id

PROGRESS_KEY = "progress"
_RESUME_KEY = "acknowledged"
SAVE_EVERY_SECONDS = 1.0  # how often a running unit records its progress for a retry to resume from


def unit_progress(deliveries: Sequence[Mapping], acked: int, error: str | None = None) -> dict:
    """The progress report the commit step reads: how far this unit's acknowledged prefix goes."""
    last = deliveries[acked - 1] if acked else None
    return {
        "acked": acked,
        "deliveries": len(deliveries),
        "logs_acked": sum(len(d["logs"]) for d in deliveries[:acked]),
        "checkpoint": last["checkpoint"] if last else None,
        "checkpoint_date": last.get("checkpoint_date") if last else None,
        "error": error,
    }


class LogsToWebhookOperator(BaseOperator):
    """POST a unit's deliveries to the webhook in order, one request at a time.

    `unit` is a descriptor made by the read step: `label`, `send_as_batch`, and either the
    `deliveries` themselves or `xcom` = {"task_id", "key"} where they are stored (so that the
    expanded list stays small). Each delivery is `{"logs", "checkpoint"}`: in batch mode its
    logs go as one JSON array, otherwise it holds one log, sent as one JSON object.

    Deliveries stop at the first one the webhook does not acknowledge: nothing is skipped. The
    acknowledged prefix is pushed to XCom (`progress`) whether the task succeeds or fails, and
    kept in the task state store (on failure, and every second while sending), so that a retry,
    even of a task that was killed, resumes after the last acknowledged request.
    A permanent refusal (4xx, 410 Gone) fails the task without Airflow retries.
    """

    template_fields: Sequence[str] = ("webhook_conn_id",)
    ui_color = "#eb5424"

    def __init__(self, *, unit: Mapping[str, Any], webhook_conn_id: str = WEBHOOK_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unit = unit
        self.webhook_conn_id = webhook_conn_id

    def _deliveries(self, context: Mapping[str, Any]) -> list[dict]:
        if "deliveries" in self.unit:
            return list(self.unit["deliveries"])
        ref = self.unit["xcom"]
        stored = context["ti"].xcom_pull(task_ids=ref["task_id"], key=ref["key"], map_indexes=None)
        if stored is None:
            raise AirflowFailException(f"the logs of unit {self.unit.get('label')} are missing from XCom {ref}")
        return stored

    def execute(self, context: Any) -> dict:
        ti = context["ti"]
        label = str(self.unit.get("label") or "")
        context["unit_label"] = label  # rendered by map_index_template="{{ unit_label }}"
        deliveries = self._deliveries(context)
        as_batch = bool(self.unit.get("send_as_batch", True))
        progress = UnitProgress(deliveries, label, context.get("task_state_store"))
        if progress.acked:
            self.log.info("Resuming after %d deliveries acknowledged by an earlier try", progress.acked)
        try:
            sender = WebhookHook(self.webhook_conn_id).get_conn()
            raise_if_paused()
            checked_at = time.monotonic()
            for delivery in deliveries[progress.acked:]:
                sender.send(encode(delivery["logs"], as_batch), webhook_id(delivery["logs"]))
                progress.acknowledge()
                if time.monotonic() - checked_at >= SAVE_EVERY_SECONDS:
                    raise_if_paused()  # another unit met a 410 Gone
                    checked_at = time.monotonic()
        except (WebhookConfigError, DeliveryPaused) as error:  # retrying cannot help: fail now
            progress.report(ti, str(error))
            raise AirflowFailException(str(error)) from None
        except WebhookDeliveryError as error:
            progress.report(ti, str(error))
            progress.save()
            if error.gone:
                pause_delivery(str(error), str(getattr(ti, "run_id", "")))
            if error.permanent:
                raise AirflowFailException(str(error)) from None
            raise
        result = progress.report(ti)
        progress.finish()
        self.log.info(
            "Delivered %d logs in %d requests to %s (%d retried)",
            result["logs_acked"], sender.stats.requests, sender.target, sender.stats.retries,
        )
        return result


class UnitProgress:
    """How far a unit got: saved for a retry to resume from, reported for the commit step."""

    def __init__(self, deliveries: list[dict], label: str, state: Any) -> None:
        self.deliveries, self.label, self.state = deliveries, label, state
        self.acked = _resume_point(state, label, len(deliveries))
        self._saved_at = time.monotonic()

    def acknowledge(self) -> None:
        """One more delivery acknowledged; saved at most every SAVE_EVERY_SECONDS."""
        self.acked += 1
        if time.monotonic() - self._saved_at >= SAVE_EVERY_SECONDS:
            self.save()

    def save(self) -> None:
        """Record the acknowledged prefix in the task state store (it survives retries and kills)."""
        if self.state is not None and self.acked:
            self.state.set(_RESUME_KEY, {"unit": self.label, "acked": self.acked})
            self._saved_at = time.monotonic()

    def report(self, ti: Any, error: str | None = None) -> dict:
        """Push the progress report to XCom (read by the commit step) and return it."""
        value = unit_progress(self.deliveries, self.acked, error)
        ti.xcom_push(key=PROGRESS_KEY, value=value)
        return value

    def finish(self) -> None:
        """The unit is complete: nothing to resume any more."""
        if self.state is not None:
            self.state.delete(_RESUME_KEY)


def _resume_point(state: Any, label: str, total: int) -> int:
    """Deliveries an earlier try of this same unit already had acknowledged (0 if none)."""
    if state is None:
        return 0
    saved = state.get(_RESUME_KEY)
    if isinstance(saved, dict) and saved.get("unit") == label:
        return min(int(saved.get("acked", 0)), total)
    return 0
