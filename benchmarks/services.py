"""The services a benchmark needs: the Auth0 emulator and the webhook receiver (threads of this
process, on loopback), and one `airflow standalone` for every scenario; plus the few things the
benchmarks ask Airflow through its REST API (Variables, runs, task instances, XComs).

Only stable, external names are used: the DAG id, the Variables and the Connections.
"""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import requests

from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks_devtools.standalone import Standalone, start_standalone, stop
from benchmarks.sampler import RssSampler

DAG_ID = "auth0_logs_to_webhook"
CONFIG_VARIABLE = "auth0_webhooks_config"
CHECKPOINT_VARIABLE = "auth0_webhooks_checkpoint"
STATE_VARIABLES = ("auth0_webhooks_checkpoint", "auth0_webhooks_state", "auth0_webhooks_paused")
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret"
AUTHORIZATION = "Bearer bench-webhook-token"
SIGNING_SECRET = "whsec_YmVuY2htYXJrLXNpZ25pbmctc2VjcmV0LTAxMjM0NTY3"
WEBHOOK_PATH = "/auth0-logs"
REPO = Path(__file__).resolve().parents[1]
FINISHED = ("success", "failed")


def parse_time(value: str | None) -> float | None:
    """Epoch seconds of an Airflow API timestamp."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class Source:
    """Where Airflow takes the DAG and the provider from: this working tree, or a git revision."""

    root: Path
    description: str

    @classmethod
    def from_ref(cls, ref: str | None, workdir: Path, describe_tree: str) -> "Source":
        """`ref` None: the working tree; else `git archive` of dags/ and plugins/ at that revision."""
        if not ref:
            return cls(REPO, f"working tree ({describe_tree})")
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ref], capture_output=True,
                                text=True, check=True).stdout.strip()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "dags", "plugins"],
                                 capture_output=True, check=True).stdout
        root = workdir / f"source-{commit}"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(root, **options)
        return cls(root, f"git {ref} ({commit})")

    def environment(self) -> dict[str, str]:
        """Variables that make Airflow (and any Python started with them) use this source."""
        plugins = str(self.root / "plugins")
        return {
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": plugins,
            "PYTHONPATH": os.pathsep.join([plugins, str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        }


class Services:
    """Emulator, receiver, Airflow and an RSS sampler; `close()` stops all of them."""

    def __init__(self, workdir: Path, source: Source, say: Callable[[str], None]) -> None:
        self.workdir = workdir
        self.source = source
        self.say = say
        self.emulator = Auth0Emulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, seed=11)
        self.receiver = WebhookReceiver(keep_bodies=False, expected_authorization=AUTHORIZATION,
                                        signing_secret=SIGNING_SECRET, path=WEBHOOK_PATH)
        self.airflow: Standalone | None = None
        self.sampler: RssSampler | None = None
        self.settings: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start the emulator, the receiver and Airflow; wait for the DAG (still paused: configure
        it before `unpause`, or its default schedule starts a run)."""
        self.emulator.start()
        self.receiver.start()
        self.say("starting airflow standalone")
        started = time.monotonic()
        self.airflow = start_standalone(self.workdir, {
            **self.source.environment(),
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": self.emulator.base_url,
                                                      "login": CLIENT_ID, "password": CLIENT_SECRET}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({
                "conn_type": "http", "host": self.webhook_url, "password": AUTHORIZATION,
                "extra": {"timeout": 30, "signing_secret": SIGNING_SECRET}}),
        })
        self.sampler = RssSampler(self.airflow.process.pid).start()
        self.api.wait_for_dag(DAG_ID, timeout=240)
        self.say(f"airflow is up at {self.airflow.url} after {time.monotonic() - started:.0f} s "
                 f"(log: {self.airflow.log_path})")

    def unpause(self) -> None:
        self.api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

    def close(self) -> None:
        """Stop everything this harness started (Airflow's whole session first)."""
        if self.sampler is not None:
            self.sampler.stop()
        if self.airflow is not None:
            stop(self.airflow.process)
        self.receiver.stop()
        self.emulator.stop()

    @property
    def api(self) -> Any:
        assert self.airflow is not None, "Airflow is not started"
        return self.airflow.api

    @property
    def webhook_url(self) -> str:
        return f"{self.receiver.base_url}{WEBHOOK_PATH}"

    # -- settings ----------------------------------------------------------------------

    def configure(self, settings: dict[str, Any], timeout: float = 180) -> None:
        """Write the config Variable; wait until the DAG is parsed with it (schedule shown, and a
        parse that started after the write)."""
        self.settings = dict(settings)
        written = time.time()
        self.set_variable(CONFIG_VARIABLE, json.dumps(settings))
        wanted = settings.get("schedule")
        deadline = time.monotonic() + timeout
        while True:
            dag = self.api.call("GET", f"/dags/{DAG_ID}")
            parsed = parse_time(dag.get("last_parsed_time")) or 0
            shown = dag.get("timetable_summary")  # "Asset or */5 * * * *": the cron, or a backlog's asset event
            if (shown == wanted or (wanted and str(shown).endswith(f" or {wanted}"))) and parsed > written + 0.5:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the DAG was not re-parsed with schedule {wanted!r} in {timeout:.0f} s "
                                   f"(shows {dag.get('timetable_summary')!r})")
            time.sleep(1)

    def set_variable(self, key: str, value: str) -> None:
        try:
            self.api.call("PATCH", f"/variables/{key}", json={"key": key, "value": value})
        except requests.HTTPError as error:
            if error.response is None or error.response.status_code != 404:
                raise
            self.api.call("POST", "/variables", json={"key": key, "value": value})

    def get_variable(self, key: str) -> str | None:
        try:
            return self.api.call("GET", f"/variables/{key}")["value"]
        except requests.HTTPError as error:
            if error.response is not None and error.response.status_code == 404:
                return None
            raise

    def delete_variable(self, key: str) -> None:
        try:
            self.api.call("DELETE", f"/variables/{key}")
        except requests.HTTPError as error:
            if error.response is None or error.response.status_code != 404:
                raise

    # -- runs --------------------------------------------------------------------------

    def active_runs(self) -> list[dict]:
        runs = self.api.call("GET", f"/dags/{DAG_ID}/dagRuns?state=queued&state=running&limit=100")
        return runs["dag_runs"]

    def settle(self, timeout: float = 600) -> None:
        """Wait for active runs to finish; fail those still active after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (runs := self.active_runs()) and time.monotonic() < deadline:
            time.sleep(1)
        for run in runs:
            self.say(f"marking the stuck run {run['dag_run_id']} failed")
            self.api.call("PATCH", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}", json={"state": "failed"})
        if runs:
            time.sleep(5)

    def prepare(self, logs: int, rate_limit: tuple[int, float] | None) -> str | None:
        """A fresh start: no active run, no checkpoint or state, `logs` new logs, the receiver and
        the stats reset, and the emulator's rate-limit bucket full. Returns the newest log id."""
        self.settle()
        for key in STATE_VARIABLES:
            self.delete_variable(key)
        self.emulator.reset_logs(logs)
        self.receiver.reset()
        self.ready(rate_limit)
        ids = self.emulator.log_ids
        return ids[-1] if ids else None

    def ready(self, rate_limit: tuple[int, float] | None) -> None:
        """Just before a trigger: a full bucket, zeroed emulator and receiver counters."""
        self.emulator.set_rate_limit(*(rate_limit or (None, None)))
        self.emulator.reset_stats()

    def trigger(self) -> str:
        run = self.api.call("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
        return run["dag_run_id"]

    def run(self, run_id: str) -> dict:
        return self.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")

    def task_instances(self, run_id: str) -> list[dict]:
        """Every task instance of the run, mapped ones included (paged)."""
        found: list[dict] = []
        while True:
            page = self.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances"
                                        f"?limit=100&offset={len(found)}&order_by=start_date")
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def xcom_metrics(self, run_id: str, fields: tuple[str, ...], limit: int = 400) -> dict[str, float]:
        """The largest value of each of `fields` found in the run's XComs whose key looks like a
        report (progress, stats, metrics, memory), looked for at any depth."""
        entries: list[dict] = []
        while len(entries) < 5000:
            page = self.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/~/xcomEntries"
                                        f"?limit=100&offset={len(entries)}")
            entries += page["xcom_entries"]
            if not page["xcom_entries"] or len(entries) >= page["total_entries"]:
                break
        wanted = [e for e in entries if any(word in e["key"].lower() for word in
                                            ("progress", "stat", "metric", "memory", "report"))][:limit]
        found: dict[str, float] = {}
        for entry in wanted:
            value = self._xcom_value(run_id, entry)
            for name, number in _find_fields(value, fields):
                found[name] = max(number, found.get(name, number))
        return found

    def _xcom_value(self, run_id: str, entry: dict) -> Any:
        try:
            answer = self.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{entry['task_id']}"
                                          f"/xcomEntries/{entry['key']}?map_index={entry['map_index']}&deserialize=true")
        except requests.HTTPError:
            return None
        value = answer.get("value")
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                try:
                    return ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    return value
        return value


def _find_fields(value: Any, fields: tuple[str, ...]) -> list[tuple[str, float]]:
    """(name, number) for every numeric field named in `fields`, at any depth of dicts and lists."""
    found: list[tuple[str, float]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in fields and isinstance(item, (int, float)) and not isinstance(item, bool):
                found.append((key, float(item)))
            else:
                found += _find_fields(item, fields)
    elif isinstance(value, list):
        for item in value:
            found += _find_fields(item, fields)
    return found


def python_command(module: str, *args: str) -> list[str]:
    """`python -m module args` with this interpreter."""
    return [sys.executable, "-m", module, *args]
