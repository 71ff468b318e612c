"""Run notifications: the note, Slack blocks, the alert rules, metrics, and every kind of message sent
through the Slack provider's hook to a local receiver standing in for Slack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from auth0_webhooks.notifications import alerts, metrics, publish, slack
from auth0_webhooks.notifications.note import NOTE_XCOM_KEY, TITLE, combine_notes, note_markdown, write_note
from auth0_webhooks.reporting import RunReport
from auth0_webhooks_devtools.receiver import WebhookReceiver

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
DAG = "auth0_logs_to_webhook"
RUN = "scheduled__2026-12-02T12:00:00+00:00"
LEAKY = ("POST https://user:s3cr3t-pass@hooks.example.com/services/path-token-777?sig=query-token-888 failed: "
         "503; sent Authorization: Bearer bearer-token-999")
SECRETS = ("s3cr3t-pass", "path-token-777", "query-token-888", "bearer-token-999")


def make_report(**changes) -> RunReport:
    values = dict(dag_id=DAG, run_id=RUN, start="2026-12-02T12:00:00+00:00", end="2026-12-02T12:01:10+00:00",
                  logs_read=120, logs_delivered=90, logs_filtered_out=20, logs_failed=10,
                  checkpoint_before="90020260000000000000000000000000000000000000000000000100",
                  checkpoint_after="90020260000000000000000000000000000000000000000000000190",
                  run_kind="scheduled", lag_seconds=182.0, rate_limit_waits=2, rate_limit_wait_seconds=4.5,
                  auth0_429s=1, webhook_latency_ms=45.0, pipeline="default",
                  run_url=f"http://airflow.example:8080/dags/{DAG}/runs/scheduled__2026-12-02T12%3A00%3A00%2B00%3A00")
    values.update(changes)
    return RunReport(**values)


def all_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


# ---- the note ----


def test_note_has_the_status_and_figures():
    note = note_markdown(make_report(gaps=["12 logs missing between A and B"], warnings=["backlog"]))
    assert note.startswith(f"{TITLE} · ✅ succeeded · scheduled run · pipeline `default`")
    assert "- Logs: 120 read · 20 filtered out · 90 delivered · 10 failed" in note
    assert "→ `90020260000000000000000000000000000000000000000000000190`" in note
    assert "- Lag: 3 min 2 s" in note and "- Gaps: 1" in note
    assert "- Rate limit: 2 waits (4.5 s), 1 × 429" in note and "- Webhook latency: 45 ms" in note
    assert "12 logs missing" in note and "backlog" in note


def test_note_never_holds_a_secret_and_fits_airflows_limit():
    report = make_report(error=LEAKY * 20, warnings=[LEAKY] * 30, gaps=[LEAKY])
    note = note_markdown(report)
    assert "FAILED" in note and "**Error:** `POST https://hooks.example.com/… failed: 503" in note
    assert not any(secret in note for secret in SECRETS)
    assert len(note) <= 1000 and "more (see the commit task's log)" in note


def test_combine_notes_keeps_a_users_note_and_replaces_ours():
    ours = note_markdown(make_report())
    assert combine_notes(None, ours) == ours
    assert combine_notes(note_markdown(make_report(logs_read=1)), ours) == ours
    combined = combine_notes("Triggered by Ana to replay Monday", ours)
    assert combined.startswith("Triggered by Ana to replay Monday\n\n---\n\n" + TITLE) and len(combined) <= 1000
    assert combine_notes("x" * 990, ours) == "x" * 990


def test_write_note_hands_the_note_over_as_xcom_and_never_raises():
    pushed = {}
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.update({key: value}))
    assert write_note({"ti": ti}, "note") is True and pushed == {NOTE_XCOM_KEY: "note"}
    broken = SimpleNamespace(xcom_push=lambda key, value: 1 / 0)
    assert write_note({"ti": broken}, "note") is False
    assert write_note({}, "note") is False


# ---- Slack blocks ----


def test_failed_run_blocks_carry_the_originals_fields_figures_lag_and_link():
    message = slack.report_message(make_report(error=LEAKY, warnings=["falling behind"]))
    text = all_text(message.payload())
    assert message.blocks[0]["type"] == "header" and "failed" in message.blocks[0]["text"]["text"]
    fields = {f["text"].split("\n", 1)[0]: f["text"].split("\n", 1)[1] for f in message.blocks[2]["fields"]}
    assert fields["*Start*"] == "2026-12-02T12:00:00+00:00" and fields["*End*"] == "2026-12-02T12:01:10+00:00"
    assert fields["*Logs processed*"] == "90 delivered, 20 filtered out, 120 read, 10 not delivered"
    assert fields["*Next checkpoint*"].startswith("`90020260000000000000000000000000000000000000000000000190`")
    assert fields["*Lag*"] == "3 min 2 s" and fields["*Rate limit*"] == "2 waits (4.5 s), 1 × 429"
    assert "*Error*" in text and "https://hooks.example.com/… failed: 503" in text
    button = message.blocks[-1]["elements"][0]
    assert button["url"] == make_report().run_url
    assert "FAILED" in message.text and "Run: http://airflow.example:8080/dags/" in message.text
    assert not any(secret in text for secret in SECRETS)


def test_run_url_uses_airflows_base_url(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/prefix/")
    assert slack.run_url("d", "manual__2026-12-02T12:00:00+00:00") == \
        "https://airflow.example.com/prefix/dags/d/runs/manual__2026-12-02T12%3A00%3A00%2B00%3A00"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "")
    assert slack.run_url("d", "r") == "http://localhost:8080/dags/d/runs/r"


def test_mrkdwn_is_escaped():
    message = slack.report_message(make_report(error="<!channel> & <https://evil.example|click>"))
    assert "<!channel>" not in all_text(message.blocks) and "&lt;!channel&gt; &amp;" in all_text(message.blocks)


# ---- the rules ----


def test_lag_alert_fires_repeats_hourly_and_clears():
    state, limit, sent = alerts.LagState(), 1200.0, []
    for minutes, lag in [(0, 600), (5, 1300), (10, 1400), (64, 1500), (66, 1600), (125, 1700), (130, 900), (135, 800)]:
        state, out = alerts.step_lag(state, lag, limit, NOW + timedelta(minutes=minutes))
        sent += [(minutes, a.kind) for a in out]
    assert sent == [(5, "lag"), (66, "lag"), (130, "lag_cleared")]


def test_lag_alert_ignores_an_unknown_lag_and_turns_off_without_a_limit():
    state, out = alerts.step_lag(alerts.LagState(), 5000, 1200, NOW)
    assert [a.kind for a in out] == ["lag"] and state.since == NOW.isoformat(timespec="seconds")
    assert alerts.step_lag(state, None, 1200, NOW + timedelta(hours=3)) == (state, [])
    assert alerts.step_lag(state, 5000, None, NOW) == (alerts.LagState(), [])


def test_digest_goes_out_once_a_day_at_the_hour_and_resets_the_tally():
    tally, sent = alerts.DigestTally(), []
    start = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)  # first run after 08:00: no digest today
    for step in range(0, 24 * 12 * 2):  # two days of 5-minute runs
        now = start + timedelta(minutes=5 * step)
        report = make_report(error="boom" if step % 100 == 0 else None, warnings=["w"], lag_seconds=float(step))
        tally, out = alerts.step_digest(tally, report, now, 8)
        sent += [(now, a.data) for a in out]
    assert [moment.isoformat() for moment, _ in sent] == ["2026-12-03T08:00:00+00:00", "2026-12-04T08:00:00+00:00"]
    first, second = sent[0][1], sent[1][1]
    assert first["runs"] == 23 * 12 + 1 and first["logs_delivered"] == first["runs"] * 90
    assert first["failures"] == 3 and first["warnings"] == first["runs"] and first["last_error"] == "boom"
    assert first["lag_seconds"] == 276.0 and first["since"] == "2026-12-02T09:00:00+00:00"
    assert second["runs"] == 24 * 12 and second["since"] == "2026-12-03T08:00:00+00:00"
    assert tally.runs == 11 and tally.last_sent == "2026-12-04T08:00:00+00:00"


def test_a_late_digest_does_not_push_the_next_one_later():
    tally = alerts.DigestTally(since="2026-12-01T08:00:00+00:00", last_sent="2026-12-01T08:00:00+00:00")
    tally, out = alerts.step_digest(tally, make_report(), datetime(2026, 12, 2, 23, 0, tzinfo=timezone.utc), 8)
    assert len(out) == 1 and tally.last_sent == "2026-12-02T08:00:00+00:00"
    tally, out = alerts.step_digest(tally, make_report(), datetime(2026, 12, 3, 8, 5, tzinfo=timezone.utc), 8)
    assert len(out) == 1
    tally, out = alerts.step_digest(tally, make_report(), datetime(2026, 12, 3, 8, 10, tzinfo=timezone.utc), 8)
    assert out == []


def test_digest_without_an_hour_only_tallies():
    tally, out = alerts.step_digest(alerts.DigestTally(since="2026-01-01T00:00:00+00:00"), make_report(), NOW, None)
    assert out == [] and tally.runs == 1


def test_retry_alert_once_per_run_and_tolerant_state():
    state = alerts.AlertState.from_json("not json")
    state, out = alerts.step_retry(state, "r1")
    assert len(out) == 1 and alerts.step_retry(state, "r1")[1] == []
    again = alerts.AlertState.from_json(state.to_json())
    assert again.retry_alerted_runs == ["r1"] and again.lag == alerts.LagState()
    partial = alerts.AlertState.from_json('{"lag": {"alerting": true, "unknown": 1}, "digest": 3}')
    assert partial.lag.alerting and partial.digest == alerts.DigestTally()


def test_next_try_time_follows_the_backoff():
    task = SimpleNamespace(retry_delay=timedelta(seconds=60), retry_exponential_backoff=2.0,
                           max_retry_delay=timedelta(seconds=200))
    assert [publish.next_try_time(task, n, NOW) - NOW for n in (1, 2, 3)] == \
        [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=200)]
    assert publish.next_try_time(None, 1, NOW) is None


# ---- metrics ----


class FakeStats:
    def __init__(self):
        self.calls = []

    def incr(self, name, count=1, tags=None):
        self.calls.append(("incr", name, count, tags))

    def gauge(self, name, value, tags=None):
        self.calls.append(("gauge", name, value, tags))

    def timing(self, name, value, tags=None):
        self.calls.append(("timing", name, value, tags))


def test_metrics_names_values_and_tags():
    stats = FakeStats()
    assert metrics.emit_metrics(make_report(error="x"), stats) == 11
    got = {name: (kind, value) for kind, name, value, _ in stats.calls}
    assert got == {
        "auth0_webhooks.auth0_logs_to_webhook.runs": ("incr", 1),
        "auth0_webhooks.auth0_logs_to_webhook.failed_runs": ("incr", 1),
        "auth0_webhooks.auth0_logs_to_webhook.logs_read": ("incr", 120),
        "auth0_webhooks.auth0_logs_to_webhook.logs_filtered": ("incr", 20),
        "auth0_webhooks.auth0_logs_to_webhook.logs_delivered": ("incr", 90),
        "auth0_webhooks.auth0_logs_to_webhook.logs_failed": ("incr", 10),
        "auth0_webhooks.auth0_logs_to_webhook.rate_limit_waits": ("incr", 2),
        "auth0_webhooks.auth0_logs_to_webhook.auth0_429s": ("incr", 1),
        "auth0_webhooks.auth0_logs_to_webhook.rate_limit_wait_seconds": ("gauge", 4.5),
        "auth0_webhooks.auth0_logs_to_webhook.lag_seconds": ("gauge", 182.0),
        "auth0_webhooks.auth0_logs_to_webhook.webhook_latency_ms": ("timing", 45.0),
    }
    assert all(tags == {"dag_id": DAG} for *_, tags in stats.calls)


def test_metrics_skip_lag_outside_live_runs_and_never_raise():
    stats = FakeStats()
    metrics.emit_metrics(make_report(run_kind="backfill", dag_id="a.b"), stats)
    names = [name for _, name, _, _ in stats.calls]
    assert "auth0_webhooks.a__b.logs_read" in names and not any(n.endswith("lag_seconds") for n in names)
    assert metrics.emit_metrics(make_report(), SimpleNamespace()) == 0


def test_metrics_through_airflows_stats_module(monkeypatch):
    from airflow.sdk.observability import stats as airflow_stats

    fake = FakeStats()
    monkeypatch.setattr(airflow_stats.Stats, "incr", staticmethod(fake.incr))
    monkeypatch.setattr(airflow_stats.Stats, "gauge", staticmethod(fake.gauge))
    monkeypatch.setattr(airflow_stats.Stats, "timing", staticmethod(fake.timing))
    assert metrics.emit_metrics(make_report()) == 10 and len(fake.calls) == 10


# ---- sending through the Slack provider to a local receiver ----


@pytest.fixture
def slack_receiver(monkeypatch):
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("AIRFLOW_CONN_AUTH0_SLACK", json.dumps(
            {"conn_type": "slackwebhook", "password": f"{receiver.base_url}/services/T000/B000/slack-url-secret"}))
        yield receiver


@pytest.fixture
def variables(monkeypatch):
    """The Variables the alerts keep, in memory (Variable.set needs a running task)."""
    store: dict[str, str] = {}
    monkeypatch.setattr("auth0_webhooks.runtime.variable_get", lambda key: store.get(key))
    monkeypatch.setattr("auth0_webhooks.runtime.variable_set", lambda key, value: store.__setitem__(key, value))
    return store


def posted(receiver) -> list[dict]:
    return [request.payload for request in receiver.requests]


def context_for(run_id: str = RUN):
    pushed = {}
    ti = SimpleNamespace(dag_id=DAG, run_id=run_id, task_id="deliver", map_index=2, try_number=1, max_tries=3,
                         xcom_push=lambda key, value: pushed.update({key: value}))
    task = SimpleNamespace(retry_delay=timedelta(seconds=60), retry_exponential_backoff=2.0,
                           max_retry_delay=timedelta(hours=1))
    return {"ti": ti, "task": task, "exception": RuntimeError(LEAKY)}, pushed


def headers(payloads) -> list[str]:
    return [p["blocks"][0]["text"]["text"] for p in payloads]


def test_failed_run_is_sent_as_blocks(slack_receiver, variables):
    context, pushed = context_for()
    publish.publish_run(context, make_report(error=LEAKY), slack_conn_id="auth0_slack", send_success=False,
                        lag_alert_seconds=None, digest_hour_utc=None, now=NOW)
    [payload] = posted(slack_receiver)
    assert headers([payload]) == [f":x: Auth0 logs to webhook: failed ({DAG})"]
    assert "90 delivered, 20 filtered out, 120 read, 10 not delivered" in all_text(payload)
    assert payload["blocks"][-1]["elements"][0]["url"].startswith("http://airflow.example:8080/dags/")
    assert not any(secret in all_text(payload) for secret in SECRETS)
    assert pushed[NOTE_XCOM_KEY].startswith(TITLE)  # the note went out too


def test_success_is_sent_only_with_send_success(slack_receiver, variables):
    for send_success in (False, True):
        publish.publish_run(context_for()[0], make_report(logs_failed=0), slack_conn_id="auth0_slack",
                            send_success=send_success, now=NOW)
    assert headers(posted(slack_receiver)) == [f":white_check_mark: Auth0 logs to webhook: succeeded ({DAG})"]


def test_retry_alert_is_sent_once_per_run(slack_receiver, variables):
    for run_id in (RUN, RUN, "manual__2"):
        publish.alert_on_retry(context_for(run_id)[0])
    payloads = posted(slack_receiver)
    assert headers(payloads) == [f":warning: Retrying: deliver[2] ({DAG})"] * 2
    fields = all_text(payloads[0]["blocks"][2])
    assert "1 of 4" in fields and "Next try" in fields
    assert "https://hooks.example.com/… failed: 503" in all_text(payloads[0])
    assert not any(secret in all_text(payloads) for secret in SECRETS)
    assert json.loads(variables[f"auth0_webhooks_alerts__{DAG}"])["retry_alerted_runs"] == [RUN, "manual__2"]


def test_falling_behind_then_cleared(slack_receiver, variables):
    for minutes, lag in [(0, 3000.0), (5, 3300.0), (10, 60.0)]:
        publish.publish_run(context_for()[0], make_report(lag_seconds=lag, logs_failed=0), slack_conn_id="auth0_slack",
                            lag_alert_seconds=1200, now=NOW + timedelta(minutes=minutes))
    payloads = posted(slack_receiver)
    assert headers(payloads) == [f":hourglass_flowing_sand: Falling behind ({DAG})", f":white_check_mark: Lag cleared ({DAG})"]
    assert "*Lag*\\n50 min 0 s" in all_text(payloads[0]) and "*Limit*\\n20 min 0 s" in all_text(payloads[0])
    assert "falling behind" in payloads[0]["text"] and "1 min 0 s" in payloads[1]["text"]


def test_daily_digest(slack_receiver, variables):
    start = datetime(2026, 12, 2, 7, 50, tzinfo=timezone.utc)
    for minutes in (0, 5, 10, 15):  # 07:50 starts the tally; 08:00 sends it
        publish.publish_run(context_for()[0], make_report(logs_failed=0, error="boom" if minutes == 5 else None),
                            slack_conn_id="auth0_slack", send_success=False, digest_hour_utc=8,
                            now=start + timedelta(minutes=minutes))
    payloads = posted(slack_receiver)
    assert headers(payloads) == [f":x: Auth0 logs to webhook: failed ({DAG})", f":bar_chart: Daily digest ({DAG})"]
    digest = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in payloads[1]["blocks"][1]["fields"]}
    assert (digest["*Runs*"], digest["*Failed runs*"], digest["*Logs delivered*"]) == ("3", "1", "270")
    assert digest["*Current lag*"] == "3 min 2 s" and "90020260000" in digest["*Checkpoint*"]
    assert payloads[1]["blocks"][-1]["elements"][0]["url"].endswith(f"/dags/{DAG}")


def test_notifier_in_the_providers_shape(slack_receiver):
    notifier = slack.Auth0RunNotifier(report=make_report(error="x").to_dict())
    notifier.notify({})
    assert notifier.sent is True and headers(posted(slack_receiver))[0].startswith(":x:")
    assert slack.send_report(make_report(), "auth0_slack") is True and len(posted(slack_receiver)) == 2


def test_no_connection_no_slack_and_a_dead_slack_costs_one_try(monkeypatch, variables, capsys, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_AUTH0_SLACK", raising=False)
    assert slack.send_report(make_report(), "auth0_slack") is False
    monkeypatch.setenv("AIRFLOW_CONN_AUTH0_SLACK", json.dumps(
        {"conn_type": "slackwebhook", "password": "http://127.0.0.1:9/services/nowhere"}))
    tries = []
    real = slack.send_blocks
    monkeypatch.setattr(slack, "send_blocks", lambda message, conn_id, **kw: tries.append(1) or real(message, conn_id))
    began = time.monotonic()
    publish.publish_run(context_for()[0], make_report(error="x", lag_seconds=9999.0), slack_conn_id="auth0_slack",
                        lag_alert_seconds=60, digest_hour_utc=None, now=NOW)
    assert len(tries) == 1 and time.monotonic() - began < 10  # the lag alert was not tried after the report failed
    logged = capsys.readouterr().out + caplog.text
    assert "Slack message not sent" in logged and "services/nowhere" not in logged  # the URL never reaches the log


def test_publish_run_survives_every_part_failing(monkeypatch):
    monkeypatch.setattr("auth0_webhooks.runtime.variable_get", lambda key: 1 / 0)
    monkeypatch.setattr(publish, "emit_metrics", lambda report: 1 / 0)
    monkeypatch.setattr(publish, "note_markdown", lambda report: 1 / 0)
    publish.publish_run({}, make_report(error="x"), slack_conn_id=None, lag_alert_seconds=60, digest_hour_utc=8)
    publish.alert_on_retry({})


# ---- the note on the DagRun, written by the scheduler-side listener (dag.test in a clean Airflow home) ----

NOTE_DAG = '''
from datetime import datetime
from airflow.sdk import DAG, task
from auth0_webhooks.notifications.note import write_note

with DAG("note_probe", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    @task
    def commit(**context):
        write_note(context, "**Auth0 logs to webhook** · probe " + context["params"]["outcome"])
        if context["params"]["outcome"] == "failed":
            raise RuntimeError("failed on purpose")
    commit()

from datetime import timedelta
from auth0_webhooks.notifications import retry_alert

with DAG("retry_probe", schedule=None, start_date=datetime(2026, 1, 1),
         default_args={"retries": 2, "retry_delay": timedelta(0), "on_retry_callback": retry_alert("auth0_slack")}):
    @task
    def deliver(**context):
        if context["ti"].try_number < 3:
            raise RuntimeError("receiver answered 503 at https://user:pw-secret@hooks.example.com/in?k=query-secret")
    deliver()
'''

NOTE_RUNNER = '''
import json, os, sys
from airflow.utils.db import resetdb
resetdb()
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["note_probe"]
notes = {}
for outcome in ("succeeded", "failed"):
    run = dag.test(run_conf={"outcome": outcome})
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    with create_session() as session:
        notes[outcome] = [str(run.state), session.get(DagRun, run.id).note]
retried = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags["retry_probe"].test()
from airflow.models.variable import Variable
notes["retry"] = [str(retried.state), json.loads(Variable.get("auth0_webhooks_alerts__retry_probe"))["retry_alerted_runs"]
                  == [retried.run_id]]
print("NOTES=" + json.dumps(notes))
'''


@pytest.mark.timeout(240)
def test_the_listener_writes_the_note_and_the_retry_alert_runs_in_the_task(tmp_path):
    """dag.test() in a clean Airflow home: the note reaches the DagRun for a run that succeeds and one that
    fails; a task that fails twice before succeeding sends one retry alert, from its own process."""
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "note_probe.py").write_text(NOTE_DAG.replace('schedule=None,', 'schedule=None, params={"outcome": "x"},'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__DAGS_FOLDER=str(dags),
               AIRFLOW__CORE__PLUGINS_FOLDER=os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"],
               AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow.db'}")
    with WebhookReceiver() as receiver:
        env["AIRFLOW_CONN_AUTH0_SLACK"] = json.dumps(
            {"conn_type": "slackwebhook", "password": f"{receiver.base_url}/services/T/B/slack-secret"})
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(NOTE_RUNNER)], env=env, capture_output=True,
                              text=True, timeout=220)
        payloads = posted(receiver)
    line = next((l for l in done.stdout.splitlines() if l.startswith("NOTES=")), None)
    assert line, done.stdout[-3000:] + done.stderr[-3000:]
    notes = json.loads(line[len("NOTES="):])
    assert notes == {"succeeded": ["success", "**Auth0 logs to webhook** · probe succeeded"],
                     "failed": ["failed", "**Auth0 logs to webhook** · probe failed"],
                     "retry": ["success", True]}
    assert headers(payloads) == [":warning: Retrying: deliver (retry_probe)"]
    assert "1 of 3" in all_text(payloads[0]) and "https://hooks.example.com/…" in all_text(payloads[0])
    assert "pw-secret" not in all_text(payloads) and "query-secret" not in all_text(payloads)
