"""The benchmarks, each a function of the shared `Bench` returning rows of the table.

Throughput targets use batch size 100 and 5 concurrent calls (the settings written before the
first scenario); every comparison is made within one invocation.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable

from auth0_webhooks_devtools.events import date_ms
from benchmarks.event_driven import event_driven
from benchmarks.report import Result, Target
from benchmarks.runs import RunMeasurement, describe, drain, idle, timeline
from benchmarks.services import (
    AUTHORIZATION, CHECKPOINT_VARIABLE, CLIENT_ID, CLIENT_SECRET, DAG_ID, REPO, SIGNING_SECRET, Services, Source,
    parse_time,
    python_command,
)

ENTERPRISE = (50, 16.0)  # burst, requests per second: ceiling 96,000 logs/min
ESSENTIALS = (10, 100 / 60)  # 100 requests per minute: ceiling 10,000 logs/min
XCOM_FIELDS = ("largest_unit_bytes", "peak_rss_mb")
FRESHNESS_SCHEDULE = "* * * * *"
FRESHNESS_INTERVAL = 60.0


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is: full (the targets' sizes) or tiny (a smoke test)."""

    enterprise: int
    essentials: int
    unlimited: int
    memory_small: int
    idle_backlog: int
    inprocess: int
    freshness_seconds: float  # how long logs keep being created
    freshness_drain: float  # then how long to wait for the last of them


    catch_up: int = 50_000  # a backlog bigger than one run (60 s on the Essentials bucket: 10,000 logs)
    backfill_hours: int = 24  # hourly intervals replayed
    backfill_logs_per_hour: int = 1_200
    duplicates: int = 5_000  # the refused-request scenario's logs


FULL = Sizes(100_000, 20_000, 100_000, 10_000, 1_000, 100_000, 240.0, 240.0)
TINY = Sizes(2_000, 2_000, 2_000, 1_000, 200, 20_000, 10.0, 180.0, catch_up=2_000, backfill_hours=2,
             backfill_logs_per_hour=300, duplicates=1_000)
LIVE_INTERVAL = 300.0  # the default schedule's interval: a live run may wait at most this long for a backfill


@dataclass
class Bench:
    """What the scenarios share: services, sizes, repetitions, the details of the report."""

    services: Services | None
    source: Source
    sizes: Sizes
    repeat: int
    say: Callable[[str], None]
    details: list[str] = field(default_factory=list)
    big_runs: list[RunMeasurement] = field(default_factory=list)  # unlimited drains, reused by memory

    @property
    def airflow(self) -> Services:
        assert self.services is not None
        return self.services


def drain_timeout(logs: int) -> float:
    """Generous: 3 minutes plus 10 ms a log."""
    return 180 + logs * 0.01


def _drain_one(bench: Bench, name: str, index: int, logs: int, rate_limit: tuple[int, float] | None,
               xcoms: bool = False) -> RunMeasurement:
    bench.say(f"{name} {index + 1}/{bench.repeat}: draining {logs:,} logs")
    measurement = drain(bench.airflow, logs, rate_limit, drain_timeout(logs), bench.say)
    if xcoms:
        measurement.xcom = _xcom_metrics(bench, measurement)
    rate = measurement.logs_per_minute
    bench.say(f"  {f'{rate:,.0f} logs/min' if rate else measurement.error}; run end at {measurement.end_seconds or 0:.1f} s")
    bench.details.append(describe(f"{name} #{index + 1}", measurement))
    return measurement


def _drains(bench: Bench, name: str, logs: int, rate_limit: tuple[int, float] | None,
            xcoms: bool = False) -> list[RunMeasurement]:
    return [_drain_one(bench, name, index, logs, rate_limit, xcoms) for index in range(bench.repeat)]


def _xcom_metrics(bench: Bench, measurement: RunMeasurement) -> dict[str, float]:
    found: dict[str, float] = {}
    for run_id in measurement.run_ids:
        for key, value in bench.airflow.xcom_metrics(run_id, XCOM_FIELDS).items():
            found[key] = max(value, found.get(key, value))
    return found


def _errors(runs: list[RunMeasurement]) -> str | None:
    errors = [m.error for m in runs if m.error]
    return f"{len(errors)} of {len(runs)} failed: {errors[0]}" if errors else None


def _rate_row(benchmark: str, runs: list[RunMeasurement], target: float | None) -> Result:
    return Result(benchmark, f"{runs[0].logs:,}-log backlog, trigger → checkpoint", "logs/min",
                  [m.logs_per_minute for m in runs if m.logs_per_minute], Target(">=", target) if target else None,
                  error=_errors(runs))


# --------------------------------------------------------------------------- the benchmarks


def enterprise(bench: Bench) -> list[Result]:
    """Burst 50, 16 requests/s: >= 95% of 96,000 logs/min trigger → checkpoint, no 429; and the run's
    fixed costs, when no log is read: trigger → first read, the hand-over from read_logs to read_more,
    last delivery → checkpoint written."""
    runs = _drains(bench, "enterprise", bench.sizes.enterprise, ENTERPRISE)
    name = "enterprise (burst 50, 16 req/s)"
    costs = [_fixed_costs(m) for m in runs]
    return [_rate_row(name, runs, 0.95 * ENTERPRISE[1] * 100 * 60),
            Result(name, "/api/v2/logs answered 429", "", [m.emulator.get("status_429", 0) for m in runs],
                   Target("<=", 0), error=_errors(runs)),
            *[Result(name, f"fixed cost: {label}", "s", values, decimals=1,
                     text=None if values else "none: the read fitted in read_logs")
              for label in FIXED_COSTS for values in [[c[label] for c in costs if c.get(label) is not None]]]]


FIXED_COSTS = ("trigger → read_logs starts", "read_logs ends → read_more starts", "last delivery → checkpoint")


def _fixed_costs(measurement: RunMeasurement) -> dict[str, float | None]:
    """Where a drain's time goes besides reading at the rate limit (single-run drains only)."""
    tasks = timeline(measurement)["tasks"]
    read, more, deliver = (tasks.get(name, {}) for name in ("read_logs", "read_more", "deliver"))
    handover = more.get("first_start") - read["last_end"] if more.get("first_start") and read.get("last_end") \
        else None
    last_ack = measurement.checkpoint_seconds - deliver["last_end"] \
        if measurement.checkpoint_seconds and deliver.get("last_end") else None
    return dict(zip(FIXED_COSTS, (read.get("first_start"), handover, last_ack)))


def catch_up(bench: Bench) -> list[Result]:
    """Essentials bucket, max_run_seconds 60, a 5-minute schedule, a 50,000-log backlog: runs follow each
    other at once while a backlog remains, so the backlog drains at >= 90 % of the bucket's ceiling."""
    services = bench.airflow
    settings = dict(services.settings)
    services.configure({**settings, "schedule": "*/5 * * * *", "max_run_seconds": 60})
    try:
        runs = _drains(bench, "catch-up", bench.sizes.catch_up, ESSENTIALS)
    finally:
        services.configure(settings)
    name = "catch-up (essentials bucket, 60 s runs, every 5 min)"
    ceiling = ESSENTIALS[1] * 100 * 60
    return [_rate_row(name, runs, 0.9 * ceiling),
            Result(name, "runs to drain the backlog", "", [len(m.run_ids) for m in runs], error=_errors(runs)),
            Result(name, "share of the ceiling", "%", [100 * m.logs_per_minute / ceiling for m in runs
                                                       if m.logs_per_minute], Target(">=", 90.0), decimals=1,
                   error=_errors(runs))]


def essentials(bench: Bench) -> list[Result]:
    """Burst 10, 100 requests/min: >= 95% of 10,000 logs/min, no 429 at all."""
    runs = _drains(bench, "essentials", bench.sizes.essentials, ESSENTIALS)
    name = "essentials (burst 10, 100 req/min)"
    return [_rate_row(name, runs, 0.95 * ESSENTIALS[1] * 100 * 60),
            Result(name, "/api/v2/logs answered 429", "", [m.emulator.get("status_429", 0) for m in runs],
                   Target("<=", 0), error=_errors(runs))]


def unlimited(bench: Bench) -> list[Result]:
    """No rate limit: >= 120,000 logs/min; and a sequential loop over the same logs, for the ratio."""
    services = bench.airflow
    runs, loops = [], []
    for index in range(bench.repeat):
        runs.append(_drain_one(bench, "unlimited", index, bench.sizes.unlimited, None, xcoms=True))
        services.receiver.reset()
        services.ready(None)
        loops.append(_loop(bench, bench.sizes.unlimited))
        bench.say(f"  sequential loop: {loops[-1]['logs_per_minute']:.0f} logs/min")
        bench.details.append(f"unlimited #{index + 1} sequential loop: {loops[-1]['logs']:,} logs in "
                             f"{loops[-1]['requests']} GET+POST pairs, {loops[-1]['seconds']:.1f} s")
    bench.big_runs = runs
    name = "unlimited API"
    ratios = [m.logs_per_minute / loop["logs_per_minute"] for m, loop in zip(runs, loops) if m.logs_per_minute]
    return [_rate_row(name, runs, 120_000),
            Result(name, "sequential Python loop, same logs", "logs/min", [loop["logs_per_minute"] for loop in loops]),
            Result(name, "ratio pipeline / loop", "", ratios, decimals=2, error=_errors(runs))]


def _loop(bench: Bench, count: int) -> dict:
    services = bench.airflow
    command = python_command(
        "benchmarks.loop", "--auth0", services.emulator.base_url, "--client-id", CLIENT_ID,
        "--client-secret", CLIENT_SECRET, "--webhook", services.webhook_url, "--authorization", AUTHORIZATION,
        "--signing-secret", SIGNING_SECRET, "--count", str(count))
    return _json_command(bench, command, timeout=600)


def _json_command(bench: Bench, command: list[str], timeout: float) -> dict:
    """Run a helper module (with the benchmarked source on its path); its last line is JSON."""
    env = {**os.environ, "PYTHONPATH": bench.source.environment()["PYTHONPATH"]}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory(bench: Bench) -> list[Result]:
    """Peak RSS of task processes in a big drain (< 300 MB), and a small drain beside it."""
    big = bench.big_runs or _drains(bench, "memory (big)", bench.sizes.unlimited, None, xcoms=True)
    small = _drains(bench, "memory (small)", bench.sizes.memory_small, None, xcoms=True)
    big_n, small_n = big[0].logs, small[0].logs

    def side_by_side(values: list[float | None], unit: str) -> str:
        shown = [f"{v:,.1f} {unit}" if v is not None else "n/a" for v in values]
        return f"{small_n:,}: {shown[0]} vs {big_n:,}: {shown[1]}"

    def median_of(runs: list[RunMeasurement], pick: Callable[[RunMeasurement], float | None]) -> float | None:
        values = [v for v in (pick(m) for m in runs) if v is not None]
        return statistics.median(values) if values else None

    def xcom(name: str, scale: float = 1.0) -> Callable[[RunMeasurement], float | None]:
        return lambda m: m.xcom[name] / scale if name in m.xcom else None

    return [
        Result("memory", f"peak task-process RSS, {big_n:,}-log drain", "MB",
               [m.peak_rss() for m in big if m.peak_rss()], Target("<", 300), error=_errors(big)),
        Result("memory", f"peak task-process RSS, {small_n:,}-log drain", "MB",
               [m.peak_rss() for m in small if m.peak_rss()], error=_errors(small)),
        Result("memory", "one mapped instance: peak RSS sampled", "MB",
               text=side_by_side([median_of(small, lambda m: m.peak_rss(mapped=True)),
                                  median_of(big, lambda m: m.peak_rss(mapped=True))], "MB")),
        Result("memory", "one mapped instance reads: XCom largest_unit_bytes", "MB",
               text=side_by_side([median_of(small, xcom("largest_unit_bytes", 1e6)),
                                  median_of(big, xcom("largest_unit_bytes", 1e6))], "MB")),
        Result("memory", "one mapped instance: XCom peak_rss_mb", "MB",
               text=side_by_side([median_of(small, xcom("peak_rss_mb")), median_of(big, xcom("peak_rss_mb"))], "MB")),
    ]


def idle_run(bench: Bench) -> list[Result]:
    """After a caught-up run, a run with nothing new: <= 2 task instances run, no mapped work."""
    services = bench.airflow
    bench.say(f"idle: catching up on {bench.sizes.idle_backlog:,} logs first")
    catch_up = drain(services, bench.sizes.idle_backlog, None, drain_timeout(bench.sizes.idle_backlog), bench.say)
    bench.details.append(describe("idle catch-up", catch_up))
    if catch_up.error:
        raise RuntimeError(f"the catch-up run before the idle runs failed: {catch_up.error}")
    runs = []
    for index in range(bench.repeat):
        measurement = idle(services)
        runs.append(measurement)
        facts = timeline(measurement)
        bench.say(f"idle {index + 1}/{bench.repeat}: {facts['ran']} task instances ran, "
                  f"{facts['mapped_ran']} mapped; {measurement.end_seconds or 0:.1f} s")
        bench.details.append(describe(f"idle #{index + 1}", measurement))
    failed = [m.run_ids[-1] for m in runs if m.states[-1] != "success"]
    error = f"idle run(s) {', '.join(failed)} did not succeed" if failed else None
    facts = [timeline(m) for m in runs]
    return [
        Result("idle run", "task instances that ran", "", [f["ran"] for f in facts], Target("<=", 2), error=error),
        Result("idle run", "mapped instances that ran", "", [f["mapped_ran"] for f in facts], Target("<=", 0),
               error=error),
        Result("idle run", "mapped instances created", "", [f["mapped"] for f in facts]),
        Result("idle run", "trigger → run success", "s", [m.end_seconds for m in runs if m.end_seconds],
               decimals=1, error=error),
    ]


def freshness(bench: Bench) -> list[Result]:
    """Schedule every minute, logs created all along: creation → arrival <= interval + 60 s."""
    services = bench.airflow
    services.prepare(100, None)
    settings = dict(services.settings)
    bench.say(f"freshness: schedule {FRESHNESS_SCHEDULE!r}, logs created for {bench.sizes.freshness_seconds:.0f} s")
    services.configure({**settings, "schedule": FRESHNESS_SCHEDULE})
    created: dict[str, float] = {}
    window_start = time.time()
    try:
        _create_logs(services, created, bench.sizes.freshness_seconds)
        arrived = _wait_for_arrival(services, set(created), bench.sizes.freshness_drain)
    finally:
        services.configure(settings)
        services.settle()
    latencies = sorted(arrived[log_id] - date for log_id, date in created.items() if log_id in arrived)
    missing = len(created) - len(latencies)
    scheduled = [run for run in services.api.call(
        "GET", f"/dags/{DAG_ID}/dagRuns?run_type=scheduled&limit=100&order_by=-run_after")["dag_runs"]
        if (parse_time(run.get("start_date")) or 0) >= window_start]
    bench.details.append(
        f"freshness: {len(created)} logs created over {bench.sizes.freshness_seconds:.0f} s, {len(latencies)} arrived "
        f"({missing} missing); {len(scheduled)} scheduled run(s) "
        f"{'/'.join(run['state'] for run in reversed(scheduled))}; latency min "
        f"{latencies[0] if latencies else float('nan'):.1f} s")
    error = f"{missing} of {len(created)} logs never arrived" if missing or not created else None
    worst = max(latencies) if latencies and not missing else float("inf")
    return [
        Result("freshness (every minute)", "median latency, creation → webhook", "s",
               [statistics.median(latencies)] if latencies else [], decimals=1),
        Result("freshness (every minute)", "max latency, creation → webhook", "s", [worst],
               Target("<=", FRESHNESS_INTERVAL + 60), decimals=1, error=error),
    ]


def _create_logs(services: Services, created: dict[str, float], seconds: float) -> None:
    """One new log every half second, dated now; remember each one's date."""
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        for log in services.emulator.add_logs(1):
            created[log["log_id"]] = date_ms(log["date"]) / 1000
        time.sleep(0.5)


def _wait_for_arrival(services: Services, wanted: set[str], timeout: float) -> dict[str, float]:
    """When each wanted log first reached the webhook (acknowledged), waiting up to `timeout` s."""
    deadline = time.monotonic() + timeout
    arrived: dict[str, float] = {}
    seen = 0
    while True:
        records = services.receiver.requests
        for record in records[seen:]:
            if record.delivered:
                for log_id in record.log_ids:
                    if log_id in wanted:
                        arrived.setdefault(log_id, record.received_at)
        seen = len(records)
        if len(arrived) == len(wanted) or time.monotonic() > deadline:
            return arrived
        time.sleep(1)


BACKFILL_ACTIVE_RUNS = 2  # the Backfill dialog's "max active runs"; 10 (its default) locks SQLite (see README)


def backfill_beside_live(bench: Bench) -> list[Result]:
    """A backfill of 24 hourly intervals, two runs at a time, while live runs go on: how much longer a
    live run takes, trigger → success, than without the backfill (<= one interval)."""
    from datetime import datetime, timedelta, timezone

    services = bench.airflow
    services.prepare(0, None)
    settings = dict(services.settings)
    hours, per_hour = bench.sizes.backfill_hours, bench.sizes.backfill_logs_per_hour
    first = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours + 1)
    services.emulator.spacing_seconds = 3600 / per_hour
    services.emulator.add_logs(hours * per_hour + per_hour // 2, date=first)
    services.emulator.spacing_seconds = 1.0
    services.set_variable(CHECKPOINT_VARIABLE, services.emulator.log_ids[-1])  # live: caught up
    services.configure({**settings, "schedule": "0 * * * *"})
    services.unpause()
    services.settle()
    time.sleep(15)  # a few more parses: the backfill's intervals come from the DAG as parsed when it is created
    assert services.api.call("GET", f"/dags/{DAG_ID}")["timetable_summary"].endswith("0 * * * *")

    def live_run() -> float | None:
        services.emulator.add_logs(100)  # what a live tick finds
        started = time.monotonic()
        run_id = services.trigger()
        while services.run(run_id)["state"] not in ("success", "failed"):
            time.sleep(0.5)
        return time.monotonic() - started if services.run(run_id)["state"] == "success" else None

    baseline = [live_run() for _ in range(bench.repeat)]
    bench.say(f"backfill: live runs alone took {', '.join(f'{b or 0:.1f}' for b in baseline)} s; "
              f"now backfilling {hours} hourly intervals of {per_hour:,} logs")
    services.receiver.reset()
    started = time.monotonic()
    backfill = services.api.create_backfill({  # the runs' intervals start at from_date, ..., to_date - 1 h
        "dag_id": DAG_ID, "from_date": first.isoformat(), "to_date": (first + timedelta(hours=hours)).isoformat(),
        "max_active_runs": BACKFILL_ACTIVE_RUNS})
    during: list[float | None] = []
    while not services.api.call("GET", f"/backfills/{backfill['id']}").get("completed_at"):
        if time.monotonic() - started > 3600:
            raise RuntimeError("the backfill did not complete within an hour")
        during.append(live_run())
        time.sleep(5)
    elapsed = time.monotonic() - started
    runs = [run for run in services.api.call("GET", f"/dags/{DAG_ID}/dagRuns?run_type=backfill&limit=100")["dag_runs"]]
    failed = [run["dag_run_id"] for run in runs if run["state"] != "success"]
    replayed = sum(len(record.log_ids) for record in services.receiver.requests if record.delivered)
    bench.details.append(f"backfill: {len(runs)} runs in {elapsed:.0f} s, {replayed:,} logs delivered (live included); "
                         f"live runs during it: {', '.join(f'{d:.1f}' if d else 'failed' for d in during)} s; "
                         f"alone: {', '.join(f'{b:.1f}' if b else 'failed' for b in baseline)} s")
    services.configure(settings)
    error = (f"backfill runs not successful: {failed}" if failed or len(runs) != hours else None) or \
        (f"{during.count(None)} live run(s) failed during the backfill" if None in during else None)
    delays = [d - statistics.median([b for b in baseline if b]) for d in during if d]
    return [
        Result("backfill beside live runs", "live run alone, trigger → success", "s", [b for b in baseline if b],
               decimals=1),
        Result("backfill beside live runs", f"live run during a {hours}-interval backfill, trigger → success (max)",
               "s", [max(d for d in during if d)] if any(during) else [], decimals=1),
        Result("backfill beside live runs", "added delay of a live run (max)", "s", [max(delays)] if delays else [],
               Target("<=", LIVE_INTERVAL), decimals=1, error=error),
        Result("backfill beside live runs", f"backfill of {hours} intervals, create → complete", "s", [elapsed],
               decimals=0, error=error),
    ]


def duplicates_refused(bench: Bench) -> list[Result]:
    """5,000 logs; the webhook answers 400 to every request carrying the middle log, for the first run only;
    then a second run. Logs acknowledged more than once: 0 (what later units acknowledged is recorded)."""
    services, receiver, name = bench.airflow, bench.airflow.receiver, "duplicates: refused request"
    rows: dict[str, list[float]] = {"logs acknowledged more than once": [], "acknowledged past the gap in run 1": [],
                                    "logs sent by run 2": []}
    errors = []
    for index in range(bench.repeat):
        newest = services.prepare(bench.sizes.duplicates, ENTERPRISE)
        ids = services.emulator.log_ids
        refused = ids[len(ids) // 2]
        answer = receiver._answer  # the in-process receiver: refuse by content (its behaviours go by order)
        receiver._answer = lambda request, record: (receiver._status_reply(400, record, receiver.behaviour)
                                                    if refused in record.log_ids else answer(request, record))
        try:
            first = _run_to_end(services)
        finally:
            del receiver._answer
        checkpoint = services.get_variable(CHECKPOINT_VARIABLE)
        acknowledged = receiver.stats()["delivered_log_ids"]
        second = _run_to_end(services)
        stats = receiver.stats()
        rows["logs acknowledged more than once"].append(stats["duplicate_delivered_log_ids"])
        prefix = ids.index(checkpoint) + 1 if checkpoint in ids else 0  # logs up to the checkpoint run 1 wrote
        rows["acknowledged past the gap in run 1"].append(acknowledged - prefix)
        rows["logs sent by run 2"].append(stats["delivered_log_ids"] - acknowledged)
        final = services.get_variable(CHECKPOINT_VARIABLE)
        if first != "failed" or second != "success" or final != newest or stats["unique_delivered_log_ids"] != len(ids):
            errors.append(f"run 1 {first}, run 2 {second}, checkpoint {'at' if final == newest else 'not at'} the "
                          f"newest log, {stats['unique_delivered_log_ids']} of {len(ids)} logs delivered")
        bench.say(f"{name} {index + 1}/{bench.repeat}: run 1 {first} ({acknowledged} acknowledged), run 2 {second}; "
                  f"{stats['duplicate_delivered_log_ids']} duplicates")
        bench.details.append(f"{name} #{index + 1}: {len(ids):,} logs, refused {refused}; run 1 {first}, checkpoint "
                             f"{checkpoint}; {acknowledged} acknowledged; run 2 {second}; receiver {stats['requests']} "
                             f"requests {stats['by_status']}, {stats['duplicate_delivered_log_ids']} duplicates")
    error = f"{len(errors)} of {bench.repeat}: {errors[0]}" if errors else None
    return [Result(name, metric, "", values, Target("<=", 0) if index == 0 else None, error=error)
            for index, (metric, values) in enumerate(rows.items())]


def duplicates_sigkill(bench: Bench) -> list[Result]:
    """5,000 logs, a webhook answering in 0.2 s; the process of one delivering task is SIGKILLed in the middle
    of the run and Airflow retries it. Logs acknowledged more than once: at most the request in flight
    (batch_size logs), since a slot saves its progress after every acknowledged request."""
    services, receiver, name = bench.airflow, bench.airflow.receiver, "duplicates: SIGKILL of a delivering task"
    settings = dict(services.settings)
    services.configure({**settings, "task_retry_delay_seconds": 2})
    duplicates, killed_at, errors = [], [], []
    try:
        for index in range(bench.repeat):
            newest = services.prepare(bench.sizes.duplicates, None)
            receiver.set_behaviour(delay=0.2)
            run_id = services.trigger()
            victim = _kill_a_delivering_task(services, run_id)
            state = services.run(run_id)["state"]
            deadline = time.monotonic() + 600
            while state not in ("success", "failed") and time.monotonic() < deadline:
                time.sleep(1)
                state = services.run(run_id)["state"]
            receiver.set_behaviour(delay=0)
            stats = receiver.stats()
            duplicates.append(stats["duplicate_delivered_log_ids"])
            killed_at.append(victim[1])
            if state != "success" or services.get_variable(CHECKPOINT_VARIABLE) != newest or \
                    stats["unique_delivered_log_ids"] != bench.sizes.duplicates:
                errors.append(f"run {state}, {stats['unique_delivered_log_ids']} of {bench.sizes.duplicates} logs")
            bench.say(f"{name} {index + 1}/{bench.repeat}: killed {victim[0]} after {victim[1]} requests; run "
                      f"{state}; {stats['duplicate_delivered_log_ids']} duplicates")
            bench.details.append(f"{name} #{index + 1}: killed {victim[0]} after {victim[1]} requests, run {state}, "
                                 f"receiver {stats['requests']} requests, {stats['duplicate_delivered_log_ids']} "
                                 "logs acknowledged twice")
    finally:
        services.configure(settings)
    batch = settings.get("batch_size", 100)
    error = f"{len(errors)} of {bench.repeat}: {errors[0]}" if errors else None
    return [Result(name, "logs acknowledged more than once (bound: the request in flight)", "", duplicates,
                   Target("<=", batch), error=error),
            Result(name, "requests acknowledged when the task was killed", "", killed_at, error=error)]


def _kill_a_delivering_task(services: Services, run_id: str, timeout: float = 180) -> tuple[str, int]:
    """SIGKILL the process of a running delivery slot once some requests went through; (slot, requests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if services.receiver.stats()["deliveries"] >= 2:  # some requests through, the slots still busy
            tis = services.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/deliver/listMapped"
                                           "?limit=100")["task_instances"]
            for ti in tis:
                if ti["state"] == "running" and subprocess.run(
                        ["pkill", "-KILL", "-f", f"airflow worker -- {ti['id']}"], check=False).returncode == 0:
                    return f"slot {ti['map_index'] + 1}", services.receiver.stats()["deliveries"]
        time.sleep(0.2)
    raise RuntimeError("no delivering task to kill")


def _run_to_end(services: Services, timeout: float = 600) -> str:
    """Trigger a run and wait for it to end; its state."""
    run_id, deadline = services.trigger(), time.monotonic() + timeout
    while (state := services.run(run_id)["state"]) not in ("success", "failed") and time.monotonic() < deadline:
        time.sleep(1)
    return state


def inprocess(bench: Bench) -> list[Result]:
    """No Airflow: filter + encode >= 50,000 logs/s, median of 5, with and without LOG_TYPES."""
    bench.say(f"in-process: filter + encode {bench.sizes.inprocess:,} logs, 5 times per case")
    rates = _json_command(bench, python_command("benchmarks.inprocess", "--logs", str(bench.sizes.inprocess),
                                                "--repeat", "5"), timeout=600)
    return [Result("in-process filter + encode", case, "logs/s", values, Target(">=", 50_000))
            for case, values in rates.items()]


SCENARIOS: dict[str, Callable[[Bench], list[Result]]] = {
    "inprocess": inprocess,
    "enterprise": enterprise,
    "essentials": essentials,
    "unlimited": unlimited,
    "memory": memory,
    "idle": idle_run,
    "freshness": freshness,
    "backfill": backfill_beside_live,
    "catch_up": catch_up,
    "duplicates_sigkill": duplicates_sigkill,
    "duplicates_refused": duplicates_refused,
    "event_driven": event_driven,
}
NEEDS_AIRFLOW = {name for name in SCENARIOS if name != "inprocess"}
