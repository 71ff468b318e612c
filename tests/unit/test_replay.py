"""Replays of a window (backfill runs, the replay Params) and several pipelines, without a scheduler.

The emulator is the tenant; Variables and XComs are faked (tests/unit/fakes.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from auth0_webhooks import commit as commit_module
from auth0_webhooks import read as read_module
from auth0_webhooks.auth0_client import Auth0Credentials, Auth0LogsClient
from auth0_webhooks.commit import commit_step
from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, DAG_ID, DELIVER_TASK_ID, MORE_TASK_ID, \
    PIPELINES_VARIABLE, READ_TASK_ID, STATE_VARIABLE
from auth0_webhooks.pipelines import Pipeline, parse_pipelines, pipeline_for_dag, pipelines_problem
from auth0_webhooks.protocol import PROGRESS_KEY, SUMMARY_KEY, ReadSummary, SlotReport, UnitProgress
from auth0_webhooks.read import Window, read_first, read_more, replay_window, window_start
from auth0_webhooks.settings import SettingsError
from auth0_webhooks_devtools.emulator import Auth0Emulator

from .fakes import XComs, fake_variables, fake_xcoms, ids

T0 = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def variables(monkeypatch):
    return fake_variables(monkeypatch)


@pytest.fixture
def xcoms(monkeypatch) -> XComs:
    return fake_xcoms(monkeypatch)


@pytest.fixture(autouse=True)
def quiet_slack(monkeypatch):
    monkeypatch.setattr(commit_module, "publish_run", lambda *args, **kwargs: None)


@pytest.fixture
def tenant():
    """2,400 logs, one a second from T0 (40 minutes)."""
    with Auth0Emulator(client_id="c", client_secret="s", seed=5, logs=2400, start_date=T0,
                       spacing_seconds=1.0) as emulator:
        yield emulator


def client_for(emulator: Auth0Emulator) -> Auth0LogsClient:
    return Auth0LogsClient(Auth0Credentials.from_domain(emulator.base_url, "c", "s"))


def all_logs(emulator: Auth0Emulator) -> list[dict]:
    client, logs = client_for(emulator), []
    after = client.first_log()
    logs.append(after)
    while page := client.logs_after(after["log_id"], 100):
        logs.extend(page)
        after = page[-1]
    return logs


def dated(log: dict) -> datetime:
    return datetime.fromisoformat(log["date"].replace("Z", "+00:00"))


def backfill_context(xcoms: XComs, start: datetime, end: datetime, task_id: str = READ_TASK_ID, map_index=-1):
    run = SimpleNamespace(run_type="backfill", dag_id=DAG_ID, run_id=xcoms.run_id, start_date=None)
    return {"ti": xcoms.ti(task_id, map_index), "params": {}, "dag_run": run,
            "data_interval_start": start, "data_interval_end": end}


def deliver_everything(xcoms: XComs, slots: int) -> list[dict]:
    """Fake slots acknowledging every unit; the logs they carried, in unit order."""
    read_id = ReadSummary.from_xcom(xcoms.get(READ_TASK_ID, SUMMARY_KEY)).run.read_id
    reports = {slot: SlotReport(read_id) for slot in range(slots)}
    sent = []
    for index, unit in sorted(xcoms.units().items()):
        reports[index % slots].units[index] = UnitProgress.of(unit, len(unit.deliveries))
        sent.extend(log for delivery in unit.deliveries for log in delivery.logs)
    for slot, report in reports.items():
        xcoms.put(DELIVER_TASK_ID, PROGRESS_KEY, report.to_xcom(), slot)
    return sent


@pytest.mark.parametrize("handover", [False, True], ids=["one reader", "read_logs then read_more"])
def test_a_backfill_run_replays_exactly_its_interval_and_leaves_the_checkpoint(
        variables, tenant, xcoms, monkeypatch, handover):
    logs = all_logs(tenant)
    variables[CONFIG_VARIABLE] = json.dumps({"batch_size": 100, "webhook_concurrent_calls": 2, "max_logs_per_run": 50})
    variables[CHECKPOINT_VARIABLE] = logs[-1]["log_id"]
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(minutes=25)  # 1,200 logs: more than a search window
    monkeypatch.setattr(read_module, "FIRST_READ_SECONDS", 0.0 if handover else 60.0)
    plan = read_first(backfill_context(xcoms, start, end), 2, client=client_for(tenant))
    assert len(plan) == 1
    if handover:
        read_more(backfill_context(xcoms, start, end, MORE_TASK_ID, 0), plan[0], client=client_for(tenant))
    sent = deliver_everything(xcoms, 2)
    report = commit_step({"ti": xcoms.ti("commit")})
    expected = [log for log in logs if start <= dated(log) < end]
    assert len(expected) == 1200
    assert ids(sent) == ids(expected)  # max_logs_per_run does not cut a window; nothing outside it
    assert report["logs_delivered"] == 1200 and report["error"] is None
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"] and STATE_VARIABLE not in variables
    assert "backfill of the logs dated from" in " ".join(report["warnings"])


def test_a_window_reaching_past_retention_starts_at_the_oldest_log_and_reports_the_lost_span(tenant):
    logs = all_logs(tenant)
    window = Window(T0 - timedelta(hours=2), T0 + timedelta(minutes=1), "backfill")
    start, lost = window_start(client_for(tenant), window)
    assert start.first_log["log_id"] == logs[0]["log_id"]
    assert lost and "past the tenant's log retention" in lost and logs[0]["log_id"] in lost


def test_a_window_inside_retention_reports_nothing_lost(tenant):
    window = Window(T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), "backfill")
    start, lost = window_start(client_for(tenant), window)
    assert lost is None and dated(start.first_log) >= window.start - timedelta(seconds=60)


def test_replay_params_make_a_manual_run_replay_a_window(variables, tenant, xcoms):
    logs = all_logs(tenant)
    start, end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    params = {"replay_start": start.isoformat(), "replay_end": end.isoformat().replace("+00:00", "Z")}
    read_first({"ti": xcoms.ti(READ_TASK_ID), "params": params}, 1, client=client_for(tenant))
    assert ids(deliver_everything(xcoms, 1)) == ids([log for log in logs if start <= dated(log) < end])
    assert commit_step({"ti": xcoms.ti("commit")})["error"] is None
    assert CHECKPOINT_VARIABLE not in variables


@pytest.mark.parametrize("params, message", [
    ({"replay_start": "yesterday", "replay_end": "2026-12-01T00:00:00Z"}, "Param replay_start='yesterday' is not allowed"),
    ({"replay_start": "2026-12-01T01:00:00Z", "replay_end": "2026-12-01T00:00:00Z"}, "must come after"),
    ({"replay_start": "2026-12-01T00:00:00Z"}, "Param replay_end=None is not allowed"),
    ({"replay_start": "2026-12-01T00:00:00Z", "replay_end": "2026-12-01T01:00:00Z", "start_from": "2026-11-01"},
     "cannot be combined"),
])
def test_wrong_replay_params_name_the_param(params, message):
    with pytest.raises(SettingsError, match=message):
        replay_window({"params": params, "dag_run": SimpleNamespace(run_type="manual")})


def test_a_plain_manual_or_scheduled_run_is_live():
    for kind in ("manual", "scheduled"):
        assert replay_window({"params": {"dry_run": False}, "dag_run": SimpleNamespace(run_type=kind)}) is None


def test_a_backfill_without_a_data_interval_fails_clearly(variables, tenant, xcoms):
    context = backfill_context(xcoms, T0, T0)
    with pytest.raises(AirflowFailException, match="a backfill run needs a data interval"):
        read_first(context, 1, client=client_for(tenant))


# ---------------------------------------------------------------- several pipelines


ENTRIES = [
    {"name": "eu", "auth0_conn_id": "auth0_eu", "webhook_conn_id": "siem", "settings": {"batch_size": 10}},
    {"name": "us", "auth0_conn_id": "auth0_us", "webhook_conn_id": "siem", "slack_conn_id": None,
     "settings": {"batch_size": 500}},
    {"name": "bad name", "auth0_conn_id": "a", "webhook_conn_id": "w"},
    {"name": "eu", "auth0_conn_id": "a", "webhook_conn_id": "w"},
    {"name": "nohook", "auth0_conn_id": "a", "setings": {}},
]


def test_each_entry_gets_its_names_and_a_mistake_stays_in_its_entry():
    eu, us, bad, duplicate, nohook = parse_pipelines(json.dumps(ENTRIES))
    assert (eu.dag_id, eu.checkpoint_variable, eu.auth0_conn_id, eu.webhook_conn_id, eu.slack_conn_id) == (
        "auth0_logs_to_webhook__eu", "auth0_webhooks_checkpoint__eu", "auth0_eu", "siem", "auth0_slack")
    assert eu.problem is None and eu.settings().batch_size == 10
    assert us.slack_conn_id is None and us.problem is None
    with pytest.raises(SettingsError, match=r"entry 'us', key 'settings' is not valid: batch_size=500 is not allowed"):
        us.settings()
    assert bad.dag_id == "auth0_logs_to_webhook__entry_3" and "name=\"bad name\" is not allowed" in bad.problem
    assert duplicate.dag_id == "auth0_logs_to_webhook__eu_entry_4" and "used by an earlier entry" in duplicate.problem
    assert "webhook_conn_id=null is not allowed" in nohook.problem and "unknown key 'setings'" in nohook.problem
    with pytest.raises(SettingsError, match="auth0_webhooks_pipelines"):
        nohook.settings()
    assert len({pipeline.dag_id for pipeline in parse_pipelines(ENTRIES)}) == 5


def test_the_default_pipeline_keeps_the_historical_names():
    default = pipeline_for_dag(DAG_ID, json.dumps(ENTRIES))
    assert default == Pipeline() and default.dag_id == DAG_ID
    assert (default.checkpoint_variable, default.state_variable) == (CHECKPOINT_VARIABLE, STATE_VARIABLE)
    assert (default.auth0_conn_id, default.webhook_conn_id, default.slack_conn_id) == (
        "auth0_default", "auth0_webhook", "auth0_slack")


def test_a_broken_pipelines_variable_gives_no_entries_and_says_why():
    assert parse_pipelines("[{") == [] and "is not JSON" in pipelines_problem("[{")
    assert parse_pipelines('{"name": "x"}') == [] and "must be a JSON list" in pipelines_problem('{"name": "x"}')
    assert pipelines_problem(None) is None and parse_pipelines(None) == []


def test_an_entry_removed_since_parsing_fails_its_runs_clearly():
    pipeline = pipeline_for_dag("auth0_logs_to_webhook__gone", json.dumps(ENTRIES))
    with pytest.raises(SettingsError, match="no entry named 'gone'"):
        pipeline.settings()


def test_a_pipeline_reads_and_commits_its_own_checkpoint(variables, tenant, xcoms, monkeypatch):
    logs = all_logs(tenant)
    variables[PIPELINES_VARIABLE] = json.dumps(ENTRIES[:1])
    variables[CHECKPOINT_VARIABLE] = logs[10]["log_id"]  # the default pipeline's: left alone
    variables["auth0_webhooks_checkpoint__eu"] = logs[-30]["log_id"]
    monkeypatch.setattr(type(xcoms.ti()), "dag_id", "auth0_logs_to_webhook__eu")
    read_first({"ti": xcoms.ti(READ_TASK_ID), "params": {}}, 1, client=client_for(tenant))
    assert ids(deliver_everything(xcoms, 1)) == ids(logs[-29:])
    assert commit_step({"ti": xcoms.ti("commit")})["logs_delivered"] == 29
    assert variables["auth0_webhooks_checkpoint__eu"] == logs[-1]["log_id"]
    assert variables[CHECKPOINT_VARIABLE] == logs[10]["log_id"] and STATE_VARIABLE not in variables
    assert json.loads(variables["auth0_webhooks_state__eu"])["checkpoint"] == logs[-1]["log_id"]


# ---------------------------------------------------------------- a dry run's sample


@pytest.mark.parametrize("settings, expected", [
    ({}, lambda logs: json.dumps(logs[:3], separators=(",", ":"))),
    ({"send_as_batch": False}, lambda logs: "\n".join(json.dumps(log, separators=(",", ":")) for log in logs[:3])),
    ({"content_format": "json_lines"}, lambda logs: "".join(json.dumps(log, separators=(",", ":")) + "\n"
                                                            for log in logs[:3])),
], ids=["batch", "one per request", "json lines"])
def test_a_dry_run_shows_its_first_logs_as_the_webhook_would_receive_them(variables, tenant, xcoms, settings, expected):
    logs = all_logs(tenant)
    variables[CONFIG_VARIABLE] = json.dumps({"log_types": ["s"], **settings})
    assert read_first({"ti": xcoms.ti(READ_TASK_ID), "params": {"dry_run": True}}, 1, client=client_for(tenant)) == []
    summary = ReadSummary.from_xcom(xcoms.get(READ_TASK_ID, SUMMARY_KEY))
    kept = [log for log in logs if log["type"] == "s"]
    assert summary.sample == expected(kept) and CHECKPOINT_VARIABLE not in variables


# ---------------------------------------------------------------- continuous catch-up, test payload


class OutletEvents(dict):
    """context["outlet_events"]: what a task adds to an asset alias."""

    def __missing__(self, alias):
        accessor = self[alias] = SimpleNamespace(added=[])
        accessor.add = accessor.added.append
        return accessor


@pytest.mark.parametrize("settings, params, announced", [
    ({"max_logs_per_run": 500}, {}, True),  # a backlog remains: the next run starts at once
    ({}, {}, False),  # caught up: the schedule decides
    ({"max_logs_per_run": 500}, {"max_logs": 100}, False),  # a manual run's own cap: no follow-up
    ({"max_logs_per_run": 500}, {"dry_run": True}, False),
], ids=["backlog", "caught up", "max_logs Param", "dry run"])
def test_a_run_that_leaves_a_backlog_announces_it(variables, tenant, xcoms, settings, params, announced):
    from auth0_webhooks.scheduling import backlog_alias, backlog_asset

    variables[CONFIG_VARIABLE] = json.dumps(settings)
    read_first({"ti": xcoms.ti(READ_TASK_ID), "params": params}, 1, client=client_for(tenant))
    if not params.get("dry_run"):
        deliver_everything(xcoms, 1)
    events = OutletEvents()
    commit_step({"ti": xcoms.ti("commit"), "params": params, "outlet_events": events})
    added = events[backlog_alias(DAG_ID)].added
    assert added == ([backlog_asset(DAG_ID)] if announced else [])


def test_send_test_payload_sends_the_sample_only_and_reports_the_answer(variables, tenant, xcoms, monkeypatch):
    from auth0_webhooks_devtools.receiver import WebhookReceiver

    with WebhookReceiver() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": f"{receiver.base_url}/hook", "password": "Bearer t0ps3cr3t-value"}))
        assert read_first({"ti": xcoms.ti(READ_TASK_ID), "params": {"send_test_payload": True}}, 1,
                          client=client_for(tenant)) == []
        report = commit_step({"ti": xcoms.ti("commit")})
        assert len(receiver.requests) == 1 and receiver.requests[0].payload[0]["log_id"].startswith("test_")
        assert report["run_kind"] == "test payload" and "Test payload delivered" in report["warnings"][0]
        assert "t0ps3cr3t" not in json.dumps(report) and CHECKPOINT_VARIABLE not in variables


def test_a_refused_test_payload_fails_the_run_saying_what_to_check(variables, tenant, xcoms, monkeypatch):
    from auth0_webhooks.commit import RunFailed

    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": "http://127.0.0.1:9/hook", "extra": {"max_attempts": 1, "timeout": 2}}))
    read_first({"ti": xcoms.ti(READ_TASK_ID), "params": {"send_test_payload": True}}, 1, client=client_for(tenant))
    with pytest.raises(RunFailed, match="Test payload NOT delivered"):
        commit_step({"ti": xcoms.ti("commit")})
