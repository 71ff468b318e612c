"""The run history page (plugin auth0_webhooks.ui) in a real headless Chromium, against a real `airflow standalone`.

Three runs are made (two delivered, one refused by the receiver), then the page is read as the admin logged
in through the Airflow UI's login form: its rows and figures match each run's report, "failed only" keeps
the failed run, a run's full report opens, the chart has a point per run. Without a token the page is
refused; a user whose role gives no access to any DAG is served a page without a row.

The simple auth manager (standalone's) has no per-DAG permissions outside multi-team mode: a role either
reads every DAG (viewer and above) or none (a user defined without a role). The test uses both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import requests

from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks_devtools.receiver import WebhookReceiver
from auth0_webhooks.names import CONFIG_VARIABLE, DAG_ID
from auth0_webhooks.ui.history import REPORT_TASK_ID, REPORT_XCOM_KEYS, URL_PREFIX

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path("/tmp/run_history.png")
USERS = "admin:admin,viewer:viewer,nobody:"  # nobody: no role, so no access to any DAG


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: scripts/bootstrap.sh installs Debian's chromium with apt-get "
                    "where it can (root, apt, network)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the [test] extra")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Site:
    def __init__(self, airflow, receiver: WebhookReceiver, runs: dict[str, str]) -> None:
        self.airflow, self.api, self.receiver, self.runs = airflow, airflow.api, receiver, runs
        self.page_url = f"{airflow.url}{URL_PREFIX}/"

    def report(self, run_id: str) -> dict | None:
        """The run's report as the REST API gives it (the XCom the page reads), or None."""
        for key in REPORT_XCOM_KEYS:
            try:
                value = self.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{REPORT_TASK_ID}"
                                             f"/xcomEntries/{key}")["value"]
            except requests.HTTPError:
                continue
            return json.loads(value) if isinstance(value, str) else value
        return None

    def password(self, user: str) -> str:
        return json.loads((self.airflow.home / "simple_auth_manager_passwords.json.generated").read_text())[user]

    def token(self, user: str) -> str:
        answer = requests.post(f"{self.airflow.url}/auth/token",
                               json={"username": user, "password": self.password(user)}, timeout=30)
        answer.raise_for_status()
        return answer.json()["access_token"]


@pytest.fixture(scope="module")
def site(module_standalone_factory) -> Iterator[Site]:
    """Airflow with two delivered runs (the first reads the 40 seeded logs, the second 25 new ones)
    and one failed run (the receiver refuses every request with 400)."""
    with Auth0Emulator(client_id="e2e", client_secret="e2e-secret", seed=5, logs=40) as emulator, \
            WebhookReceiver() as receiver:
        airflow = module_standalone_factory({
            "AIRFLOW_CONN_AUTH0_DEFAULT": json.dumps({"conn_type": "auth0", "host": emulator.base_url,
                                                      "login": "e2e", "password": "e2e-secret"}),
            "AIRFLOW_CONN_AUTH0_WEBHOOK": json.dumps({"conn_type": "http", "host": f"{receiver.base_url}/hook",
                                                      "extra": {"max_attempts": 1}}),
            f"AIRFLOW_VAR_{CONFIG_VARIABLE.upper()}": json.dumps({"schedule": None, "task_retries": 0}),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS,
        })
        api = airflow.api
        api.wait_for_dag(DAG_ID, timeout=180)
        runs = {}
        runs["first"] = api.trigger(DAG_ID)
        assert api.wait_for_run(DAG_ID, runs["first"], timeout=180) == "success", airflow.log_path.read_text()[-4000:]
        emulator.add_logs(25)
        runs["second"] = api.trigger(DAG_ID)
        assert api.wait_for_run(DAG_ID, runs["second"], timeout=180) == "success", airflow.log_path.read_text()[-4000:]
        receiver.set_behaviour(status=400)
        emulator.add_logs(10)
        runs["failed"] = api.trigger(DAG_ID)
        assert api.wait_for_run(DAG_ID, runs["failed"], timeout=180) == "failed"
        yield Site(airflow, receiver, runs)


def login(browser, site: Site, user: str):
    """A browser context logged in through the Airflow UI's login form, as a user does."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(f"{site.airflow.url}/", wait_until="networkidle")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", site.password(user))
    page.click("button[type=submit]")
    page.wait_for_function("document.cookie.includes('_token=')", timeout=30_000)
    return context, page


def read_rows(page) -> list[dict]:
    return page.eval_on_selector_all("#runs tr.run", """rows => rows.map(row => ({
        run_id: row.dataset.runId, dag_id: row.dataset.dagId, state: row.dataset.state,
        kind: row.querySelector('td.kind').innerText.trim(),
        delivered: row.querySelector('td.delivered').innerText.trim(),
        checkpoint: row.querySelector('td.checkpoint').innerText.trim(),
        start: row.querySelector('td.start').innerText.trim(),
        lag: row.querySelector('td.lag').innerText.trim()}))""")


def test_the_page_lists_the_runs_with_their_reports(browser, site):
    context, page = login(browser, site, "admin")
    try:
        page.goto(site.page_url, wait_until="load")
        rows = {row["run_id"]: row for row in read_rows(page)}
        assert set(rows) == set(site.runs.values())
        reports = {run_id: site.report(run_id) for run_id in site.runs.values()}
        for name, run_id in site.runs.items():
            report, row = reports[run_id] or {}, rows[run_id]
            assert row["dag_id"] == DAG_ID and row["kind"] == "manual"
            assert row["delivered"] == str(report.get("logs_delivered", "—")), (name, row, report)
            assert row["checkpoint"] == (report.get("checkpoint_after") or "—")
            assert row["state"] == ("failed" if name == "failed" else "success")
        assert rows[site.runs["first"]]["delivered"] == "40"  # what the receiver got: 40 seeded logs,
        assert rows[site.runs["second"]]["delivered"] == "25"  # then the 25 added
        assert rows[site.runs["failed"]]["delivered"] in ("0", "—")  # "—": its commit left no report
        assert page.inner_text("#summary").startswith("3 runs; page 1 of 1")
        # newest first
        assert [row["run_id"] for row in read_rows(page)] == [site.runs[n] for n in ("failed", "second", "first")]

        # the chart: a bar per run that started, with the run's figure
        bars = page.eval_on_selector_all("#chart rect.point.delivered",
                                         "bars => bars.map(b => [b.dataset.runId, Number(b.dataset.value)])")
        assert dict(bars) == {run_id: report["logs_delivered"] for run_id, report in reports.items() if report}
        assert dict(bars)[site.runs["first"]] == 40 and dict(bars)[site.runs["second"]] == 25
        lags = page.eval_on_selector_all("#chart circle.point.lag", "points => points.map(p => p.dataset.runId)")
        assert set(lags) == {run_id for run_id, report in reports.items() if (report or {}).get("lag_seconds") is not None}
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        page.click("#tab-failed")
        page.wait_for_load_state("load")
        assert [row["run_id"] for row in read_rows(page)] == [site.runs["failed"]]
        assert "status=failed" in page.url

        page.click(f"#runs tr[data-run-id='{site.runs['failed']}'] a.report-link")
        page.wait_for_selector("#report")
        assert page.locator(".state-failed").count() == 1
        if (failed := reports[site.runs["failed"]]) is not None:
            assert failed["error"] and page.inner_text("#error") == failed["error"]
        link = page.get_attribute("#airflow-run", "href")
        assert link.endswith(f"/dags/{DAG_ID}/runs/{requests.utils.quote(site.runs['failed'], safe='')}")
        page.screenshot(path=str(SCREENSHOT.with_name("run_history_failed_report.png")), full_page=True)

        # a delivered run's full report: every field of its report
        page.goto(site.page_url, wait_until="load")
        page.click(f"#runs tr[data-run-id='{site.runs['second']}'] a.report-link")
        page.wait_for_selector("#report")
        report = reports[site.runs["second"]]
        fields = dict(page.eval_on_selector_all("#report dd", "dds => dds.map(d => [d.dataset.field, d.innerText])"))
        assert set(report) - {"warnings", "error"} <= set(fields)
        for key in ("logs_read", "logs_delivered", "logs_filtered_out", "checkpoint_before", "checkpoint_after"):
            assert fields[key] == str(report[key]), key
        assert page.inner_text("#error") == "none"
        page.screenshot(path=str(SCREENSHOT.with_name("run_history_report.png")), full_page=True)
    finally:
        context.close()


def test_the_page_in_the_airflow_ui_menu(browser, site):
    """The UI lists the external view; opened from there, the page loads in the UI's frame with the cookie."""
    assert site.api.call("GET", "/plugins/importErrors")["import_errors"] == []  # registered once
    plugins = site.api.call("GET", "/plugins")["plugins"]
    views = [view for plugin in plugins for view in plugin["external_views"]]
    view = next(view for view in views if view["name"] == "Auth0 run history")
    context, page = login(browser, site, "admin")
    try:
        page.goto(f"{site.airflow.url}/plugin/{view['url_route']}", wait_until="networkidle")
        rows = page.frame_locator("iframe").locator("#runs tr.run")
        rows.first.wait_for(timeout=30_000)
        assert rows.count() == 3
    finally:
        context.close()


def test_without_a_token_the_page_is_refused(site):
    for path in ("", f"run?dag_id={DAG_ID}&run_id={site.runs['first']}"):
        assert requests.get(site.page_url + path, timeout=30).status_code == 401
        bad = requests.get(site.page_url + path, headers={"Authorization": "Bearer not-a-token"}, timeout=30)
        assert bad.status_code in (401, 403)
        assert site.runs["first"] not in bad.text


def test_a_user_without_access_to_the_dag_sees_no_run(browser, site):
    nobody = {"Authorization": f"Bearer {site.token('nobody')}"}
    answer = requests.get(site.page_url, headers=nobody, timeout=30)
    assert answer.status_code == 200 and 'id="no-access"' in answer.text
    assert not any(run_id in answer.text for run_id in site.runs.values())
    report = requests.get(f"{site.page_url}run", params={"dag_id": DAG_ID, "run_id": site.runs["first"]},
                          headers=nobody, timeout=30)
    assert report.status_code == 404 and "logs_delivered" not in report.text

    viewer = requests.get(site.page_url, headers={"Authorization": f"Bearer {site.token('viewer')}"}, timeout=30)
    assert viewer.status_code == 200 and all(run_id in viewer.text for run_id in site.runs.values())

    context, page = login(browser, site, "nobody")
    try:
        page.goto(site.page_url, wait_until="load")
        assert page.locator("#no-access").count() == 1 and page.locator("#runs tr.run").count() == 0
    finally:
        context.close()
