"""Every setting and connection field with a wrong value, and what the user gets: one case per
row of the README's "What a wrong value gives" table (same ids, same order)."""

from __future__ import annotations

import json

import pytest

from auth0_webhooks.auth0_client import Auth0AuthError
from auth0_webhooks_devtools.emulator import Auth0Emulator
from auth0_webhooks.hooks.auth0 import Auth0Hook
from auth0_webhooks.hooks.webhook import WebhookConfigError, WebhookHook
from auth0_webhooks.reporting import RunReport
from auth0_webhooks.settings import SettingsError, parse_settings

SETTINGS_CASES = [
    ("schedule", "every 5 minutes", "schedule=\"every 5 minutes\" is not allowed: expected a cron expression"),
    ("batch_size", 150, "batch_size=150 is not allowed: expected an integer from 1 to 100"),
    ("send_as_batch", "sometimes", "send_as_batch=\"sometimes\" is not allowed: expected true or false"),
    ("webhook_concurrent_calls", 0, "webhook_concurrent_calls=0 is not allowed: expected an integer from 1 to 64"),
    ("start_from", "yesterday", "start_from=\"yesterday\" is not allowed: expected a log_id, an ISO 8601 date"),
    ("slack_send_success", "maybe", "slack_send_success=\"maybe\" is not allowed: expected true or false"),
    ("log_level", 7, "log_level=7 is not allowed: expected 0 (debug), 1 (info), 2 (warning), 3 (error), 4 (critical)"),
    ("log_types", ["s", "fpp"], "unknown code(s): 'fpp' (did you mean 'fp'?)"),
    ("max_run_seconds", 10, "max_run_seconds=10 is not allowed: expected an integer from 30 to 86400, or null"),
    ("max_logs_per_run", 0, "max_logs_per_run=0 is not allowed: expected an integer of at least 1, or null"),
    ("batches_per_task", 0, "batches_per_task=0 is not allowed: expected an integer from 1 to 1000"),
    ("task_retries", -1, "task_retries=-1 is not allowed: expected an integer from 0 to 20"),
    ("task_retry_delay_seconds", 0, "task_retry_delay_seconds=0 is not allowed: expected an integer from 1 to 3600"),
    ("content_format", "json_line",
     "content_format=\"json_line\" is not allowed: expected 'json_array' or 'json_lines' (did you mean 'json_lines'?)"),
    ("lag_alert_minutes", "x", "lag_alert_minutes=\"x\" is not allowed: expected an integer from 1 to 10080, or null, "
     "or \"auto\""),
    ("digest_hour_utc", 24, "digest_hour_utc=24 is not allowed: expected an integer from 0 to 23, or null"),
    ("event_driven", "sometimes", "event_driven=\"sometimes\" is not allowed: expected true or false"),
    ("event_poll_seconds", 0, "event_poll_seconds=0 is not allowed: expected an integer from 1 to 3600"),
    ("log_categories", ["auth.login"],
     "unknown category: 'auth.login' (did you mean 'auth.login.fail' or 'auth.login.notification' or "
     "'auth.login.success'?)"),
    ("batchsize", 10, "unknown key 'batchsize' (did you mean 'batch_size'?)"),
    ("webhook_url", "https://x", "'webhook_url' is not a setting here: put it in the host of Connection 'auth0_webhook'"),
    ("authorization", "Bearer x", "'authorization' is not a setting here: put it in the password of Connection 'auth0_webhook'"),
    ("slack_incoming_webhook_url", "https://hooks.slack.com/x",
     "'slack_incoming_webhook_url' is not a setting here: put it in the password of Connection 'auth0_slack'"),
]


@pytest.mark.parametrize("key, value, message", SETTINGS_CASES, ids=[case[0] for case in SETTINGS_CASES])
def test_a_wrong_setting_names_key_value_and_what_is_allowed(key, value, message):
    with pytest.raises(SettingsError) as caught:
        parse_settings({key: value})
    assert message in str(caught.value)
    assert str(caught.value).startswith("Variable 'auth0_webhooks_config' is not valid: ")


def test_the_variable_is_not_json():
    with pytest.raises(SettingsError, match="the value is not JSON .* expected an object"):
        parse_settings("{batch_size: 10}")


def set_conn(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


@pytest.fixture
def tenant():
    with Auth0Emulator(client_id="good-id", client_secret="good-secret", seed=1, logs=3) as emulator:
        yield emulator


AUTH0_CASES = [
    ("host-empty", {"host": ""}, "the Auth0 connection has no Domain (host)"),
    ("client-id-wrong", {"login": "bad-id"}, "Auth0 refused the client credentials (401"),
    ("client-secret-wrong", {"password": "bad-secret"}, "Auth0 refused the client credentials (401"),
    ("audience-wrong", {"extra": {"audience": "https://other/api/v2/"}}, "Auth0 refused the client credentials (403"),
]


@pytest.mark.parametrize("case, override, message", AUTH0_CASES, ids=[case[0] for case in AUTH0_CASES])
def test_a_wrong_auth0_connection_field(monkeypatch, tenant, case, override, message):
    fields = {"conn_type": "auth0", "host": tenant.base_url, "login": "good-id", "password": "good-secret", **override}
    set_conn(monkeypatch, "auth0_default", **fields)
    with pytest.raises(Auth0AuthError) as caught:
        Auth0Hook().get_conn().logs_after("0", 1)
    assert message in str(caught.value)
    assert "bad-secret" not in str(caught.value) and "good-secret" not in str(caught.value)
    ok, text = Auth0Hook().test_connection()  # what the Test button shows
    assert not ok and message in text


WEBHOOK_CASES = [
    ("host-empty", {"host": ""}, "Connection 'auth0_webhook' has no host: put the webhook's full URL there"),
    ("password-line-break", {"password": "Bearer abc\n"},
     "the Authorization value (password) contains a line break; remove it"),
    ("timeout", {"extra": {"timeout": 0}}, "extra timeout=0 is not allowed: expected a number from 1 to 300"),
    ("max_attempts", {"extra": {"max_attempts": "many"}},
     "extra max_attempts='many' is not allowed: expected a number from 1 to 20"),
    ("headers", {"extra": {"headers": ["X-A: 1"]}}, "extra headers=['X-A: 1'] is not allowed: expected a JSON object"),
    ("signing_secret", {"extra": {"signing_secret": {"k": "v"}}},
     "extra 'signing_secret' is a dict; expected a string or a list of strings"),
]


@pytest.mark.parametrize("case, override, message", WEBHOOK_CASES, ids=[case[0] for case in WEBHOOK_CASES])
def test_a_wrong_webhook_connection_field(monkeypatch, case, override, message):
    set_conn(monkeypatch, "auth0_webhook", **{"conn_type": "http", "host": "https://hooks.example.com/x", **override})
    with pytest.raises(WebhookConfigError) as caught:
        WebhookHook().get_conn()
    assert message in str(caught.value)


def test_a_wrong_slack_url_loses_the_report_but_never_fails_the_run(monkeypatch):
    from auth0_webhooks.notifications import send_report

    set_conn(monkeypatch, "auth0_slack", conn_type="slackwebhook", password="http://127.0.0.1:9/services/nowhere")
    report = RunReport(dag_id="d", run_id="r", start="s", end="e", error="boom")
    assert send_report(report, "auth0_slack") is False  # logged, not raised
