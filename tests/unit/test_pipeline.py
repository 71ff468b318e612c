"""The read and commit steps without a scheduler: Variables patched, the emulator as the tenant."""

from __future__ import annotations

import json

import pytest

from auth0_webhooks import pipeline
from auth0_webhooks.auth0_client import Auth0Credentials, Auth0LogsClient
from auth0_webhooks.devtools.emulator import Auth0Emulator
from auth0_webhooks.names import CHECKPOINT_VARIABLE, CONFIG_VARIABLE, STATE_VARIABLE
from auth0_webhooks.operators.logs_to_webhook import PROGRESS_KEY, unit_progress

from .test_operator import FakeTI


class PipelineTI(FakeTI):
    """XCom across tasks: pushes from one step are pulled by the next."""

    def __init__(self) -> None:
        super().__init__()
        self.task = "read_logs"
        self.by_task: dict[tuple, object] = {}

    def xcom_push(self, key, value):  # noqa: ANN001
        self.by_task[(self.task, key, None)] = value

    def xcom_pull(self, task_ids, key, map_indexes=None):  # noqa: ANN001
        if isinstance(map_indexes, list):
            return [self.by_task.get((task_ids, key, index)) for index in map_indexes]
        return self.by_task.get((task_ids, key, None))


@pytest.fixture
def variables(monkeypatch):
    store: dict[str, str] = {}
    monkeypatch.setattr(pipeline.variables, "variable_get", lambda key: store.get(key))
    monkeypatch.setattr(pipeline.variables, "variable_set", lambda key, value: store.__setitem__(key, value))
    return store


@pytest.fixture(autouse=True)
def purged(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(pipeline, "purge_unit_logs", lambda ti, count: calls.append(count))
    return calls


@pytest.fixture(autouse=True)
def slack(monkeypatch):
    sent: list = []
    monkeypatch.setattr(pipeline, "notify_slack", lambda report: sent.append(report) or True)
    return sent


@pytest.fixture
def tenant():
    with Auth0Emulator(client_id="c", client_secret="s", seed=11) as emulator:
        yield emulator


def client_for(emulator: Auth0Emulator) -> Auth0LogsClient:
    return Auth0LogsClient(Auth0Credentials.from_domain(emulator.base_url, "c", "s"))


def deliver_everything(ti: PipelineTI, units: list[dict]) -> None:
    for unit in units:
        deliveries = ti.by_task[("read_logs", unit["xcom"]["key"], None)]
        ti.by_task[("deliver", PROGRESS_KEY, unit["index"])] = unit_progress(deliveries, len(deliveries))


def test_read_then_commit_moves_the_checkpoint_to_the_last_log(variables, tenant):
    logs = tenant.add_logs(230)
    variables[CONFIG_VARIABLE] = json.dumps({"batch_size": 50, "webhook_concurrent_calls": 2})
    ti = PipelineTI()
    units = pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant))
    assert [u["index"] for u in units] == list(range(len(units))) and len(units) >= 2
    assert all(set(u) == {"index", "label", "send_as_batch", "xcom"} for u in units)  # small descriptors only
    deliver_everything(ti, units)
    ti.task = "commit"
    report = pipeline.commit_step({"ti": ti})
    assert report["logs_delivered"] == 230 and report["error"] is None
    assert variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]
    assert json.loads(variables[STATE_VARIABLE])["checkpoint"] == logs[-1]["log_id"]


def test_a_checkpoint_edited_during_the_run_is_not_overwritten(variables, tenant, slack):
    logs = tenant.add_logs(20)
    ti = PipelineTI()
    units = pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant))
    deliver_everything(ti, units)
    variables[CHECKPOINT_VARIABLE] = logs[3]["log_id"]  # a user edits it meanwhile
    with pytest.raises(pipeline.RunFailed) as caught:
        pipeline.commit_step({"ti": ti})
    assert "changed during this run" in str(caught.value) and logs[3]["log_id"] in str(caught.value)
    assert variables[CHECKPOINT_VARIABLE] == logs[3]["log_id"]
    assert slack[-1].failed  # reported


def test_a_failed_read_is_reported_and_fails_the_run(variables, tenant):
    variables[CONFIG_VARIABLE] = '{"batch_size": 0}'
    ti = PipelineTI()
    with pytest.raises(Exception):
        pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant))
    with pytest.raises(pipeline.RunFailed) as caught:
        pipeline.commit_step({"ti": ti})
    assert "batch_size=0 is not allowed" in str(caught.value)
    assert CHECKPOINT_VARIABLE not in variables


def test_an_undelivered_unit_fails_the_run_and_keeps_the_checkpoint_before_it(variables, tenant):
    logs = tenant.add_logs(100)
    variables[CONFIG_VARIABLE] = json.dumps({"batch_size": 10, "webhook_concurrent_calls": 4, "batches_per_task": 1})
    ti = PipelineTI()
    units = pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant))
    deliver_everything(ti, units)
    del ti.by_task[("deliver", PROGRESS_KEY, 3)]  # unit 3's task was killed before reporting
    with pytest.raises(pipeline.RunFailed) as caught:
        pipeline.commit_step({"ti": ti})
    assert "did not report" in str(caught.value)
    assert variables[CHECKPOINT_VARIABLE] == logs[29]["log_id"]


def test_an_expired_checkpoint_restarts_from_the_oldest_log_and_reports_the_gap(variables, tenant, slack):
    logs = tenant.add_logs(50)
    variables[CHECKPOINT_VARIABLE] = logs[5]["log_id"]
    tenant.expire(20)  # retention drops the 20 oldest logs, the checkpoint's among them
    ti = PipelineTI()
    units = pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant))
    summary = ti.by_task[("read_logs", pipeline.SUMMARY_KEY, None)]
    assert logs[5]["log_id"] in summary["gap"] and logs[20]["log_id"] in summary["gap"]
    deliver_everything(ti, units)
    report = pipeline.commit_step({"ti": ti})
    assert report["logs_delivered"] == 30
    assert any("older than the tenant's log retention" in w for w in report["warnings"])
    assert slack, "a gap is always reported to Slack"


def test_dry_run_plans_nothing_and_commits_nothing(variables, tenant):
    tenant.add_logs(40)
    ti = PipelineTI()
    units = pipeline.read_step({"ti": ti, "params": {"dry_run": True}}, client=client_for(tenant))
    assert units == []
    report = pipeline.commit_step({"ti": ti})
    assert report["dry_run"] and CHECKPOINT_VARIABLE not in variables
    assert "40 logs would have been sent" in " ".join(report["warnings"])


def test_the_gap_is_measured_when_the_checkpoint_date_was_recorded(variables, tenant):
    logs = tenant.add_logs(40)
    ti = PipelineTI()
    deliver_everything(ti, pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant)))
    pipeline.commit_step({"ti": ti})  # records the checkpoint and its date
    more = tenant.add_logs(10)
    tenant.expire(45)  # the checkpoint (log 39) and the first 5 new logs are gone
    ti = PipelineTI()
    pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant))
    gap = ti.by_task[("read_logs", pipeline.SUMMARY_KEY, None)]["gap"]
    assert logs[-1]["date"] in gap and more[5]["date"] in gap
    assert "a gap of 0 d 0 h" in gap  # the emulator writes a log a second


def test_a_commit_that_runs_again_after_a_ui_retry_is_not_a_conflict(variables, tenant):
    logs = tenant.add_logs(100)
    variables[CONFIG_VARIABLE] = json.dumps({"batch_size": 10, "webhook_concurrent_calls": 4, "batches_per_task": 1})
    ti = PipelineTI()
    ti.run_id = "manual__1"
    units = pipeline.read_step({"ti": ti, "params": {}}, client=client_for(tenant))
    deliver_everything(ti, units)
    missing = ti.by_task.pop(("deliver", PROGRESS_KEY, 3))
    with pytest.raises(pipeline.RunFailed):
        pipeline.commit_step({"ti": ti})
    assert variables[CHECKPOINT_VARIABLE] == logs[29]["log_id"]
    ti.by_task[("deliver", PROGRESS_KEY, 3)] = missing  # the user cleared unit 3; it delivered
    report = pipeline.commit_step({"ti": ti})  # the cleared commit runs again
    assert report["error"] is None and variables[CHECKPOINT_VARIABLE] == logs[-1]["log_id"]
