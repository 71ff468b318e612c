"""Crash safety under a real scheduler: SIGKILL a delivering task process, or the whole of Airflow
(scheduler, API server, workers) in the middle of a run. The checkpoint never moves past a log the
webhook has not acknowledged, and what follows re-sends only what was in flight."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest

from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

LOGS = 800
SETTINGS = {"schedule": None, "batch_size": 40, "webhook_concurrent_calls": 2, "batches_per_task": 2,
            "task_retries": 2, "task_retry_delay_seconds": 2}
UNIT = SETTINGS["batch_size"] * SETTINGS["batches_per_task"]  # logs one mapped task sends


def environment(emulator: Auth0Emulator, receiver: WebhookReceiver) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                  "login": "crash", "password": "crash-secret"}),
        "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{receiver.base_url}/hook",
                                                  "password": "Bearer crash"}),
        "AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(): json.dumps(SETTINGS),
    }


def running_deliveries(api, run_id: str) -> list[dict]:
    tis = api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/deliver/listMapped?limit=100")
    return [ti for ti in tis["task_instances"] if ti["state"] == "running"]


def run_until_caught_up(api, first_run: str) -> list[str]:
    """Wait for the run, then trigger runs until one succeeds; return the runs' states."""
    states = [api.wait_for_run(DAG_ID, first_run, timeout=400)]
    while states[-1] != "success" and len(states) < 4:
        states.append(api.wait_for_run(DAG_ID, api.trigger(DAG_ID), timeout=400))
    return states


def check_outcome(api, emulator: Auth0Emulator, receiver: WebhookReceiver, in_flight_units: int,
                  expected: list[str] | None = None) -> Counter:
    delivered = receiver.delivered_log_ids()
    counts = Counter(delivered)
    assert set(counts) == set(expected or emulator.log_ids), "a log is missing or unexpected"
    duplicates = len(delivered) - len(counts)
    assert duplicates <= in_flight_units * UNIT, f"{duplicates} duplicates: more than the units in flight"
    checkpoint = api.call("GET", f"/variables/{CHECKPOINT_VARIABLE}")["value"]
    assert checkpoint == emulator.log_ids[-1]
    return counts


def test_sigkill_of_a_delivering_task_then_of_all_of_airflow(standalone_factory):
    with Auth0Emulator(client_id="crash", client_secret="crash-secret", logs=LOGS, seed=5) as emulator, \
            WebhookReceiver(delay=0.5, expected_authorization="Bearer crash") as receiver:
        env = environment(emulator, receiver)
        airflow = standalone_factory(env)
        airflow.api.wait_for_dag(DAG_ID, timeout=180)

        # 1. The process of one delivering task is killed: Airflow retries it, the run completes.
        run_id = airflow.api.trigger(DAG_ID)
        def kill_a_delivering_task() -> bool:
            if receiver.stats()["deliveries"] < 2:
                return False
            for victim in running_deliveries(airflow.api, run_id):  # it may finish before we strike
                pattern = f"airflow worker -- {victim['id']}"
                if subprocess.run(["pkill", "-KILL", "-f", pattern], check=False).returncode == 0:
                    return True
            return False

        wait_until(kill_a_delivering_task, timeout=180, what="a delivering task to kill")
        states = run_until_caught_up(airflow.api, run_id)
        counts = check_outcome(airflow.api, emulator, receiver, in_flight_units=1)
        print(f"task SIGKILL: {LOGS} logs, runs {states}, {sum(counts.values()) - len(counts)} duplicates")

        # 2. All of Airflow is killed mid-delivery, then started again on the same home.
        receiver.reset()
        emulator.add_logs(LOGS)
        run_id = airflow.api.trigger(DAG_ID)
        wait_until(lambda: receiver.stats()["deliveries"] >= 4, timeout=180, what="deliveries to start")
        airflow.kill()
        before_crash = len(receiver.delivered_log_ids())
        airflow = standalone_factory(env)
        states = run_until_caught_up(airflow.api, run_id)
        counts = check_outcome(airflow.api, emulator, receiver, in_flight_units=SETTINGS["webhook_concurrent_calls"],
                               expected=emulator.log_ids[LOGS:])
        print(f"Airflow SIGKILL + restart: {LOGS} logs, {before_crash} acknowledged before the crash, "
              f"runs {states}, {sum(counts.values()) - len(counts)} duplicates")
