"""LogsToWebhookOperator: one delivery slot; sends its stripe of the run's units to the webhook, in order."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

from auth0_webhooks.hooks.webhook import WebhookConfigError, WebhookHook
from auth0_webhooks.names import SUMMARY_KEY, WEBHOOK_CONN_ID
from auth0_webhooks.progress import PROGRESS_KEY, SlotProgress
from auth0_webhooks.units import ReaderNotStarted, UnitMissing, UnitSource, decode_unit, stripe, unit_key
from auth0_webhooks.xcom_cleanup import delete_xcom
from auth0_webhooks.variables import DeliveryPaused, pause_delivery, raise_if_paused
from auth0_webhooks.webhook_client import WebhookDeliveryError, encode, webhook_id

__all__ = ["LogsToWebhookOperator", "PROGRESS_KEY"]

CHECK_PAUSE_EVERY_SECONDS = 1.0
RESCHEDULE_AFTER = timedelta(seconds=2)


class LogsToWebhookOperator(BaseOperator):
    """POST the deliveries of units slot, slot + slots, slot + 2*slots, ... to the webhook.

    `slot` is this slot's number (from 0) and `slots` how many the run has. `run` is the read
    step's descriptor: `send_as_batch`, and where the units are: `first_task` published units
    below `first_units`; `more_task` (or None) publishes the rest while this slot runs, and this
    slot waits for them. Each unit is a list of
    deliveries `{"logs", "checkpoint"}`: in batch mode its logs go as one JSON array, otherwise it
    holds one log, sent as one JSON object. One request at a time per slot, so a run with `n`
    slots never has more than `n` calls in flight.

    Within its stripe a slot stops at the first delivery the webhook does not acknowledge:
    nothing is skipped. Progress is pushed to XCom (`progress`) after every unit and whatever
    happens, and kept in the task state store, so that a retry (even of a killed task) resumes
    after the last acknowledged request. A unit acknowledged in full is deleted from XCom.
    A permanent refusal (4xx, 410 Gone) fails the task without Airflow retries.
    """

    template_fields: Sequence[str] = ("webhook_conn_id",)
    ui_color = "#eb5424"

    def __init__(
        self, *, slot: int, slots: int, run: Mapping[str, Any], webhook_conn_id: str = WEBHOOK_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.slot, self.slots, self.run = slot, slots, run
        self.webhook_conn_id = webhook_conn_id

    def execute(self, context: Any) -> dict:
        ti = context["ti"]
        number, slots = int(self.slot), int(self.slots)
        context["slot_label"] = f"slot {number + 1} of {slots}"  # map_index_template="{{ slot_label }}"
        progress = SlotProgress(context.get("task_state_store"), self.run.get("read_id"))
        source = self._source(ti)
        as_batch = bool(self.run.get("send_as_batch", True))
        delivered = {"units": 0, "logs": 0, "largest_unit_bytes": 0}
        index: int | None = None
        if progress.units:  # a retry or a reschedule: Airflow cleared this slot's XCom; say what is done
            progress.report(ti, **self._extra(source, delivered))
        try:
            sender = WebhookHook(self.webhook_conn_id).get_conn()
            raise_if_paused()
            checked_at = time.monotonic()
            for index in stripe(number, slots):
                if progress.is_complete(index):
                    continue  # acknowledged by an earlier try of this slot (and deleted from XCom)
                value = source.get(index)
                if value is None:
                    if index < source.first_count:
                        raise UnitMissing(f"the logs of unit {index} are missing from XCom")
                    break
                delivered["largest_unit_bytes"] = max(delivered["largest_unit_bytes"], len(value))
                deliveries = decode_unit(value)
                acked = progress.begin(index, deliveries)
                for delivery in deliveries[acked:]:
                    sender.send(encode(delivery["logs"], as_batch), webhook_id(delivery["logs"]))
                    progress.acknowledge(index, delivery)
                    delivered["logs"] += len(delivery["logs"])
                    if time.monotonic() - checked_at >= CHECK_PAUSE_EVERY_SECONDS:
                        raise_if_paused()  # another slot met a 410 Gone
                        checked_at = time.monotonic()
                progress.save()
                self._release(ti, source.location(index), index)
                delivered["units"] += 1
                progress.report(ti, **self._extra(source, delivered))
            index = None
        except ReaderNotStarted as waiting:
            progress.save()
            progress.report(ti, **self._extra(source, delivered))
            self.log.info("%s; this slot comes back in %s", waiting, RESCHEDULE_AFTER)
            raise AirflowRescheduleException(datetime.now(timezone.utc) + RESCHEDULE_AFTER) from None
        except (WebhookConfigError, DeliveryPaused, UnitMissing) as error:  # retrying cannot help: fail now
            progress.fail(index, str(error))
            progress.report(ti, **self._extra(source, delivered))
            raise AirflowFailException(str(error)) from None
        except WebhookDeliveryError as error:
            progress.fail(index, str(error))
            progress.save()
            progress.report(ti, **self._extra(source, delivered))
            if error.gone:
                pause_delivery(str(error), str(getattr(ti, "run_id", "")))
            if error.permanent:
                raise AirflowFailException(str(error)) from None
            raise
        result = progress.report(ti, **self._extra(source, delivered))
        context["slot_label"] += f": {delivered['logs']} logs in {delivered['units']} units"
        self.log.info(
            "Delivered %d logs of %d units in %d requests to %s (%d retried; %.1f s waiting for the reader)",
            delivered["logs"], delivered["units"], sender.stats.requests, sender.target, sender.stats.retries,
            source.waited_seconds,
        )
        return {key: result[key] for key in ("error", "peak_rss_mb")} | {"units": len(result["units"])}

    def _source(self, ti: Any) -> UnitSource:
        more_task = self.run.get("more_task")

        def pull(task_id: str, map_index: int, key: str) -> Any:
            return ti.xcom_pull(task_ids=task_id, key=key, map_indexes=map_index if map_index >= 0 else None)

        def reader_state() -> str | None:
            states = ti.get_task_states(dag_id=ti.dag_id, task_ids=[more_task], run_ids=[ti.run_id])
            run_states = (states or {}).get(ti.run_id) or {}
            return run_states.get(f"{more_task}_0", run_states.get(more_task))

        return UnitSource(
            pull, first_task=self.run["first_task"], first_count=int(self.run["first_units"]),
            more_task=more_task, reader_state=reader_state, summary_key=SUMMARY_KEY,
        )

    @staticmethod
    def _release(ti: Any, where: tuple[str, int] | None, index: int) -> None:
        """Delete an acknowledged unit's logs from XCom: no copy of them lingers in Airflow's database."""
        if where is not None:
            delete_xcom(ti, where[0], unit_key(index), where[1])

    @staticmethod
    def _extra(source: UnitSource, delivered: Mapping[str, int]) -> dict:
        return {
            "largest_unit_bytes": delivered["largest_unit_bytes"],
            "waited_for_reader_seconds": round(source.waited_seconds, 1),
        }
