"""Drive a running Airflow through its REST API: unpause a DAG, trigger a run, wait, summarize.

`python -m auth0_webhooks_devtools.trigger --url http://localhost:8080 --user admin --password ...`
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

    def call(self, method: str, path: str, attempts: int = 3, **kwargs: Any) -> Any:
        """One REST call; a 5xx is tried again (twice, after 1 s, then 2 s): on SQLite, a standalone
        Airflow under load answers 500 now and then ("database is locked")."""
        for attempt in range(attempts):
            answer = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
            if answer.status_code < 500 or attempt + 1 == attempts:
                break
            time.sleep(2 ** attempt)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def create_backfill(self, body: dict, timeout: float = 120) -> dict:
        """POST /backfills (what the UI's Backfill dialog does). Creating the runs takes SQLite's write
        lock, which the scheduler holds often: the API answers 503 ("database is locked") meanwhile. A 422
        (the DAG as last parsed cannot be backfilled over these dates) is tried again too, while a
        re-parse may still change that; its detail is in the error raised at the end."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.call("POST", "/backfills", attempts=1, json=body)
            except requests.HTTPError as error:
                status = error.response.status_code if error.response is not None else None
                if status not in (422, 503) or time.monotonic() > deadline:
                    detail = error.response.text[:500] if error.response is not None else ""
                    raise requests.HTTPError(f"{error}: {detail}", response=error.response) from None
            time.sleep(2)

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
        """Unpause the DAG and trigger a run; return its id."""
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def active_run(self, dag_id: str) -> str | None:
        """The id of a queued or running run of the DAG, if there is one."""
        runs = self.call("GET", f"/dags/{dag_id}/dagRuns?state=queued&state=running&order_by=-run_after")
        return runs["dag_runs"][0]["dag_run_id"] if runs["dag_runs"] else None

    def unpause_and_run(self, dag_id: str, settle: float = 5.0) -> str:
        """Unpause; follow the scheduled run that unpausing starts, or trigger one if none starts."""
        self.call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        time.sleep(settle)
        return self.active_run(dag_id) or self.trigger(dag_id)

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
    parser.add_argument("--slack", help="base URL of a receiver standing in for Slack, to show the run reports")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    api = AirflowApi(args.url, args.user, args.password)
    api.wait_for_dag(args.dag_id, args.timeout)
    run_id = api.unpause_and_run(args.dag_id)
    print(f"    unpaused; run {run_id} started; waiting for it to finish")
    state = api.wait_for_run(args.dag_id, run_id, args.timeout)
    for ti in api.task_instances(args.dag_id, run_id):
        label = ti.get("rendered_map_index") or (ti["map_index"] if ti["map_index"] >= 0 else "")
        print(f"    {ti['task_id']:<10} {str(label)[:90]:<90} {ti['state']}")
    print(f"==> Run {run_id}: {state.upper()}")
    if args.slack:
        show_slack_reports(args.slack)
    if args.receiver:
        show_receiver(args.receiver)
    return 0 if state == "success" else 1


def show_slack_reports(url: str) -> None:
    """Print the run reports the pipeline posted to the Slack stand-in."""
    posts = requests.get(f"{url}/__receiver/requests", params={"bodies": 1}, timeout=10).json()
    posts = posts.get("requests", posts) if isinstance(posts, dict) else posts
    print(f"==> Run reports sent to Slack ({len(posts)}):")
    for post in posts:
        payload = post.get("payload") or {}
        for line in str(payload.get("text", "")).splitlines():
            print(f"    {line}")
        print()


def show_receiver(url: str) -> None:
    """Print what the webhook receiver got, in a few lines."""
    stats = requests.get(f"{url}/__receiver/stats", timeout=10).json()
    print(
        f"==> The webhook received {stats['delivered_log_ids']} logs in {stats['deliveries']} requests "
        f"({stats['unique_delivered_log_ids']} distinct, {stats['duplicate_delivered_log_ids']} duplicates, "
        f"{stats['failed_answers']} refused, {stats['signature_invalid']} with a bad signature); "
        f"answers by status: {stats['by_status']}"
    )


if __name__ == "__main__":
    sys.exit(main())
