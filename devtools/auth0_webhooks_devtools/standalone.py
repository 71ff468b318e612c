"""Run `airflow standalone` (api-server, scheduler with LocalExecutor, dag-processor, triggerer;
SQLite) in a throw-away AIRFLOW_HOME, for the end-to-end tests and the benchmarks.

`start_standalone(directory, environment)` starts it in its own session and returns once the
REST API answers; `stop(process)` ends it and every process it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import requests

from auth0_webhooks_devtools.trigger import AirflowApi

REPO = Path(__file__).resolve().parents[2]  # a source checkout: devtools/auth0_webhooks_devtools/
STARTUP_TIMEOUT = 240


def wait_until(check: Callable[[], Any], timeout: float = 120, what: str = "condition", every: float = 0.5) -> Any:
    """Poll `check` until it returns something true; return that, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Standalone:
    """A running `airflow standalone` and a REST client logged in as admin."""

    url: str
    home: Path
    api: AirflowApi
    log_path: Path
    process: subprocess.Popen

    def kill(self) -> None:
        """SIGKILL every Airflow process (scheduler, API server, workers, tasks): a crash."""
        kill_session(self.process.pid)
        self.process.wait(timeout=30)


def session_members(sid: int) -> dict[int, int]:
    """{pid: process group} of the live (not zombie) processes of session `sid`, from /proc."""
    members = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, pgid, session = stat.read_text().rpartition(")")[2].split()[:4]
        except (OSError, ValueError):
            continue
        if session == str(sid) and state not in ("Z", "X"):
            members[int(stat.parent.name)] = int(pgid)
    return members


def kill_session(sid: int, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to every process group of session `sid`."""
    for pgid in set(session_members(sid).values()):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass


def standalone_environment(directory: Path, port: int, environment: dict[str, str]) -> dict[str, str]:
    """The process environment: a home under `directory`, this checkout's dags/ and plugins/,
    fast DAG re-parsing and heartbeats, the API on `port`; `environment` overrides any of it."""
    home = directory / "airflow-home"
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AUTH0_WEBHOOKS_TOKEN_CACHE": str(directory / "token-cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **environment,
    }


def start_standalone(directory: Path, environment: dict[str, str], timeout: float = STARTUP_TIMEOUT) -> Standalone:
    """Start standalone with `environment` added (connections, variables); wait until it answers.

    A second start with the same `directory` reuses the Airflow home: a restart after a crash."""
    home = directory / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = standalone_environment(directory, port, environment)
    log_path = directory / f"standalone-{port}.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "airflow"), "standalone"],
        env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        return _wait_for_api(process, home, f"http://localhost:{port}", log_path, timeout)
    except BaseException:  # failed, timed out or interrupted (Ctrl-C): leave nothing running
        stop(process)
        raise


def _wait_for_api(process: subprocess.Popen, home: Path, url: str, log_path: Path, timeout: float) -> Standalone:
    deadline = time.monotonic() + timeout
    password_file = home / "simple_auth_manager_passwords.json.generated"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/api/v2/monitor/health", timeout=2).ok and password_file.exists():
                password = json.loads(password_file.read_text())["admin"]
                return Standalone(url, home, AirflowApi(url, "admin", password), log_path, process)
        except (requests.RequestException, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"airflow standalone did not start in {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(1)


def stop(process: subprocess.Popen, grace: float = 30) -> None:
    """Stop standalone and every process it started (its whole session): SIGTERM, then SIGKILL
    for whatever is left after `grace` seconds or once standalone itself has exited."""
    kill_session(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    kill_session(process.pid)  # stragglers: task processes (Airflow gives each a group of its own), api-server workers
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
