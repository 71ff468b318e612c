"""Event-driven mode under a real `airflow standalone` (scheduler, triggerer, LocalExecutor): the
watcher in the triggerer starts a run within seconds of new logs (an asset-triggered run) and the
run delivers them; while nothing is new, no run and no task instance starts, and the watcher's
reads of the tenant stay within one every `event_poll_seconds`."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver

from .conftest import free_port, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

POLL = 2  # event_poll_seconds
FALLBACK = "0 0 1 1 *"  # the fallback schedule: once a year, never during the test
IDLE_SECONDS = 30


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def parse_time(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def runs(api) -> list[dict]:
    return api.call("GET", f"/dags/{DAG_ID}/dagRuns?limit=100&order_by=run_after")["dag_runs"]


def settled(api, emulator: Auth0Emulator) -> bool:
    """Caught up: the checkpoint is the newest log and no run is queued or running."""
    try:
        checkpoint = api.call("GET", f"/variables/{CHECKPOINT_VARIABLE}")["value"]
    except Exception:  # noqa: BLE001 - not written yet
        return False
    return checkpoint == emulator.log_ids[-1] and all(run["state"] in ("success", "failed") for run in runs(api))


def quiet(api, emulator: Auth0Emulator, seconds: float = 3 * POLL) -> bool:
    """Settled, and still settled with the same runs `seconds` later (an event being turned into a run
    shows up meanwhile)."""
    if not settled(api, emulator):
        return False
    known = [run["dag_run_id"] for run in runs(api)]
    time.sleep(seconds)
    return settled(api, emulator) and [run["dag_run_id"] for run in runs(api)] == known


def fired(airflow) -> list[str]:
    """The watcher's lines in the triggerer's log."""
    return [line[:200] for line in airflow.log_path.read_text(errors="replace").splitlines()
            if "new logs past checkpoint" in line or "Trigger fired event" in line]


def test_new_logs_start_a_run_within_seconds_and_an_idle_tenant_starts_none(standalone_factory):
    with Auth0Emulator(client_id="ev", client_secret="ev-secret", seed=12, logs=30) as emulator, \
            WebhookReceiver() as receiver:
        airflow = standalone_factory({
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                      "login": "ev", "password": "ev-secret"}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{receiver.base_url}/hook"}),
            "AIRFLOW_VAR_" + CONFIG_VARIABLE.upper(): json.dumps(
                {"event_driven": True, "event_poll_seconds": POLL, "schedule": FALLBACK,
                 "webhook_concurrent_calls": 2}),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        })
        api = airflow.api
        api.wait_for_dag(DAG_ID, timeout=180)
        assert api.call("GET", f"/dags/{DAG_ID}")["timetable_summary"] == f"Asset or {FALLBACK}"

        # Catch up: unpausing queues the fallback's last complete interval (and the watcher, once the
        # triggerer runs it, fires at once while there is no checkpoint); everything retained is delivered.
        api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
        wait_until(lambda: quiet(api, emulator), timeout=240, what="the first runs to catch up", every=1)
        assert sorted(receiver.delivered_log_ids()) == sorted(emulator.log_ids)
        wait_until(lambda: "watching connection 'auth0_default'" in airflow.log_path.read_text(errors="replace"),
                   timeout=120, what="the triggerer to run the watcher", every=1)
        before = {run["dag_run_id"] for run in runs(api)}

        # New logs: a run starts within seconds, triggered by the watcher's asset event, and delivers them.
        receiver.reset()
        added_at = time.time()
        new = [log["log_id"] for log in emulator.add_logs(20)]
        started = wait_until(lambda: [run for run in runs(api) if run["dag_run_id"] not in before],
                             timeout=60, what="a run after new logs", every=0.5)
        run = started[0]
        started_after = time.time() - added_at
        assert run["run_type"] == "asset_triggered", run
        assert api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=180) == "success"
        wait_until(lambda: settled(api, emulator), timeout=120, what="the new logs' runs to end", every=1)
        assert sorted(set(receiver.delivered_log_ids())) == sorted(new)
        lag = max(record.received_at for record in receiver.requests if record.delivered) - added_at
        print(f"run queued {started_after:.1f} s after the logs were added; last one delivered after {lag:.1f} s")
        assert started_after <= POLL + 15

        # Idle: nothing new, so nothing runs; the watcher reads the tenant about once every POLL seconds.
        idle_from = time.time()
        reads_before = emulator.stats()["checkpoint_requests"]
        all_runs = {r["dag_run_id"] for r in runs(api)}
        time.sleep(IDLE_SECONDS)
        reads = emulator.stats()["checkpoint_requests"] - reads_before
        later_runs = [r for r in runs(api) if r["dag_run_id"] not in all_runs]
        started_tis = [(ti["dag_run_id"], ti["task_id"], ti["map_index"], ti["state"], ti["start_date"])
                       for ti in api.call("GET", f"/dags/{DAG_ID}/dagRuns/~/taskInstances?limit=1000")["task_instances"]
                       if (parse_time(ti.get("start_date")) or 0) >= idle_from]
        assert later_runs == [] and started_tis == [], (iso(idle_from), later_runs, started_tis, fired(airflow))
        assert IDLE_SECONDS / POLL / 2 <= reads <= IDLE_SECONDS / POLL + 2, reads
