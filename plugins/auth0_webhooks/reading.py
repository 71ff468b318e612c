"""Where a run starts reading, and the read itself (pages of logs into a Planner).

Start, in order of precedence:
1. a START_FROM setting whose value changed since it was last applied (applied once, as in
   the original): a log id means "continue after it", a date "from the first log at or after it";
2. the stored checkpoint;
3. nothing stored: the oldest log the tenant still retains.
A checkpoint older than the tenant's retention is answered with HTTP 400: the run then goes on
from the oldest retained log and records the gap, so the operator is told what was lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from auth0_webhooks.auth0_client import Auth0LogsClient, CheckpointExpired
from auth0_webhooks.planning import Plan, Planner
from auth0_webhooks.settings import StartFrom, parse_date

log = logging.getLogger(__name__)


@dataclass
class StartPoint:
    """Where reading starts: after `checkpoint`, after `first_log` (which is included), or nowhere."""

    reason: str
    checkpoint: str | None = None
    first_log: dict | None = None
    start_from_applied: str | None = None


@dataclass
class Gap:
    """Logs lost to retention between an expired checkpoint and the oldest retained log."""

    expired_checkpoint: str
    expired_checkpoint_date: str | None
    oldest_retained_log_id: str | None
    oldest_retained_date: str | None

    def span(self) -> str:
        """How much time the lost logs cover, when both ends are dated."""
        start, end = parse_date(self.expired_checkpoint_date or ""), parse_date(self.oldest_retained_date or "")
        if start is None or end is None:
            return "of unknown length (the checkpoint's date was not recorded)"
        seconds = max(0, int((end - start).total_seconds()))
        days, rest = divmod(seconds, 86400)
        return f"of {days} d {rest // 3600} h {rest % 3600 // 60} min"

    def describe(self) -> str:
        since = f" (dated {self.expired_checkpoint_date})" if self.expired_checkpoint_date else ""
        until = (
            f"the oldest retained log {self.oldest_retained_log_id} dated {self.oldest_retained_date}"
            if self.oldest_retained_log_id
            else "now (the tenant retains no logs)"
        )
        return (
            f"checkpoint {self.expired_checkpoint}{since} is older than the tenant's log retention: "
            f"a gap {self.span()}: logs from it to {until} are no longer available and were not delivered"
        )


@dataclass
class ReadResult:
    """What the read step produced."""

    plan: Plan
    start: StartPoint
    caught_up: bool
    gap: Gap | None = None
    stopped_by: str = "caught up"  # or "max_logs", "deadline"


def resolve_start(
    client: Auth0LogsClient,
    stored_checkpoint: str | None,
    start_from: StartFrom | None,
    applied_start_from: str | None,
) -> StartPoint:
    """Decide where this run starts (see the module docstring)."""
    if start_from is not None and start_from.raw != applied_start_from:
        if start_from.log_id is not None:
            return StartPoint(f"START_FROM log {start_from.log_id}", checkpoint=start_from.log_id,
                              start_from_applied=start_from.raw)
        first = client.first_log(since=start_from.date)
        return StartPoint(f"START_FROM date {start_from.raw}", first_log=first, start_from_applied=start_from.raw)
    if stored_checkpoint:
        return StartPoint("stored checkpoint", checkpoint=stored_checkpoint)
    return StartPoint("no checkpoint yet: oldest retained log", first_log=client.first_log())


def read_logs(
    client: Auth0LogsClient,
    start: StartPoint,
    planner: Planner,
    *,
    take: int,
    max_logs: int | None,
    deadline: float | None = None,
    checkpoint_date: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_page: Callable[[], None] = lambda: None,
) -> ReadResult:
    """Page through logs from `start` into `planner` until caught up, `max_logs` or `deadline`.

    `on_page` runs after each page is planned (the read step publishes the units it closed)."""
    gap: Gap | None = None
    after = start.checkpoint
    if start.first_log is not None:
        planner.add([start.first_log])
        after = str(start.first_log["log_id"])
    if after is None:
        return ReadResult(planner.plan, start, caught_up=True)
    while True:
        try:
            page = client.logs_after(after, take)
        except CheckpointExpired as expired:
            if gap is not None or planner.plan.logs_read:
                raise  # expired in the middle of a run: let the next run start over cleanly
            oldest = client.first_log()
            gap = Gap(expired.checkpoint, checkpoint_date,
                      oldest and str(oldest["log_id"]), oldest and oldest.get("date"))
            log.error("%s", gap.describe())
            if oldest is None:
                return ReadResult(planner.plan, start, caught_up=True, gap=gap)
            planner.add([oldest])
            after = str(oldest["log_id"])
            continue
        planner.add(page)
        on_page()
        if page:
            after = str(page[-1]["log_id"])
        if len(page) < take:
            return ReadResult(planner.plan, start, caught_up=True, gap=gap)
        if max_logs is not None and planner.plan.logs_read >= max_logs:
            return ReadResult(planner.plan, start, caught_up=False, gap=gap, stopped_by="max_logs")
        if deadline is not None and clock() >= deadline:
            return ReadResult(planner.plan, start, caught_up=False, gap=gap, stopped_by="deadline")
