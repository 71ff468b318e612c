"""Cut the logs one run reads into deliveries (one request each) and units (one XCom each).

Every delivery carries the checkpoint that is safe once it is acknowledged: the id of the last
log read before the first log of the next delivery, so that logs the filter dropped are passed
over with the delivery before them. Logs dropped before the first delivery move the checkpoint
on their own (`lead_checkpoint`). Pure functions, plain data: what goes into XCom.

A Planner cuts units while the read goes on (`closed_units`), so that a run holds at most one
unit of logs at a time, and its state can be handed to the task that continues the read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping


@dataclass
class Delivery:
    """One request's logs and the checkpoint that is safe once the webhook acknowledged them."""

    logs: list[dict]
    checkpoint: str
    checkpoint_date: str | None = None

    def to_xcom(self) -> dict:
        return {"logs": self.logs, "checkpoint": self.checkpoint, "checkpoint_date": self.checkpoint_date}

    @classmethod
    def from_xcom(cls, value: Mapping) -> "Delivery":
        return cls(list(value["logs"]), str(value["checkpoint"]), value.get("checkpoint_date"))


@dataclass
class Plan:
    """What one run will send, and where the checkpoint goes as it is acknowledged."""

    deliveries: list[Delivery] = field(default_factory=list)
    lead_checkpoint: str | None = None
    lead_checkpoint_date: str | None = None
    logs_read: int = 0
    logs_kept: int = 0
    last_log_id: str | None = None
    last_log_date: str | None = None


class Planner:
    """Builds a Plan from pages of logs as they arrive, so that a run never holds two copies.

    `plan.deliveries` holds the deliveries not yet taken out as units.
    """

    def __init__(
        self, keep: Callable[[Mapping], bool], batch_size: int, send_as_batch: bool,
        deliveries_per_unit: int | None = None,
    ) -> None:
        self.keep = keep
        self.size = batch_size if send_as_batch else 1
        self.per_unit = deliveries_per_unit
        self.plan = Plan()

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

    def state(self) -> dict:
        """Everything needed to go on with this plan in another task (JSON-able)."""
        plan = self.plan
        return {
            "deliveries": [delivery.to_xcom() for delivery in plan.deliveries],
            "lead": [plan.lead_checkpoint, plan.lead_checkpoint_date],
            "logs_read": plan.logs_read, "logs_kept": plan.logs_kept,
            "last": [plan.last_log_id, plan.last_log_date],
        }

    def restore(self, state: Mapping) -> "Planner":
        """Go on with a plan saved by `state()`."""
        self.plan = Plan(
            deliveries=[Delivery.from_xcom(value) for value in state["deliveries"]],
            lead_checkpoint=state["lead"][0], lead_checkpoint_date=state["lead"][1],
            logs_read=int(state["logs_read"]), logs_kept=int(state["logs_kept"]),
            last_log_id=state["last"][0], last_log_date=state["last"][1],
        )
        return self

    def add(self, logs: Iterable[dict]) -> None:
        """Add logs in id order."""
        plan, deliveries = self.plan, self.plan.deliveries
        for entry in logs:
            log_id, date = str(entry["log_id"]), entry.get("date")
            plan.logs_read += 1
            if self.keep(entry):
                plan.logs_kept += 1
                if not deliveries or len(deliveries[-1].logs) >= self.size:
                    deliveries.append(Delivery([], log_id))
                deliveries[-1].logs.append(entry)
            if deliveries:
                deliveries[-1].checkpoint, deliveries[-1].checkpoint_date = log_id, date
            else:
                plan.lead_checkpoint, plan.lead_checkpoint_date = log_id, date
            plan.last_log_id, plan.last_log_date = log_id, date


def plan_deliveries(
    logs: Iterable[dict], keep: Callable[[Mapping], bool], batch_size: int, send_as_batch: bool
) -> Plan:
    """A Plan for logs already in hand (see Planner)."""
    planner = Planner(keep, batch_size, send_as_batch)
    planner.add(logs)
    return planner.plan


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


def unit_label(unit: list[Delivery]) -> str:
    """The log-id range a unit carries, as shown for its mapped task in the UI."""
    count = sum(len(delivery.logs) for delivery in unit)
    return f"{unit[0].logs[0]['log_id']}..{unit[-1].logs[-1]['log_id']} ({count} logs)"
