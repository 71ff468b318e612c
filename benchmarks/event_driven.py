"""Benchmark "freshness in event-driven mode": logs arrive continuously (one every half second); the
watcher in the triggerer starts a run as soon as some are past the checkpoint. Median <= 10 s and
95th percentile <= 20 s from a log's creation to the webhook; then, once the last run has ended,
an idle window in which no task instance may start, and the watcher's reads of the tenant (the
cost of the mode, counted against the rate limit) stay within one every `event_poll_seconds`."""

from __future__ import annotations

import statistics
import time

from benchmarks.report import Result, Target
from benchmarks.services import CHECKPOINT_VARIABLE, DAG_ID, Services, parse_time

POLL_SECONDS = 5  # event_poll_seconds: the setting's default
FALLBACK_SCHEDULE = "0 0 1 1 *"  # the fallback cron: once a year, so it never fires during the benchmark
MEDIAN_TARGET, P95_TARGET = 10.0, 20.0
NAME = "freshness (event-driven)"


def event_driven(bench) -> list[Result]:
    from benchmarks.scenarios import _create_logs, _wait_for_arrival  # the every-minute freshness's helpers

    services: Services = bench.airflow
    services.prepare(100, None)
    settings = dict(services.settings)
    idle_seconds = min(60.0, max(20.0, bench.sizes.freshness_seconds / 4))
    bench.say(f"event-driven: poll every {POLL_SECONDS} s, fallback {FALLBACK_SCHEDULE!r}, logs created for "
              f"{bench.sizes.freshness_seconds:.0f} s, then {idle_seconds:.0f} s idle")
    services.configure({**settings, "event_driven": True, "event_poll_seconds": POLL_SECONDS,
                        "schedule": FALLBACK_SCHEDULE})
    created: dict[str, float] = {}
    try:
        _catch_up(services, bench)
        window_start = time.time()
        _create_logs(services, created, bench.sizes.freshness_seconds)
        arrived = _wait_for_arrival(services, set(created), bench.sizes.freshness_drain)
        _catch_up(services, bench)  # the last run has committed, and no other follows
        idle = _idle_window(services, idle_seconds)
        triggered = [run for run in _runs(services) if (parse_time(run.get("start_date")) or 0) >= window_start]
    finally:
        services.configure(settings)
        services.settle()
    latencies = sorted(arrived[log_id] - date for log_id, date in created.items() if log_id in arrived)
    missing = len(created) - len(latencies)
    kinds = {kind: sum(run["run_type"] == kind for run in triggered) for kind in {r["run_type"] for r in triggered}}
    bench.details.append(
        f"event-driven: {len(created)} logs created over {bench.sizes.freshness_seconds:.0f} s, {len(latencies)} "
        f"arrived ({missing} missing); runs {kinds}; latency min {latencies[0] if latencies else float('nan'):.1f} s, "
        f"max {latencies[-1] if latencies else float('nan'):.1f} s; idle {idle['seconds']:.0f} s: {idle['runs']} "
        f"run(s), {idle['task_instances']} task instance(s), {idle['reads']} read(s) of the tenant")
    error = f"{missing} of {len(created)} logs never arrived" if missing or not created else None
    p95 = _percentile(latencies, 95) if latencies and not missing else float("inf")
    return [
        Result(NAME, "median latency, creation → webhook", "s",
               [statistics.median(latencies)] if latencies else [], Target("<=", MEDIAN_TARGET), decimals=1,
               error=error),
        Result(NAME, "95th percentile latency, creation → webhook", "s", [p95], Target("<=", P95_TARGET),
               decimals=1, error=error),
        Result(NAME, f"task instances started in {idle['seconds']:.0f} s idle", "", [idle["task_instances"]],
               Target("<=", 0)),
        Result(NAME, "tenant reads an hour while idle", "/h", [idle["reads"] * 3600 / idle["seconds"]],
               Target("<=", 3600 / POLL_SECONDS * 1.1)),
    ]


def _runs(services: Services) -> list[dict]:
    return services.api.call("GET", f"/dags/{DAG_ID}/dagRuns?limit=100&order_by=-run_after")["dag_runs"]


def _catch_up(services: Services, bench, timeout: float = 300) -> None:
    """Until the checkpoint is the newest log and no run is active, for 2 poll intervals. Without a
    checkpoint the watcher fires once the triggerer runs it; if no run has started after a minute (or
    the last one ended short of the newest log), one is triggered."""
    deadline, nudge_at = time.monotonic() + timeout, time.monotonic() + 60
    newest = services.emulator.log_ids[-1]
    while time.monotonic() < deadline:
        if services.get_variable(CHECKPOINT_VARIABLE) == newest and not services.active_runs():
            time.sleep(2 * POLL_SECONDS)  # an event still being turned into a run shows up meanwhile
            if not services.active_runs():
                return
        if nudge_at and time.monotonic() > nudge_at and not services.active_runs():
            bench.say("event-driven: no run after a minute; triggering one to catch up")
            services.trigger()
            nudge_at = 0
        time.sleep(1)
    raise TimeoutError(f"event-driven: not caught up after {timeout:.0f} s")


def _idle_window(services: Services, seconds: float) -> dict:
    """Nothing new for `seconds`: the runs and task instances that started, the reads of the tenant."""
    start, reads = time.time(), services.emulator.stats()["checkpoint_requests"]
    time.sleep(seconds)
    reads = services.emulator.stats()["checkpoint_requests"] - reads
    started = [run for run in _runs(services) if (parse_time(run.get("start_date")) or start) >= start
               or run["state"] in ("queued", "running")]
    task_instances = sum(1 for run in started for ti in services.task_instances(run["dag_run_id"]) if ti["start_date"])
    return {"seconds": seconds, "runs": len(started), "task_instances": task_instances, "reads": reads}


def _percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    rank = max(1, -(-len(values) * percent // 100))
    return values[int(rank) - 1]
