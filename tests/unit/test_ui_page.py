"""The run history page (auth0_webhooks.ui): its query parameters, rows read tolerantly from run reports,
the HTML and chart it renders, and its SQL (pagination, the failed filter, the DAGs a user may read)
against Airflow's tables in an in-memory SQLite database, with a fake auth manager."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from auth0_webhooks.names import DAG_ID
from auth0_webhooks.ui.history import MISSING, PAGE_SIZE, ChartPoint, Query, QueryError, RunRow, chart_points, \
    is_project_dag, page_count, parse_query, run_url, show, show_lag
from auth0_webhooks.ui.render import render_chart, render_list, render_report

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
OTHER = f"{DAG_ID}__eu"


def report(**fields) -> dict:
    return {"dag_id": DAG_ID, "run_id": "r", "start": T0.isoformat(), "end": T0.isoformat(), "logs_read": 12,
            "logs_delivered": 10, "logs_filtered_out": 2, "checkpoint_before": "a1", "checkpoint_after": "b2",
            "caught_up": True, "dry_run": False, "error": None, "warnings": [], **fields}


def row(run_id="scheduled__1", state="success", minutes=0, dag_id=DAG_ID, run_type="scheduled", **fields) -> RunRow:
    return RunRow(dag_id=dag_id, run_id=run_id, run_type=run_type, state=state, start=T0 + timedelta(minutes=minutes),
                  end=T0 + timedelta(minutes=minutes, seconds=30), report=fields.pop("report", report(**fields)))


# ---- query parameters ----


def test_the_default_query_is_every_run_of_every_pipeline_first_page():
    assert parse_query(None, None, None) == Query(dag_id=None, failed_only=False, page=1)
    assert parse_query(OTHER, "failed", "3") == Query(dag_id=OTHER, failed_only=True, page=3)
    assert Query(page=3).offset == 2 * PAGE_SIZE


@pytest.mark.parametrize("dag_id, status, page, message", [
    ("other_dag", None, None, "dag_id='other_dag' is not allowed: expected 'auth0_logs_to_webhook' or "
                              "auth0_logs_to_webhook__<name>"),
    (f"{DAG_ID}__", None, None, "dag_id='auth0_logs_to_webhook__' is not allowed"),
    (None, "running", None, "status='running' is not allowed: expected one of all, failed"),
    (None, None, "0", "page='0' is not allowed: expected an integer of at least 1"),
    (None, None, "two", "page='two' is not allowed"),
])
def test_a_bad_parameter_is_named_with_its_value_and_what_is_allowed(dag_id, status, page, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        parse_query(dag_id, status, page)


def test_project_dags_are_the_default_pipeline_and_its_named_pipelines():
    assert is_project_dag(DAG_ID) and is_project_dag(OTHER)
    assert not is_project_dag("auth0_logs_to_webhook_2") and not is_project_dag("example") \
        and not is_project_dag(f"{DAG_ID}__")


def test_links_keep_the_filters_and_drop_defaults():
    query = Query(dag_id=OTHER, failed_only=True, page=2)
    assert query.link() == f"./?dag_id={OTHER}&status=failed&page=2"
    assert query.link(page=1) == f"./?dag_id={OTHER}&status=failed"
    assert Query().link() == "./" and Query().link(failed_only=True) == "./?status=failed"
    assert parse_query(OTHER, "failed", "2") == query  # what a link says is what it reads back


@pytest.mark.parametrize("total, pages", [(0, 1), (1, 1), (PAGE_SIZE, 1), (PAGE_SIZE + 1, 2), (35, 4)])
def test_page_count(total, pages):
    assert page_count(total) == pages


# ---- rows ----


def test_a_row_reads_its_report_tolerantly():
    bare = RunRow(DAG_ID, "r", "manual", "failed", None, None, report=None)
    assert (bare.logs_delivered, bare.lag_seconds, bare.checkpoint_after, bare.warnings) == (None, None, None, [])
    assert show(bare.logs_delivered) == MISSING and show_lag(bare.lag_seconds) == MISSING
    odd = row(logs_delivered=True, lag_seconds="soon", warnings="not a list")
    assert (odd.logs_delivered, odd.lag_seconds, odd.warnings) == (None, None, [])
    assert row(lag_seconds=75).lag_seconds == 75.0 and row(logs_delivered=0).logs_delivered == 0


def test_the_kind_is_the_run_type_unless_the_report_says_more():
    assert row(run_type="backfill").kind == "backfill"
    assert row(run_type="manual", run_kind="scheduled").kind == "manual"  # the DagRun knows better
    assert row(run_type="manual", run_kind="dry run").kind == "dry run"
    assert row(run_type="asset_triggered").kind == "asset"


@pytest.mark.parametrize("seconds, text", [(None, MISSING), (0, "0 s"), (44.6, "45 s"), (725, "12 min 5 s"),
                                           (12000, "3 h 20 min"), (187200, "2 d 4 h")])
def test_lag_reads_as_a_person_says_it(seconds, text):
    assert show_lag(seconds) == text


def test_run_url_quotes_the_run_id():
    assert run_url("http://airflow:8080/", DAG_ID, "manual__2026-12-01T08:00:00+00:00") == \
        f"http://airflow:8080/dags/{DAG_ID}/runs/manual__2026-12-01T08%3A00%3A00%2B00%3A00"


# ---- the list ----


def cells(page: str, css: str) -> list[str]:
    return re.findall(rf'<td class="{css}">(.*?)</td>', page)


def test_the_list_shows_each_run_with_its_figures():
    rows = [row("r3", "failed", 10, logs_delivered=0, checkpoint_after="b2", error="HTTP 400", lag_seconds=900),
            row("r2", "success", 5, logs_delivered=7, checkpoint_after="b2", lag_seconds=61),
            row("r1", "success", 0, report=None)]
    page = render_list(query=Query(), rows=rows, total=3, dag_ids=[DAG_ID], chart=chart_points(rows), base_url="")
    assert re.findall(r'data-run-id="(r\d)" data-state="(\w+)"', page) == [("r3", "failed"), ("r2", "success"),
                                                                          ("r1", "success")]
    assert cells(page, "delivered num") == ["0", "7", MISSING]
    assert cells(page, "lag num") == ["15 min 0 s", "1 min 1 s", MISSING]
    assert cells(page, "checkpoint") == ["<code>b2</code>", "<code>b2</code>", f"<code>{MISSING}</code>"]
    assert cells(page, "start") == ["2026-12-01 08:10:00", "2026-12-01 08:05:00", "2026-12-01 08:00:00"]
    assert 'href="run?dag_id=auth0_logs_to_webhook&amp;run_id=r3"' in page
    assert f'href="/dags/{DAG_ID}/runs/r3"' in page  # no [api] base_url: the UI on this server
    assert '<span id="summary" class="muted">3 runs; page 1 of 1</span>' in page
    assert 'id="dag-selector"' not in page  # one pipeline: no selector
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_filters_selector_and_pager():
    query = Query(dag_id=OTHER, failed_only=True, page=2)
    page = render_list(query=query, rows=[row("r", "failed", dag_id=OTHER)], total=25, dag_ids=[DAG_ID, OTHER],
                       chart=[], base_url="https://airflow.example.com")
    assert f'id="tab-failed" class="active" href="./?dag_id={OTHER}&amp;status=failed"' in page  # page 1, same DAG
    assert f'id="tab-all" class="" href="./?dag_id={OTHER}"' in page
    assert f'<option value="{OTHER}" selected>' in page and '<input type="hidden" name="status" value="failed">' in page
    assert f'id="newer" href="./?dag_id={OTHER}&amp;status=failed"' in page
    assert f'id="older" href="./?dag_id={OTHER}&amp;status=failed&amp;page=3"' in page
    assert "25 runs failed; page 2 of 3" in page
    assert f'href="https://airflow.example.com/dags/{OTHER}/runs/r"' in page
    last = render_list(query=Query(page=3), rows=[], total=25, dag_ids=[DAG_ID], chart=[], base_url="")
    assert 'id="older"' not in last and 'id="newer"' in last and 'id="empty"' in last


def test_a_user_who_may_read_no_project_dag_gets_no_table():
    page = render_list(query=Query(), rows=[], total=0, dag_ids=[], chart=[], base_url="")
    assert 'id="no-access"' in page and "<table" not in page


def test_everything_from_the_database_is_escaped():
    evil = "<script>alert(1)</script>"
    rows = [row(evil, "success", checkpoint_after=evil, error=evil, warnings=[evil])]
    page = render_list(query=Query(), rows=rows, total=1, dag_ids=[DAG_ID], chart=chart_points(rows), base_url="")
    assert evil not in page and "&lt;script&gt;" in page
    assert evil not in render_report(rows[0], base_url="")


# ---- the chart ----


def test_the_chart_has_a_bar_per_reported_run_and_a_lag_point_per_run_with_a_lag():
    rows = [row("r1", minutes=0, logs_delivered=40, lag_seconds=120), row("r2", minutes=5, logs_delivered=0),
            row("r3", minutes=10, report=None), row("r4", minutes=15, logs_delivered=10, lag_seconds=30)]
    svg = render_chart(chart_points(list(reversed(rows))))
    bars = re.findall(r'<rect class="point delivered" data-value="(\d+)" data-run-id="(\w+)"', svg)
    assert bars == [("40", "r1"), ("0", "r2"), ("10", "r4")]  # oldest first; r3 has no figure
    assert re.findall(r'<circle class="point lag" data-value="([\d.]+)" data-run-id="(\w+)"', svg) == \
        [("120", "r1"), ("30", "r4")]
    assert 'class="lag-line"' in svg
    xs = [float(x) for x in re.findall(r'<circle class="point lag"[^>]* cx="([\d.]+)"', svg)]
    assert xs[0] < xs[1]  # time runs left to right
    heights = dict(re.findall(r'data-run-id="(\w+)" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg))
    assert float(heights["r1"]) > float(heights["r4"]) > float(heights["r2"]) == 0


def test_a_chart_without_runs_says_so():
    assert 'id="chart-empty"' in render_chart([])
    one = render_chart([ChartPoint(T0, 3, None, "r")])
    assert 'data-value="3"' in one and "no report of these runs gives a lag" in one


# ---- one run ----


def test_the_full_report_lists_every_field_even_new_ones():
    run = row("r9", "failed", logs_delivered=3, error="webhook refused: HTTP 400", warnings=["slow", "gap"],
              lag_seconds=3700, some_future_field={"a": 1})
    page = render_report(run, base_url="http://airflow")
    fields = dict(re.findall(r'<dd data-field="(\w+)">(.*?)</dd>', page))
    assert fields["logs_delivered"] == "3" and fields["logs_read"] == "12" and fields["checkpoint_after"] == "b2"
    assert fields["lag_seconds"] == "1 h 1 min" and fields["caught_up"] == "yes"
    assert fields["some_future_field"] == "a: 1"
    assert '<div id="error" class="error">webhook refused: HTTP 400</div>' in page
    assert "<li>slow</li><li>gap</li>" in page
    assert 'id="airflow-run" target="_top" href="http://airflow/dags/auth0_logs_to_webhook/runs/r9"' in page


def test_a_run_without_report_shows_dashes():
    page = render_report(RunRow(DAG_ID, "r", "manual", "running", T0, None), base_url="")
    fields = dict(re.findall(r'<dd data-field="(\w+)">(.*?)</dd>', page))
    assert fields == {"logs_delivered": MISSING, "checkpoint_after": MISSING, "lag_seconds": MISSING}
    assert 'id="no-report"' in page


# ---- the SQL: pagination, the failed filter, the DAGs a user may read ----


class FakeAuthManager:
    def __init__(self, readable: set[str]) -> None:
        self.readable = readable

    def get_authorized_dag_ids(self, *, user, method="GET", session=None) -> set[str]:
        return set(self.readable)

    def is_authorized_dag(self, *, method, user, access_entity=None, details=None) -> bool:
        return details.id in self.readable


@pytest.fixture
def database(monkeypatch):
    """Airflow's tables in an in-memory SQLite: 23 runs of the default DAG (every third failed, the newest
    with a report), 2 of a named pipeline, 1 of another DAG."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from airflow.models.base import Base
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.db import import_all_models

    import_all_models()
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(DagModel(dag_id=dag_id, bundle_name="dags-folder") for dag_id in (DAG_ID, OTHER, "other"))
        runs = [(DAG_ID, index) for index in range(23)] + [(OTHER, 0), (OTHER, 1), ("other", 0)]
        for dag_id, index in runs:
            run = DagRun(dag_id=dag_id, run_id=f"run{index:02d}", run_type="scheduled",
                         state="failed" if index % 3 == 0 else "success", run_after=T0 + timedelta(minutes=index))
            run.start_date = T0 + timedelta(minutes=index)
            session.add(run)
            session.flush()
            if index >= 20 or dag_id == OTHER:
                session.add(XComModel(dag_run_id=run.id, task_id="commit", map_index=-1, key="return_value",
                                      dag_id=dag_id, run_id=run.run_id, timestamp=T0,
                                      value=report(logs_delivered=index, lag_seconds=index * 10)))
        session.flush()
        yield session


def read_page(monkeypatch, session, readable: set[str], query: Query) -> str:
    from auth0_webhooks.ui import app

    monkeypatch.setattr(app, "get_auth_manager", lambda: FakeAuthManager(readable))
    return app.list_page(user=None, session=session, query=query)


def run_ids(page: str) -> list[str]:
    return re.findall(r'<tr class="run" data-dag-id="[^"]+" data-run-id="([^"]+)"', page)


def test_pages_of_ten_newest_first(database, monkeypatch):
    everything = {DAG_ID, OTHER, "other"}
    first = read_page(monkeypatch, database, everything, Query(dag_id=DAG_ID))
    assert run_ids(first) == [f"run{i:02d}" for i in range(22, 12, -1)]
    assert "23 runs; page 1 of 3" in first
    assert cells(first, "delivered num")[:4] == ["22", "21", "20", MISSING]  # the XCom report of each run
    third = read_page(monkeypatch, database, everything, Query(dag_id=DAG_ID, page=3))
    assert run_ids(third) == ["run02", "run01", "run00"]
    chart = re.findall(r'<rect class="point delivered" data-value="(\d+)"', first)
    assert chart == ["20", "21", "22"]  # the chart covers the selection, not just the page


def test_failed_only_and_every_pipeline(database, monkeypatch):
    everything = {DAG_ID, OTHER, "other"}
    failed = read_page(monkeypatch, database, everything, Query(failed_only=True))
    assert "9 runs failed; page 1 of 1" in failed  # 8 of the default DAG, 1 of the named pipeline
    assert set(re.findall(r'data-state="(\w+)"', failed)) == {"failed"}
    both = read_page(monkeypatch, database, everything, Query())
    assert "25 runs" in both and 'data-dag-id="other"' not in both  # not a project DAG
    assert f'<option value="{OTHER}">' in both


def test_a_user_sees_only_the_dags_they_may_read(database, monkeypatch):
    only_other = read_page(monkeypatch, database, {OTHER}, Query())
    assert run_ids(only_other) == ["run01", "run00"] and "dag-selector" not in only_other
    assert run_ids(read_page(monkeypatch, database, {OTHER}, Query(dag_id=DAG_ID))) == []  # asked for, not readable
    assert 'id="no-access"' in read_page(monkeypatch, database, set(), Query())


def test_a_report_only_for_a_readable_run(database, monkeypatch):
    from auth0_webhooks.ui import app

    monkeypatch.setattr(app, "get_auth_manager", lambda: FakeAuthManager({DAG_ID}))
    status, page = app.report_page(None, database, DAG_ID, "run21")
    assert status == 200 and '<dd data-field="logs_delivered">21</dd>' in page
    assert app.report_page(None, database, OTHER, "run01")[0] == 404  # exists, not readable
    assert app.report_page(None, database, DAG_ID, "nope")[0] == 404
    assert app.report_page(None, database, "other", "run00")[0] == 404  # not a project DAG


# ---- the plugin's registration ----


def test_the_plugin_is_registered_once_by_its_entry_point_and_lazily_builds_its_app():
    """In a fresh interpreter (Airflow's plugins-folder loader executes every file of the folder as a
    top-level module): the entry point finds the plugin; the plugins folder, this repo's, does not (its
    .airflowignore); importing the plugin does not import the FastAPI app, which the api-server builds."""
    import subprocess
    import sys

    from tests.conftest import REPO

    script = f"""
import sys
from importlib.metadata import entry_points
from airflow._shared.plugins_manager import _load_plugins_from_plugin_directory, is_valid_plugin
(point,) = [p for p in entry_points(group="airflow.plugins") if p.name == "auth0_webhooks_run_history"]
plugin = point.load()
assert is_valid_plugin(plugin) and plugin.name == "auth0_webhooks_run_history", plugin
assert "auth0_webhooks.ui.app" not in sys.modules
found, errors = _load_plugins_from_plugin_directory(plugins_folder={str(REPO / "plugins")!r})
assert plugin.name not in [p.name for p in found] and not any("ui" in path for path in errors), (found, errors)
(app,) = plugin().fastapi_apps
assert app["url_prefix"] == "/logs-to-webhook" and "auth0_webhooks.ui.app" in sys.modules
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("ok"), done.stderr[-3000:]
