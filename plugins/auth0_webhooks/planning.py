"""Cut the logs one run reads into deliveries (one request each) and units (one XCom each).

Every delivery carries the checkpoint that is safe once it is acknowledged: the id of the last
log read before the first log of the next delivery, so that logs the filter dropped are passed
over with the delivery before them. Logs dropped before the first delivery move the checkpoint
on their own (`lead`). Pure functions, plain data: what goes into XCom.

A Planner cuts units while the read goes on (`closed_units`), so that a run holds at most one
unit of logs at a time, and its state can be handed to the task that continues the read.

Logs inside a span an earlier run acknowledged (`AcknowledgedSpan`: after log `after`, up to and
including log `through`) are skipped like filtered-out logs: not sent, passed over by the checkpoint
of the delivery before them. The delivery (or the lead) that passes over a whole span notes it
(`Delivery.skipped`), so that the commit knows when the checkpoint has passed it.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Mapping

from auth0_webhooks.protocol import AcknowledgedSpan, Checkpoint, Delivery, Plan


class Planner:
    """Builds a Plan from pages of logs as they arrive, so that a run never holds two copies.

    `plan.deliveries` holds the deliveries not yet taken out as units.
    """

    def __init__(
        self, keep: Callable[[Mapping], bool], batch_size: int, send_as_batch: bool,
        deliveries_per_unit: int | None = None, acknowledged: Iterable[AcknowledgedSpan] = (),
    ) -> None:
        self.keep = keep
        self.size = batch_size if send_as_batch else 1
        self.per_unit = deliveries_per_unit
        self.plan = Plan()
        self.spans = {span.after: span.through for span in acknowledged}

    def begin_after(self, log_id: str) -> None:
        """The read goes on after log `log_id` (its start checkpoint, or a log just read): when an
        acknowledged span begins after it, skip that span's logs."""
        if self.plan.skipping is None and log_id in self.spans:
            self.plan.skipping = log_id

    def restore(self, plan: Plan) -> "Planner":
        """Go on with a plan read by another task (read_logs hands it to read_more, with the same spans)."""
        self.plan = plan
        if plan.skipping not in self.spans:
            plan.skipping = None  # not this planner's span: send rather than skip blindly
        return self

    def closed_units(self) -> list[list[Delivery]]:
        """Take out every full unit whose checkpoints can no longer move (a later delivery began)."""
        deliveries, units = self.plan.deliveries, []
        while self.per_unit and len(deliveries) > self.per_unit:
            units.append(deliveries[: self.per_unit])
            del deliveries[: self.per_unit]
        return units

    def closed_rest(self) -> list[Delivery]:
        """Take out every delivery but the last, whose checkpoint may still move over dropped logs."""
        deliveries = self.plan.deliveries
        closed = deliveries[:-1]
        del deliveries[:-1]
        return closed

    def add(self, logs: Iterable[dict]) -> None:
        """Add logs in id order."""
        plan, deliveries = self.plan, self.plan.deliveries
        for entry in logs:
            position = Checkpoint(str(entry["log_id"]), entry.get("date"))
            plan.logs_read += 1
            if plan.skipping is not None:  # acknowledged by an earlier run: passed over, not sent
                plan.logs_skipped += 1
                if position.log_id == self.spans[plan.skipping]:
                    (deliveries[-1].skipped if deliveries else plan.lead_skipped).append(plan.skipping)
                    plan.skipping = None
            elif self.keep(entry):
                plan.logs_kept += 1
                if not deliveries or len(deliveries[-1].logs) >= self.size:
                    deliveries.append(Delivery([], position))
                deliveries[-1].logs.append(entry)
            if deliveries:
                deliveries[-1].checkpoint = position
            else:
                plan.lead = position
            plan.last = position
            self.begin_after(position.log_id)


def split_into_units(
    deliveries: list[Delivery], *, logs_per_unit: int, min_units: int
) -> list[list[Delivery]]:
    """Contiguous groups of deliveries, one per mapped task instance.

    At least `min_units` groups when there is enough to share (so that every allowed concurrent
    call has work), and no group holds much more than `logs_per_unit` logs (so that Airflow's
    per-task cost is paid once per many requests, and a failed task re-sends little).
    """
    if not deliveries:
        return []
    total_logs = sum(len(d.logs) for d in deliveries)
    count = max(min_units, math.ceil(total_logs / max(1, logs_per_unit)))
    count = min(count, len(deliveries))
    units: list[list[Delivery]] = []
    start = 0
    for index in range(count):
        end = round(len(deliveries) * (index + 1) / count)
        units.append(deliveries[start:end])
        start = end
    return units
