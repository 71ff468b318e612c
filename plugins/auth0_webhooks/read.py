"""Step 1 of a run, read: where to start, pages at the rate limit, filtered and cut into units.

Where: a START_FROM that changed since it was applied, else the stored checkpoint, else the
oldest retained log; a checkpoint past the tenant's retention restarts from the oldest retained
log and reports the gap. In the shipped DAG `read_logs` (read_first) reads for FIRST_READ_SECONDS
and hands a backlog over to `read_more`; `read_units` is the same read in one go, for your own DAG.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from auth0_webhooks.auth0_client import MAX_TAKE, Auth0AuthError, Auth0LogsClient, CheckpointExpired
from auth0_webhooks.hooks.auth0 import Auth0Hook
from auth0_webhooks.log_types import LogFilter
from auth0_webhooks.names import DELIVER_TASK_ID, MORE_TASK_ID, READ_TASK_ID
from auth0_webhooks.pipelines import Pipeline, current_pipeline
from auth0_webhooks.planning import Planner, split_into_units
from auth0_webhooks.test_payload import send_test_payload
from auth0_webhooks.webhook_client import encode
from auth0_webhooks.protocol import ERROR_KEY, HANDOVER_KEY, PROGRESS_KEY, SUMMARY_KEY, TEST_PAYLOAD_KEY, \
    AcknowledgedSpan, Checkpoint, Delivery, Handover, LiveRun, PipelineState, ReadJob, ReadSummary, RunInfo, SlotReport, Unit, acknowledged_units, \
    unit_key
from auth0_webhooks.settings import Settings, SettingsError, StartFrom, parse_date, parse_start_from
from auth0_webhooks import runtime
from auth0_webhooks.runtime import DeliveryPaused, delete_xcom, peak_rss_mb, raise_if_paused

log = logging.getLogger(__name__)

FIRST_READ_SECONDS = 2.0  # read_logs reads this long, then hands over, so that the slots start early
BACKLOG_UNITS_PER_SLOT = 4  # read_more holds back while more units than this per slot await delivery
REPLAY_BUDGET_SECONDS = 3600  # a replay reads its whole window, for up to this long (or max_run_seconds if longer)
SAMPLE_LOGS = 3  # a dry run shows this many logs as the webhook would receive them
SUMMARY_EVERY_SECONDS = 1.0  # read_more's running summary: what the commit knows if it is killed
STALL_SECONDS = 60.0  # holding back this long with no unit acknowledged ends the read (the next run goes on)
# Slot states in which a slot acknowledges units now or soon. Not "scheduled" (no worker yet: under
# dag.test(), or a full pool) nor "up_for_reschedule" (it yielded, waiting for the reader itself).
ACTIVE_STATES = frozenset({"running", "queued", "up_for_retry", "restarting"})


class ReadingStopped(Exception):
    """Reading further cannot help this run: a slot failed for good, or the time ran out while waiting."""


# ---- where to start ----


@dataclass
class StartPoint:
    """Where reading starts: after `checkpoint`, at `first_log` (which is included), or nowhere."""

    reason: str
    checkpoint: Checkpoint | None = None
    first_log: dict | None = None
    start_from_applied: str | None = None


def resolve_start(client: Auth0LogsClient, stored: Checkpoint | None, start_from: StartFrom | None,
                  applied_start_from: str | None) -> StartPoint:
    """Decide where this run starts (see the module docstring)."""
    if start_from is not None and start_from.raw != applied_start_from:
        if start_from.log_id is not None:
            return StartPoint(f"START_FROM log {start_from.log_id}", checkpoint=Checkpoint(start_from.log_id),
                              start_from_applied=start_from.raw)
        first = client.first_log(since=start_from.date)
        return StartPoint(f"START_FROM date {start_from.raw}", first_log=first, start_from_applied=start_from.raw)
    if stored:
        return StartPoint("stored checkpoint", checkpoint=stored)
    return StartPoint("no checkpoint yet: oldest retained log", first_log=client.first_log())


# ---- a replay's window ----

WINDOW_MARGIN = timedelta(seconds=60)  # log ids follow arrival, dates the event: read this far past each end


@dataclass(frozen=True)
class Window:
    """A replay's window: the logs dated in [start, end). `kind` says who asked (backfill or Params)."""

    start: datetime
    end: datetime
    kind: str

    def contains(self, log: Mapping) -> bool:
        date = parse_date(str(log.get("date") or ""))
        return date is not None and self.start <= date < self.end

    def passed(self, log: Mapping) -> bool:
        """True once a log is dated so far past the end that none of the window can follow it."""
        date = parse_date(str(log.get("date") or ""))
        return date is not None and date >= self.end + WINDOW_MARGIN

    def describe(self) -> str:
        return f"{self.kind} of the logs dated from {_iso(self.start)} to {_iso(self.end)} (end excluded)"

    @classmethod
    def of(cls, job: ReadJob) -> Window | None:
        if not job.window_start or not job.window_end:
            return None
        return cls(parse_date(job.window_start), parse_date(job.window_end), job.window_kind)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def replay_window(context: Context) -> Window | None:
    """The window this run replays: a backfill run's data interval, or the Params replay_start and
    replay_end of a manual run; None for a live run."""
    params = dict(context.get("params") or {})
    dag_run = context.get("dag_run")
    if str(getattr(getattr(dag_run, "run_type", None), "value", getattr(dag_run, "run_type", ""))) == "backfill":
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if start is None or end is None or not start < end:
            raise SettingsError([f"a backfill run needs a data interval, and this one is {start} to {end}: the "
                                 "DAG's schedule must be a cron expression (intervals), not null"], source="the run")
        return Window(start, end, "backfill")
    raw_start, raw_end = params.get("replay_start"), params.get("replay_end")
    if not raw_start and not raw_end:
        return None
    start, end = (parse_date(str(value)) if value else None for value in (raw_start, raw_end))
    problems = [f"Param {name}={value!r} is not allowed: expected an ISO 8601 date such as 2026-12-01T00:00:00Z"
                for name, value, parsed in (("replay_start", raw_start, start), ("replay_end", raw_end, end))
                if parsed is None]
    if not problems and not start < end:
        problems.append(f"Param replay_end={raw_end!r} must come after replay_start={raw_start!r}")
    if params.get("start_from"):
        problems.append("Params start_from and replay_start/replay_end cannot be combined: choose one")
    if problems:
        raise SettingsError(problems, source="the run's Params")
    return Window(start, end, "replay")


def window_start(client: Auth0LogsClient, window: Window) -> tuple[StartPoint, str | None]:
    """Where a replay starts (the first log dated at or after the window's start, a margin earlier), and
    the part of the window lost to the tenant's retention, described (None: nothing lost)."""
    first = client.first_log(since=window.start - WINDOW_MARGIN)
    reason = f"{window.describe()}: first log at or after {_iso(window.start - WINDOW_MARGIN)}"
    if first is None:
        return StartPoint(reason), None
    first_date = parse_date(str(first.get("date") or ""))
    lost = None
    if first_date is not None and first_date > window.start:
        oldest = client.first_log()
        if oldest is not None and oldest.get("log_id") == first.get("log_id"):
            until = min(first_date, window.end)
            lost = (f"the {window.kind} window starts at {_iso(window.start)}, before the tenant's oldest retained "
                    f"log ({first.get('log_id')}, dated {first.get('date')}): logs dated from {_iso(window.start)} "
                    f"to {_iso(until)} are past the tenant's log retention and were not delivered")
    return StartPoint(reason, first_log=first), lost


# ---- paging ----


@dataclass
class Gap:
    """Logs lost to retention between an expired checkpoint and the oldest retained log."""

    expired: Checkpoint
    oldest_retained: Checkpoint | None

    def span(self) -> str:
        """How much time the lost logs cover, when both ends are dated."""
        start = parse_date(self.expired.date or "")
        end = parse_date(self.oldest_retained.date or "") if self.oldest_retained else None
        if start is None or end is None:
            return "of unknown length (the checkpoint's date was not recorded)"
        seconds = max(0, int((end - start).total_seconds()))
        days, rest = divmod(seconds, 86400)
        return f"of {days} d {rest // 3600} h {rest % 3600 // 60} min"

    def describe(self) -> str:
        since = f" (dated {self.expired.date})" if self.expired.date else ""
        oldest = self.oldest_retained
        until = (f"the oldest retained log {oldest.log_id} dated {oldest.date}" if oldest
                 else "now (the tenant retains no logs)")
        return (
            f"checkpoint {self.expired.log_id}{since} is older than the tenant's log retention: "
            f"a gap {self.span()}: logs from it to {until} are no longer available and were not delivered"
        )


@dataclass
class ReadResult:
    """How a read ended."""

    caught_up: bool
    gap: Gap | None = None
    stopped_by: str = "caught up"  # or "max_logs", "deadline"


def read_logs(
    client: Auth0LogsClient, start: StartPoint, planner: Planner, *, take: int = MAX_TAKE,
    max_logs: int | None = None, deadline: float | None = None, clock: Callable[[], float] = time.monotonic,
    on_page: Callable[[], None] = lambda: None, window: Window | None = None,
) -> ReadResult:
    """Page through logs from `start` into `planner` until caught up, `max_logs` (exactly: never one
    more), `deadline`, or past the end of `window` (whose filtering the planner does).

    `on_page` runs after each page is planned (the reader publishes the units it closed)."""
    gap: Gap | None = None
    after = start.checkpoint.log_id if start.checkpoint else None
    if start.first_log is not None:
        planner.add([start.first_log])
        after = str(start.first_log["log_id"])
    if after is None:
        return ReadResult(caught_up=True)
    while True:
        if max_logs is not None and planner.plan.logs_read >= max_logs:
            return ReadResult(caught_up=False, gap=gap, stopped_by="max_logs")
        want = take if max_logs is None else max(1, min(take, max_logs - planner.plan.logs_read))
        try:
            page = client.logs_after(after, want)
        except CheckpointExpired:
            if gap is not None or planner.plan.logs_read:
                raise  # expired in the middle of a run: let the next run start over cleanly
            oldest = client.first_log()
            gap = Gap(start.checkpoint, oldest and Checkpoint(str(oldest["log_id"]), oldest.get("date")))
            log.error("%s", gap.describe())
            if oldest is None:
                return ReadResult(caught_up=True, gap=gap)
            planner.add([oldest])
            on_page()
            after = str(oldest["log_id"])
            continue
        planner.add(page)
        on_page()
        if page:
            after = str(page[-1]["log_id"])
        if len(page) < want:
            return ReadResult(caught_up=True, gap=gap)
        if window is not None and any(window.passed(log) for log in page):
            return ReadResult(caught_up=True, gap=gap, stopped_by="end of the window")
        if deadline is not None and clock() >= deadline:
            return ReadResult(caught_up=False, gap=gap, stopped_by="deadline")


# ---- how a run cuts what it reads ----


def new_job(settings: Settings, *, slots: int | None = None, max_logs: int | None = None, dry_run: bool = False,
            replay: bool = False, now: float | None = None, window: Window | None = None) -> ReadJob:
    """A read of these settings; `slots`: delivery slots mapped (else `webhook_concurrent_calls`).

    A replay of a `window` reads all of it (max_logs_per_run does not cut it) for up to
    REPLAY_BUDGET_SECONDS, or max_run_seconds when that is longer."""
    budget = max(settings.run_budget_seconds, REPLAY_BUDGET_SECONDS) if window else settings.run_budget_seconds
    return ReadJob(
        settings.batch_size, settings.send_as_batch, tuple(settings.log_types), settings.log_level,
        settings.batches_per_task, slots or settings.webhook_concurrent_calls,
        max_logs or (None if window else settings.max_logs_per_run),
        (time.time() if now is None else now) + budget, dry_run, replay or window is not None, uuid.uuid4().hex,
        settings.content_format, tuple(settings.log_categories),
        _iso(window.start) if window else None, _iso(window.end) if window else None, window.kind if window else "",
    )


def planner_for(job: ReadJob, acknowledged: Sequence[AcknowledgedSpan] = ()) -> Planner:
    """About batch_size * batches_per_unit logs a unit, in either mode; `acknowledged`: spans to skip."""
    per_unit = job.batches_per_unit * (1 if job.send_as_batch else job.batch_size)
    keeps = LogFilter(job.log_types, job.log_level, job.log_categories).keeps
    if (window := Window.of(job)) is not None:
        keeps = lambda log, kept=keeps: window.contains(log) and kept(log)  # noqa: E731
    return Planner(keeps, job.batch_size, job.send_as_batch, per_unit, acknowledged)


def final_units(job: ReadJob, planner: Planner) -> list[list[Delivery]]:
    """The rest of the plan, split so that every slot has work when the run is small."""
    units = split_into_units(planner.plan.deliveries, logs_per_unit=job.batch_size * job.batches_per_unit,
                             min_units=job.slots)
    planner.plan.deliveries = []
    return units


# ---- publishing units while reading ----


@dataclass(frozen=True)
class SlotsView:
    """What the reader sees of the delivery slots."""

    first_unacknowledged: int  # every unit below it is acknowledged in full
    acknowledged_units: int
    failed: bool
    active: bool = True  # some slot is delivering, or about to (see ACTIVE_STATES)


def slots_view(reports: Sequence[SlotReport | None], states: Sequence[str | None], read_id: str) -> SlotsView:
    """Fold the slots' reports (of this read) and task states into what the reader needs."""
    complete = {index for index, unit in acknowledged_units(list(reports), read_id).items() if unit.acknowledged}
    first = 0
    while first in complete:
        first += 1
    values = [str(state) for state in states]
    return SlotsView(first, len(complete), failed="failed" in values,
                     active=any(state in ACTIVE_STATES for state in values))


class UnitPublisher:
    """Reader side: push units as they are cut, remember their summaries, hold back when slots lag.

    Holding back keeps fewer than `backlog_limit` units between the first unacknowledged one and
    the next to publish, while some slot is active: that bounds what XCom holds, and what a failed
    unit makes the next run send again. It ends the read (ReadingStopped) when a slot failed for
    good, when no unit was acknowledged for STALL_SECONDS, or at `deadline` (on `clock`). With
    `push` None (a dry run) units are only counted."""

    def __init__(
        self, push: Callable[[str, Any], None] | None, task_id: str, read_id: str, next_index: int, *,
        backlog_limit: int, slots: Callable[[], SlotsView] | None = None,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        poll_seconds: float = 0.5, deadline: float | None = None, stall_seconds: float | None = None,
    ) -> None:
        self.push, self.task_id, self.read_id, self.next_index = push, task_id, read_id, next_index
        self.deadline = deadline
        self.stall_seconds = STALL_SECONDS if stall_seconds is None else stall_seconds
        self.backlog_limit = max(1, backlog_limit)
        self.slots, self.sleep, self.clock, self.poll_seconds = slots, sleep, clock, poll_seconds
        self.summaries: list = []
        self.first_logs: list = []  # a dry run's first logs to send: its sample
        self.largest_unit_bytes = 0
        self.held_back_seconds = 0.0

    def publish(self, units: Sequence[Sequence[Delivery]]) -> None:
        """Push each unit (waiting first while too many are unacknowledged)."""
        for deliveries in units:
            if not deliveries:
                continue
            if len(self.first_logs) < SAMPLE_LOGS:
                self.first_logs += [log for delivery in deliveries for log in delivery.logs][:SAMPLE_LOGS - len(self.first_logs)]
            if self.push is not None:
                self._hold_back()
                unit = Unit(self.next_index, list(deliveries), self.read_id)
                value = unit.to_xcom()
                self.push(unit_key(unit.index), value)
                self.largest_unit_bytes = max(self.largest_unit_bytes, len(value))
                self.summaries.append(unit.summary(self.task_id))
            self.next_index += 1

    def _hold_back(self) -> None:
        if self.slots is None or self.next_index < self.backlog_limit:
            return
        started = progressed_at = self.clock()
        acknowledged = -1
        while True:
            view = self.slots()
            if view.failed:
                raise ReadingStopped("a delivery task failed: the checkpoint cannot move past its logs")
            if not view.active or self.next_index - view.first_unacknowledged < self.backlog_limit:
                break  # nobody would acknowledge while we wait, or there is room
            now = self.clock()
            if view.acknowledged_units != acknowledged:
                acknowledged, progressed_at = view.acknowledged_units, now
            if now - progressed_at >= self.stall_seconds:
                raise ReadingStopped(f"no unit was acknowledged for {self.stall_seconds:.0f} s while "
                                     f"{self.next_index - view.first_unacknowledged} waited")
            if self.deadline is not None and now >= self.deadline:
                raise ReadingStopped("the run's time budget ran out while the webhook lagged behind the read")
            self.sleep(self.poll_seconds)
        self.held_back_seconds += self.clock() - started


def summarize(run: RunInfo, result: ReadResult, planner: Planner, publisher: UnitPublisher, client: Any,
              final: bool, **extra: Any) -> ReadSummary:
    """What a reader read and published so far."""
    plan, stats = planner.plan, getattr(client, "stats", None)
    return ReadSummary(
        run=run, units=tuple(publisher.summaries), next_unit=publisher.next_index, lead=plan.lead, last=plan.last,
        logs_read=plan.logs_read, logs_kept=plan.logs_kept, caught_up=result.caught_up,
        stopped_by=result.stopped_by, final=final, auth0_requests=getattr(stats, "requests", None),
        largest_unit_bytes=publisher.largest_unit_bytes, peak_rss_mb=peak_rss_mb(),
        auth0_429s=getattr(stats, "rate_limited", 0), rate_limit_waits=getattr(stats, "waits", 0),
        rate_limit_wait_seconds=round(getattr(stats, "waited_seconds", 0.0), 1), logs_skipped=plan.logs_skipped,
        lead_skipped=tuple(plan.lead_skipped), skipping=plan.skipping, **extra,
    )


# ---- the shipped DAG's reader tasks ----


def read_first(context: Context, slots: int | None = None, client: Any | None = None) -> list[dict]:
    """read_logs: read the first seconds' worth; return [LiveRun] when anything is to be delivered, else [].

    `slots`: how many delivery slots the DAG maps (its parse-time `webhook_concurrent_calls`)."""
    ti = context["ti"]
    try:
        return _read_first(context, ti, slots, client)
    except Exception as error:
        ti.xcom_push(key=ERROR_KEY, value=f"{type(error).__name__}: {error}")
        if isinstance(error, (SettingsError, Auth0AuthError, DeliveryPaused)):  # retrying cannot help: fail now
            raise AirflowFailException(str(error)) from None
        raise


def _read_first(context: Context, ti: Any, slots: int | None, client: Any | None) -> list[dict]:
    raise_if_paused()
    pipeline = current_pipeline(ti.dag_id)
    settings = pipeline.settings()
    dry_run, max_logs, param_start = run_params(context)
    if (context.get("params") or {}).get("send_test_payload"):  # the sample only: nothing read, nothing moved
        result = send_test_payload(webhook_conn_id=pipeline.webhook_conn_id, send_as_batch=settings.send_as_batch,
                                   content_format=settings.content_format)
        ti.xcom_push(key=TEST_PAYLOAD_KEY, value=result.to_xcom())
        return []
    window = replay_window(context)
    client = client or auth0_client(pipeline)
    state = PipelineState.from_json(runtime.variable_get(pipeline.state_variable))
    stored_id = (runtime.variable_get(pipeline.checkpoint_variable) or "").strip() or None
    stored = Checkpoint(stored_id, state.date_of(stored_id)) if stored_id else None
    lost = None
    if window is not None:  # a backfill, or the replay Params: the window only; the checkpoint is left alone
        start, lost = window_start(client, window)
    elif param_start is not None:  # a manual run's start_from Param: a replay, for this run only
        start = replace(resolve_start(client, None, param_start, None), start_from_applied=None)
    else:
        start = resolve_start(client, stored, settings.start_from, state.start_from_applied)
    log.info("Reading from %s", start.reason)
    job = new_job(settings, slots=slots, max_logs=max_logs, dry_run=dry_run, replay=param_start is not None,
                  window=window)
    log_filter = LogFilter(job.log_types, job.log_level, job.log_categories).describe()
    # What the webhook acknowledged past the stored checkpoint: skipped by a live run going on from it.
    resumes = not (window or job.replay or job.dry_run or start.start_from_applied) and start.checkpoint == stored
    acknowledged = state.acknowledged_past(stored_id, log_filter) if resumes else ()
    if acknowledged:
        log.info("%d spans of logs past the checkpoint were acknowledged by an earlier run: not sent again",
                 len(acknowledged))
    planner = planner_for(job, acknowledged)
    if start.checkpoint is not None:
        planner.begin_after(start.checkpoint.log_id)
    publisher = _publisher(ti, READ_TASK_ID, 0, job)
    result = read_logs(client, start, planner, max_logs=job.max_logs,
                       deadline=time.monotonic() + min(FIRST_READ_SECONDS, settings.run_budget_seconds),
                       on_page=lambda: publisher.publish(planner.closed_units()), window=window)
    # A dry run reads for the first seconds only: it shows what the filter keeps, it does not drain.
    more = result.stopped_by == "deadline" and time.time() < job.deadline and not job.dry_run
    run = RunInfo(job.read_id, stored_id, start.checkpoint, start.start_from_applied,
                  lost or (result.gap.describe() if result.gap else None), job.dry_run, job.replay, log_filter,
                  settings.slack_send_success, window.describe() if window else None, acknowledged)
    if more:
        publisher.publish([planner.closed_rest()])
        ti.xcom_push(key=HANDOVER_KEY, value=Handover(job, run, planner.plan, publisher.next_index).to_xcom())
    else:
        publisher.publish(final_units(job, planner))
    planned = [] if job.dry_run or not (more or publisher.next_index) else [LiveRun(
        job.read_id, job.slots, job.send_as_batch, READ_TASK_ID, publisher.next_index, MORE_TASK_ID if more else None,
        job.content_format,
    ).to_xcom()]
    summary = summarize(run, result, planner, publisher, client, final=not more, more=more,
                        slots=job.slots if planned else 0, sample=dry_run_sample(job, publisher.first_logs))
    ti.xcom_push(key=SUMMARY_KEY, value=summary.to_xcom())
    log.info("Read %d logs (%d to send, %d acknowledged before, filter: %s) into %d units; %s", summary.logs_read,
             summary.logs_kept, summary.logs_skipped, run.filter, publisher.next_index,
             "a backlog remains: read_more goes on reading" if more else result.stopped_by)
    if summary.sample:
        log.info("Dry run: the first logs to send, as the webhook would receive them:\n%s", summary.sample)
    return planned


def read_more(context: Context, planned: dict, client: Any | None = None) -> None:
    """read_more: go on reading where read_logs stopped, publishing units while the slots deliver them;
    its ReadSummary (XCom `summary`) says how far it got."""
    ti = context["ti"]
    live = LiveRun.from_xcom(planned)
    if live is None or live.more_task is None:
        raise AirflowSkipException("read_logs read everything there was")
    value = ti.xcom_pull(task_ids=READ_TASK_ID, key=HANDOVER_KEY)
    if value is None:
        raise AirflowFailException(f"the hand-over from {READ_TASK_ID} is gone: {MORE_TASK_ID} runs once per read. "
                                   f"To read again, clear {READ_TASK_ID} (with its downstream tasks).")
    delete_xcom(ti, READ_TASK_ID, HANDOVER_KEY)  # it holds logs; read_more is not retried (see the DAG)
    handover = Handover.from_xcom(value)
    job = handover.job
    planner = planner_for(job, handover.run.acknowledged).restore(handover.plan)
    deadline = time.monotonic() + max(0.0, job.deadline - time.time())
    publisher = _publisher(ti, MORE_TASK_ID, handover.next_unit, job, deadline=deadline)
    result = ReadResult(caught_up=False, stopped_by="not started")
    pushed_at = time.monotonic()
    error = None

    def push_summary(final: bool) -> ReadSummary:
        summary = summarize(handover.run, result, planner, publisher, client, final=final, error=error)
        ti.xcom_push(key=SUMMARY_KEY, value=summary.to_xcom())
        return summary

    def on_page() -> None:
        nonlocal pushed_at
        publisher.publish(planner.closed_units())
        if time.monotonic() - pushed_at >= SUMMARY_EVERY_SECONDS:
            result.stopped_by = "reading"
            push_summary(final=False)
            pushed_at = time.monotonic()

    try:
        raise_if_paused()
        client = client or auth0_client(current_pipeline(ti.dag_id))
        start = StartPoint("hand-over from read_logs", checkpoint=handover.plan.last)
        result = read_logs(client, start, planner, max_logs=job.max_logs, deadline=deadline,  # counts read_logs' too
                           on_page=on_page, window=Window.of(job))
        publisher.publish(final_units(job, planner))
    except ReadingStopped as stopped:
        result.stopped_by = str(stopped)
    except BaseException as failure:  # the slots stop after what was published; the commit says why
        error = f"{type(failure).__name__}: {failure}"
        raise
    finally:
        summary = push_summary(final=True)
    log.info("Read %d logs in all (%d units); %s; held back %.1f s for the slots",
             summary.logs_read, publisher.next_index, result.stopped_by, publisher.held_back_seconds)


def auth0_client(pipeline: Pipeline) -> Auth0LogsClient:
    """The pipeline's Auth0 logs client (its Auth0 connection)."""
    return Auth0Hook(auth0_conn_id=pipeline.auth0_conn_id).get_conn()


def dry_run_sample(job: ReadJob, logs: Sequence[Mapping]) -> str | None:
    """A dry run's first logs to send, as the webhook would receive them: one request's body in batch
    mode (cut to SAMPLE_LOGS logs), the first requests' bodies one after the other otherwise."""
    if not job.dry_run or not logs:
        return None
    if job.send_as_batch:
        return encode(logs, True, job.content_format).decode("utf-8")
    return "\n".join(encode([log], False, job.content_format).decode("utf-8").rstrip("\n") for log in logs)


def run_params(context: Context) -> tuple[bool, int | None, StartFrom | None]:
    """A manual trigger's Params (dry_run, max_logs, start_from), validated."""
    params = dict(context.get("params") or {})
    start = params.get("start_from")
    try:
        start_from = parse_start_from(start) if start else None
    except ValueError as error:
        raise SettingsError([f"Param start_from={start!r} is not allowed: expected {error}"],
                            source="the run's Params") from None
    return bool(params.get("dry_run")), int(params["max_logs"]) if params.get("max_logs") else None, start_from


def _publisher(ti: Any, task_id: str, next_index: int, job: ReadJob, deadline: float | None = None) -> UnitPublisher:
    push = None if job.dry_run else (lambda key, value: ti.xcom_push(key=key, value=value))
    watch = None if job.dry_run or task_id == READ_TASK_ID else (lambda: _slots_view(ti, job))
    return UnitPublisher(push, task_id, job.read_id, next_index, backlog_limit=BACKLOG_UNITS_PER_SLOT * job.slots,
                         slots=watch, deadline=deadline)


def _slots_view(ti: Any, job: ReadJob) -> SlotsView:
    reports = ti.xcom_pull(task_ids=DELIVER_TASK_ID, key=PROGRESS_KEY, map_indexes=list(range(job.slots)))
    states = ti.get_task_states(dag_id=ti.dag_id, task_ids=[DELIVER_TASK_ID], run_ids=[ti.run_id])
    return slots_view([SlotReport.from_xcom(r) for r in runtime.as_list(reports)],
                      list(((states or {}).get(ti.run_id) or {}).values()), job.read_id)


# ---- for a DAG of your own ----


def read_units(client: Auth0LogsClient, checkpoint: str | None, settings: Settings = Settings(), *,
               max_logs: int | None = None) -> list[Unit]:
    """The logs after `checkpoint` (None: from the oldest retained log), filtered and cut into units.

    Reads until caught up, `max_logs` or the settings' time budget. Each unit ends on the checkpoint
    that is safe once the webhook acknowledged it; when the filter dropped every log read, one unit
    with no logs carries the checkpoint past them. Deliver them with LogsToWebhookOperator and
    commit with CheckpointStore.advance."""
    job = new_job(settings, slots=1, max_logs=max_logs)
    planner = planner_for(job)
    start = StartPoint("checkpoint", checkpoint=Checkpoint(checkpoint)) if checkpoint else \
        StartPoint("oldest retained log", first_log=client.first_log())
    result = read_logs(client, start, planner, max_logs=job.max_logs,
                       deadline=time.monotonic() + settings.run_budget_seconds)
    if result.gap:
        log.warning("%s", result.gap.describe())
    plan = planner.plan
    cut = final_units(job, planner) or ([[Delivery([], plan.last)]] if plan.last else [])
    return [Unit(index, deliveries, job.read_id, checkpoint) for index, deliveries in enumerate(cut)]
