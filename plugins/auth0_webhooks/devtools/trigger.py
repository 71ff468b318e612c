"""Drive a running Airflow through its REST API: unpause a DAG, trigger a run, wait, summarize.

`python -m auth0_webhooks.devtools.trigger --url http://localhost:8080 --user admin --password ...`
Used by the demo and by the end-to-end tests, exactly as a user's script would.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import requests

from auth0_webhooks.names import DAG_ID


class AirflowApi:
    """A small client of Airflow 3's public REST API (v2)."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        answer = requests.post(f"{self.url}/auth/token", json={"username": user, "password": password}, timeout=30)
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("GET", f"/dags/{dag_id}")
                return
            except requests.HTTPError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout:.0f} s") from None
                time.sleep(2)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise TimeoutError(f"run {run_id} did not finish within {timeout:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:8080")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", required=True)
    parser.add_argument("--dag-id", default=DAG_ID)
    parser.add_argument("--receiver", help="base URL of the webhook receiver, to show what it got")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    api = AirflowApi(args.url, args.user, args.password)
    api.wait_for_dag(args.dag_id, args.timeout)
    run_id = api.trigger(args.dag_id)
    print(f"    triggered run {run_id}; waiting for it to finish")
    state = api.wait_for_run(args.dag_id, run_id, args.timeout)
    for ti in api.task_instances(args.dag_id, run_id):
        label = ti.get("rendered_map_index") or (ti["map_index"] if ti["map_index"] >= 0 else "")
        print(f"    {ti['task_id']:<10} {str(label)[:90]:<90} {ti['state']}")
    print(f"==> Run {run_id}: {state.upper()}")
    if args.receiver:
        stats = requests.get(f"{args.receiver}/__receiver/stats", timeout=10).json()
        print(f"==> The webhook received: {stats}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
