"""Drive DAG runs and measure them: drain a backlog (trigger -> committed checkpoint), or one
idle run; then describe what Airflow did from the run's task instances, counted generically."""

from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from benchmarks.services import CHECKPOINT_VARIABLE, FINISHED, Services, parse_time

POLL_SECONDS = 0.2  # the checkpoint Variable, through the REST API
MAX_RUNS = 50  # a DAG that caps each run: trigger the next one, up to this many


@dataclass
class RunMeasurement:
    """What one measured drain (one or more DAG runs) did."""

    logs: int
    started: float  # epoch seconds of the first trigger
    run_ids: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    checkpoint_seconds: float | None = None  # trigger -> checkpoint equals the newest log id
    end_seconds: float | None = None  # trigger -> the last run's end
    task_instances: list[dict] = field(default_factory=list)
    rss_peaks: dict[str, float] = field(default_factory=dict)  # task instance id -> MB
    emulator: dict[str, Any] = field(default_factory=dict)
    receiver: dict[str, Any] = field(default_factory=dict)
    xcom: dict[str, float] = field(default_factory=dict)  # report fields found in the run's XComs
    error: str | None = None

    @property
    def logs_per_minute(self) -> float | None:
        if not self.checkpoint_seconds:
            return None
        return self.logs / self.checkpoint_seconds * 60

    @property
    def share_429(self) -> float:
        """Share of /api/v2/logs requests answered 429, in percent."""
        requests = self.emulator.get("requests", {}).get("logs", 0)
        return 100.0 * self.emulator.get("status_429", 0) / requests if requests else 0.0

    def peak_rss(self, mapped: bool | None = None) -> float | None:
        """The largest task-process RSS (MB), of mapped instances only, unmapped only, or all."""
        ids = {ti["id"] for ti in self.task_instances
               if mapped is None or (ti["map_index"] >= 0) == mapped}
        peaks = [mb for ti_id, mb in self.rss_peaks.items() if ti_id in ids]
        return max(peaks) if peaks else None


def drain(services: Services, logs: int, rate_limit: tuple[int, float] | None, timeout: float,
          say: Callable[[str], None]) -> RunMeasurement:
    """A fresh backlog of `logs` logs; trigger; time until the checkpoint is the newest log id."""
    newest = services.prepare(logs, rate_limit)
    measurement = RunMeasurement(logs=logs, started=time.time())
    measurement.run_ids.append(services.trigger())
    deadline = measurement.started + timeout
    polls = 0
    while True:
        if services.get_variable(CHECKPOINT_VARIABLE) == newest:
            measurement.checkpoint_seconds = time.time() - measurement.started
            break
        if time.time() > deadline:
            measurement.error = f"the checkpoint did not reach the newest log within {timeout:.0f} s"
            break
        polls += 1
        if polls % 5 == 0:  # about once a second: has the run ended without getting there?
            state = services.run(measurement.run_ids[-1])["state"]
            if state in FINISHED and services.get_variable(CHECKPOINT_VARIABLE) != newest:
                measurement.states.append(state)
                if state != "success" or len(measurement.run_ids) >= MAX_RUNS:
                    measurement.error = f"run {measurement.run_ids[-1]} ended {state} before the checkpoint"
                    break
                follow = _next_run(services, measurement.run_ids)
                say(f"  run {len(measurement.run_ids)} ended before the newest log: "
                    f"{'following the run it started (backlog)' if follow else 'triggering the next one'}")
                measurement.run_ids.append(follow or services.trigger())
        time.sleep(POLL_SECONDS)
    _finish(services, measurement, deadline + 120)
    return measurement


def _next_run(services: Services, seen: list[str], wait: float = 15.0) -> str | None:
    """The run a backlog started at once (continuous catch-up: an asset event), if one comes within `wait` s."""
    deadline = time.time() + wait
    while time.time() < deadline:
        runs = [run["dag_run_id"] for run in services.active_runs() if run["dag_run_id"] not in seen]
        if runs:
            return runs[0]
        time.sleep(0.5)
    return None


def idle(services: Services, timeout: float = 300) -> RunMeasurement:
    """Trigger one run with nothing new to read; time trigger -> run end."""
    services.receiver.reset()
    services.ready(None)
    measurement = RunMeasurement(logs=0, started=time.time())
    measurement.run_ids.append(services.trigger())
    _finish(services, measurement, measurement.started + timeout, every=0.25)
    return measurement


def _finish(services: Services, measurement: RunMeasurement, deadline: float, every: float = 0.5) -> None:
    """Wait for the last run to end; collect its timing, task instances, RSS peaks and stats."""
    run_id = measurement.run_ids[-1]
    while (run := services.run(run_id))["state"] not in FINISHED:
        if time.time() > deadline:
            measurement.error = measurement.error or f"run {run_id} did not end in time"
            break
        time.sleep(every)
    if len(measurement.states) < len(measurement.run_ids):
        measurement.states.append(run["state"])
    end = parse_time(run.get("end_date"))
    measurement.end_seconds = end - measurement.started if end else None
    if run["state"] == "failed" and not measurement.error and measurement.logs:
        measurement.error = f"run {run_id} failed"
    for run_id in measurement.run_ids:
        measurement.task_instances += services.task_instances(run_id)
    assert services.sampler is not None
    measurement.rss_peaks = services.sampler.peak({ti["id"] for ti in measurement.task_instances})
    measurement.emulator = services.emulator.stats()
    measurement.receiver = services.receiver.stats()


# --------------------------------------------------------------------------- describing runs


def ran(tis: list[dict]) -> list[dict]:
    """Task instances that actually ran (success or failed; not skipped, none, removed...)."""
    return [ti for ti in tis if ti["state"] in FINISHED]


def timeline(measurement: RunMeasurement) -> dict[str, Any]:
    """Generic timing facts: trigger -> first task start, per task id (count, span, durations,
    queue -> start), and the gaps when no task of the run was running."""
    t0 = measurement.started
    done = [ti for ti in ran(measurement.task_instances) if ti.get("start_date") and ti.get("end_date")]
    spans = sorted((parse_time(ti["start_date"]) - t0, parse_time(ti["end_date"]) - t0) for ti in done)
    gaps, busy_until = [], None
    for start, end in spans:
        if busy_until is not None and start > busy_until:
            gaps.append(start - busy_until)
        busy_until = end if busy_until is None else max(busy_until, end)
    tasks: dict[str, list[dict]] = defaultdict(list)
    for ti in measurement.task_instances:
        tasks[ti["task_id"]].append(ti)
    per_task = {}
    for task_id, items in tasks.items():
        finished = [ti for ti in ran(items) if ti.get("start_date") and ti.get("end_date")]
        queued = [parse_time(ti["start_date"]) - parse_time(ti["queued_when"])
                  for ti in finished if ti.get("queued_when")]
        per_task[task_id] = {
            "instances": len(items), "ran": len(ran(items)), "mapped": sum(ti["map_index"] >= 0 for ti in items),
            "first_start": min((parse_time(ti["start_date"]) - t0 for ti in finished), default=None),
            "last_end": max((parse_time(ti["end_date"]) - t0 for ti in finished), default=None),
            "median_duration": statistics.median([ti["duration"] or 0 for ti in finished]) if finished else None,
            "median_queue_to_start": statistics.median(queued) if queued else None,
            "busy_seconds": sum(ti["duration"] or 0 for ti in finished),
            "peak_rss_mb": max((measurement.rss_peaks.get(ti["id"], 0) for ti in items), default=0) or None,
            "other_states": dict(Counter(str(ti["state"]) for ti in items if ti["state"] not in FINISHED)),
        }
    return {
        "first_task_start": spans[0][0] if spans else None,
        "last_task_end": max(end for _, end in spans) if spans else None,
        "gaps": gaps, "tasks": per_task,
        "ran": len(ran(measurement.task_instances)),
        "mapped": sum(ti["map_index"] >= 0 for ti in measurement.task_instances),
        "mapped_ran": sum(ti["map_index"] >= 0 for ti in ran(measurement.task_instances)),
    }


def _s(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


def describe(label: str, measurement: RunMeasurement) -> str:
    """One line for the report's details."""
    facts = timeline(measurement)
    parts = [f"{label}: {measurement.logs:,} logs"]
    if measurement.checkpoint_seconds is not None:
        parts.append(f"checkpoint at {_s(measurement.checkpoint_seconds)}")
    parts.append(f"run end at {_s(measurement.end_seconds)}; {len(measurement.run_ids)} run(s) "
                 f"{'/'.join(measurement.states)}")
    parts.append(f"first task started {_s(facts['first_task_start'])} after the trigger, last ended "
                 f"{_s(facts['last_task_end'])}")
    tasks = []
    for task_id, info in facts["tasks"].items():
        mapped = f", {info['mapped']} mapped" if info["mapped"] else ""
        others = ", ".join(f"{n} {state}" for state, n in sorted(info["other_states"].items()))
        head = f"{task_id} ×{info['instances']} (ran {info['ran']}{mapped}{', ' + others if others else ''})"
        if not info["ran"]:
            tasks.append(head)
            continue
        rss = f", peak RSS {info['peak_rss_mb']:.0f} MB" if info["peak_rss_mb"] else ""
        span = (info["last_end"] or 0) - (info["first_start"] or 0)
        if info["ran"] > 1 and span > 0:  # how many of them were running at once, on average
            rss = f", {info['busy_seconds'] / span:.1f} running at once on average" + rss
        tasks.append(f"{head} {_s(info['first_start'])}→{_s(info['last_end'])}, median {_s(info['median_duration'])}, "
                     f"queued→start median {_s(info['median_queue_to_start'])}{rss}")
    parts.append("tasks: " + "; ".join(tasks))
    gaps = facts["gaps"]
    parts.append(f"no task running for {sum(gaps):.1f} s in {len(gaps)} gap(s)"
                 + (f" (largest {max(gaps):.1f} s)" if gaps else ""))
    if measurement.emulator:
        requests = measurement.emulator["requests"]["logs"]
        parts.append(f"Auth0: {requests} logs requests, {measurement.emulator['status_429']} answered 429, "
                     f"{measurement.emulator['requests']['token']} token requests")
    if measurement.receiver:
        parts.append(f"webhook: {measurement.receiver['requests']} requests, "
                     f"{measurement.receiver['delivered_log_ids']:,} logs "
                     f"({measurement.receiver['duplicate_delivered_log_ids']} duplicates), "
                     f"max {measurement.receiver['max_in_flight']} in flight")
    if measurement.error:
        parts.append(f"ERROR: {measurement.error}")
    return "; ".join(parts)
