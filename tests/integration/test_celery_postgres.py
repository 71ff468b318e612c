"""Airflow's distributed shape on real services (issue 10): CeleryExecutor with two workers, PostgreSQL
as the metadata database (XCom, the task state store and the checkpoint's compare-and-set run on it)
and Redis as the broker, with the settings of celery.env.

1. A backlog that takes several runs is delivered to a slow receiver: every log exactly once, the
   concurrency limit reached and never exceeded across both workers, and both workers delivered.
2. One worker is SIGKILLed while its slots are sending: its whole session, that is its process group
   and its task processes (Airflow 3.3 gives each task process a group of its own), as when a
   machine or a container is lost. A new worker is started, as a supervisor would. Airflow notices
   the lost tasks by their heartbeat timeout (celery.env) and retries them; nothing is lost, and
   only what the killed slots had acknowledged but not yet recorded is sent twice.
The figures (runtime, concurrency, tasks per worker, duplicates, detection time) are printed and
written to summary.txt in the test's tmp dir.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import pytest
import requests

from auth0_webhooks.deliver import SAVE_EVERY_SECONDS
from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID, DELIVER_TASK_ID
from auth0_webhooks_devtools.distributed import DistributedAirflow
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks_devtools.standalone import wait_until
from auth0_webhooks_devtools.trigger import AirflowApi

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

LIMIT = 4  # webhook_concurrent_calls
BATCH = 50
LOGS_PER_RUN = 4_000
SETTINGS = {"schedule": None, "batch_size": BATCH, "webhook_concurrent_calls": LIMIT, "batches_per_task": 5,
            "max_logs_per_run": LOGS_PER_RUN, "task_retries": 2, "task_retry_delay_seconds": 1}
BACKLOG = 3 * LOGS_PER_RUN  # part 1: three runs
KILL_RUN_LOGS = LOGS_PER_RUN  # part 2: one run, 20 requests per slot
DELAY = 0.15  # the receiver's answer time
WORKERS = {"w1": 3, "w2": 3}  # Celery concurrency: the 4 slots never fit on one worker
REPLACEMENT = "w3"
# A killed slot re-sends what it acknowledged since it last recorded its progress (at least every
# SAVE_EVERY_SECONDS, checked after each request) and the request it had in flight.
RESENT_PER_KILLED_SLOT = (math.floor(SAVE_EVERY_SECONDS / DELAY) + 2) * BATCH
AUTHORIZATION = "Bearer integration"


def environment(emulator: Auth0Emulator, receiver: WebhookReceiver) -> dict[str, str]:
    """Connections and the config Variable; never the checkpoint (the environment would shadow it)."""
    return {
        "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                  "login": "integration", "password": "integration-secret"}),
        "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "auth0_webhook", "host": f"{receiver.base_url}/hook",
                                                  "password": AUTHORIZATION}),
        "AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(): json.dumps(SETTINGS),
    }


def checkpoint(api: AirflowApi) -> str | None:
    try:
        return api.call("GET", f"/variables/{CHECKPOINT_VARIABLE}")["value"]
    except requests.HTTPError as error:
        if error.response is not None and error.response.status_code == 404:
            return None
        raise


def finish(api: AirflowApi, run_id: str, timeout: float = 400, watch: Callable[[], None] | None = None) -> str:
    """Wait for the run's end state, calling `watch` every half second; fail at once if the DAG file
    stops importing (someone editing dags/ or plugins/ meanwhile), which would stall the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if watch:
            watch()
        state = api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            return state
        errors = api.call("GET", "/importErrors")
        assert not errors["total_entries"], f"the DAG does not import any more: {errors['import_errors']}"
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish within {timeout:.0f} s")


def run_until_checkpoint(api: AirflowApi, last_log_id: str, run_id: str | None = None,
                         max_runs: int = 6) -> list[tuple[str, str]]:
    """Finish `run_id` (or trigger one), then trigger runs until the checkpoint is `last_log_id`."""
    runs = []
    while True:
        run_id = run_id or api.trigger(DAG_ID)
        runs.append((run_id, finish(api, run_id)))
        if checkpoint(api) == last_log_id:
            return runs
        assert len(runs) < max_runs, f"the checkpoint did not reach the last log in {max_runs} runs: {runs}"
        run_id = None


def deliver_slots(api: AirflowApi, run_id: str) -> list[dict]:
    path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{DELIVER_TASK_ID}/listMapped?limit=100"
    return api.call("GET", path)["task_instances"]


def tries(api: AirflowApi, run_id: str) -> list[dict]:
    """Every try of every task of the run (earlier tries of retried tasks included)."""
    found = []
    for ti in api.task_instances(DAG_ID, run_id):
        if ti["try_number"] > 1:
            where = f"{ti['task_id']}/{ti['map_index']}" if ti["map_index"] >= 0 else ti["task_id"]
            found += api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{where}/tries")["task_instances"]
        else:
            found.append(ti)
    return found


def tasks_per_worker(api: AirflowApi, run_ids: list[str]) -> tuple[Counter, Counter]:
    """(delivery tries, all task tries) per worker name (TaskInstance.hostname)."""
    every = [t for run_id in run_ids for t in tries(api, run_id) if t.get("hostname")]
    return Counter(t["hostname"] for t in every if t["task_id"] == DELIVER_TASK_ID), Counter(t["hostname"] for t in every)


@dataclass
class Kill:
    worker: str
    at: float  # time.monotonic()
    slots: dict[int, int]  # map index -> the try that was killed
    requests_before: int  # requests the receiver had got when the worker was killed
    noticed: dict[int, float] = field(default_factory=dict)  # map index -> seconds after the kill
    rescheduled: dict[int, float] = field(default_factory=dict)  # map index -> seconds after the kill
    retried_on: dict[int, str] = field(default_factory=dict)  # map index -> the worker that ran the retry


def kill_a_delivering_worker(airflow: DistributedAirflow, receiver: WebhookReceiver, run_id: str) -> Kill:
    """SIGKILL a worker (all its processes) whose delivery slots are sending right now (every slot has
    a request in flight) and which runs no other task of the run: a reader killed mid-read has a
    bound of its own in the README."""

    def strike() -> Kill | None:
        running = [ti for ti in airflow.api.task_instances(DAG_ID, run_id) if ti["state"] == "running"]
        for name in WORKERS:
            mine = [ti for ti in running if ti["hostname"] == name]
            slots = {ti["map_index"]: ti["try_number"] for ti in mine if ti["task_id"] == DELIVER_TASK_ID}
            if slots and len(slots) == len(mine) and receiver.stats()["in_flight"] == LIMIT:
                requests_before = len(receiver.requests)
                airflow.components[name].kill()
                return Kill(name, time.monotonic(), slots, requests_before)
        return None

    return wait_until(strike, timeout=240, every=0.05, what="a worker whose delivery slots are sending")


def follow(api: AirflowApi, run_id: str, kill: Kill) -> str:
    """Wait for the run, watching the killed slots: when Airflow notices they are lost (their try
    leaves `running`) and when their retry starts, and on which worker."""

    def watch() -> None:
        now = time.monotonic() - kill.at
        for ti in deliver_slots(api, run_id):
            index = ti["map_index"]
            if index not in kill.slots:
                continue
            retried = ti["try_number"] > kill.slots[index]
            if index not in kill.noticed and (retried or ti["state"] != "running"):
                kill.noticed[index] = now
            if index not in kill.rescheduled and retried and ti["state"] in ("queued", "running", "success", "failed"):
                kill.rescheduled[index] = now

    state = finish(api, run_id, watch=watch)
    for index, killed_try in kill.slots.items():
        path = f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{DELIVER_TASK_ID}/{index}/tries"
        kill.retried_on.update({index: t["hostname"] for t in api.call("GET", path)["task_instances"]
                                if t["try_number"] == killed_try + 1})
    return state


def test_two_celery_workers_on_postgres_and_redis_then_a_worker_is_killed(distributed, database, tmp_path):
    started = time.monotonic()
    with Auth0Emulator(client_id="integration", client_secret="integration-secret", logs=BACKLOG, seed=10) as emulator, \
            WebhookReceiver(expected_authorization=AUTHORIZATION) as receiver:
        receiver.set_behaviour(delay=DELAY)
        airflow = distributed(environment(emulator, receiver), WORKERS)
        api = airflow.api
        api.wait_for_dag(DAG_ID, timeout=180)
        ready = time.monotonic() - started

        # 1. A backlog of several runs, over both workers.
        backlog_runs = run_until_checkpoint(api, emulator.log_ids[-1])
        backlog = receiver.stats()
        assert [state for _, state in backlog_runs] == ["success"] * len(backlog_runs), backlog_runs
        assert len(backlog_runs) >= 3, f"the backlog should take several runs: {backlog_runs}"
        assert Counter(receiver.delivered_log_ids()) == Counter(emulator.log_ids), "a log was lost, sent twice or unexpected"
        assert backlog["max_in_flight"] == LIMIT, f"at most {backlog['max_in_flight']} requests in flight, limit {LIMIT}"
        backlog_tasks, _ = tasks_per_worker(api, [run_id for run_id, _ in backlog_runs])
        assert set(backlog_tasks) == set(WORKERS), f"delivery tasks per worker: {dict(backlog_tasks)}"

        # 2. A worker is SIGKILLed while its slots send; a new worker takes its place.
        backlog_requests = len(receiver.requests)
        new_logs = [log["log_id"] for log in emulator.add_logs(KILL_RUN_LOGS)]
        run_id = api.trigger(DAG_ID)
        kill = kill_a_delivering_worker(airflow, receiver, run_id)
        assert not airflow.components[kill.worker].alive(), "a process of the killed worker survived"
        airflow.start_worker(REPLACEMENT, WORKERS[kill.worker])
        airflow.wait_for_worker(REPLACEMENT)
        kill_run = [(run_id, follow(api, run_id, kill))]
        if checkpoint(api) != new_logs[-1]:  # the run failed: the next ones send the rest
            kill_run += run_until_checkpoint(api, new_logs[-1])

        requests_after = receiver.requests[backlog_requests:]
        cut_off = sum(r.client_gone for r in receiver.requests[backlog_requests:kill.requests_before])
        sent = [log_id for r in requests_after if r.delivered for log_id in r.log_ids]
        duplicates = len(sent) - len(set(sent))
        bound = len(kill.slots) * RESENT_PER_KILLED_SLOT
        stats = receiver.stats()
        delivery_tasks, all_tasks = tasks_per_worker(api, [r for r, _ in backlog_runs + kill_run])
        final_checkpoint = checkpoint(api)
        in_postgres = airflow.stored_variable(database, CHECKPOINT_VARIABLE)
        resumed = {index for (index,) in database.query(
            "SELECT map_index FROM task_state_store WHERE dag_id = %s AND run_id = %s AND task_id = %s",
            (DAG_ID, run_id, DELIVER_TASK_ID))}
        xcoms = database.query("SELECT count(*) FROM xcom WHERE dag_id = %s", (DAG_ID,))[0][0]
        env = airflow.env

        summary = "\n".join([
            f"integration: CeleryExecutor, 2 workers, PostgreSQL database {database.name}, Redis "
            f"{env['AIRFLOW__CELERY__BROKER_URL']}: runtime {time.monotonic() - started:.0f} s "
            f"(Airflow up, DAG parsed after {ready:.0f} s)",
            f"  backlog: {BACKLOG} logs in {len(backlog_runs)} runs, {backlog['requests']} requests, every log once; "
            f"highest concurrency {backlog['max_in_flight']} (limit {LIMIT}); delivery tasks per worker "
            f"{dict(sorted(backlog_tasks.items()))}",
            f"  kill: {kill.worker} SIGKILLed while its slots {sorted(kill.slots)} were sending ({cut_off} of their "
            f"requests cut off); lost tasks noticed after {', '.join(f'{kill.noticed[i]:.0f}' for i in sorted(kill.noticed))} s, "
            f"retried after {', '.join(f'{kill.rescheduled[i]:.0f} s on {kill.retried_on.get(i)}' for i in sorted(kill.rescheduled))} "
            f"(heartbeat timeout {env['AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT']} s, checked every "
            f"{env['AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL']} s)",
            f"  after the kill: {KILL_RUN_LOGS} logs, runs {[state for _, state in kill_run]}, {len(requests_after)} "
            f"requests, {duplicates} logs sent twice (bound {bound}: {len(kill.slots)} killed slots)",
            f"  checked: {len(emulator.log_ids)} logs, {stats['requests']} requests, highest concurrency "
            f"{stats['max_in_flight']}; tasks per worker: delivery {dict(sorted(delivery_tasks.items()))}, "
            f"all {dict(sorted(all_tasks.items()))}",
            f"  PostgreSQL: checkpoint Variable {in_postgres} (REST API: {final_checkpoint}), resume records of "
            f"slots {sorted(resumed)} in task_state_store, {xcoms} XCom rows",
        ])
        print("\n" + summary, flush=True)
        (tmp_path / "summary.txt").write_text(summary + "\n")

        assert set(receiver.delivered_log_ids()) == set(emulator.log_ids), "a log was lost or unexpected"
        assert set(sent) == set(new_logs), "after the kill, other logs than the new ones were sent"
        assert duplicates <= bound, f"{duplicates} logs sent twice: more than the killed slots can re-send ({bound})"
        assert stats["max_in_flight"] <= LIMIT
        assert set(kill.noticed) == set(kill.rescheduled) == set(kill.retried_on) == set(kill.slots), kill
        assert kill.worker not in kill.retried_on.values(), kill
        assert final_checkpoint == in_postgres == new_logs[-1] == emulator.log_ids[-1]
        assert resumed >= set(kill.slots), "the killed slots' progress is not in PostgreSQL's task state store"
        assert xcoms > 0
