"""The run report record: redaction, tolerant reading, lag and run kind."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from auth0_webhooks.reporting import RunReport, human_duration, lag_seconds, redact, run_kind

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)

SECRETS = ["s3cr3t-pass", "tok-abcdef123456", "query-secret-99", "hooks-path-secret-XYZ", "whsec_QUJDREVGR0g=",
           "xoxb-1234-5678-abcd", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "dXNlcjpwYXNzd29yZA=="]


@pytest.mark.parametrize("text, kept", [
    ("POST https://user:s3cr3t-pass@hooks.example.com/in?key=query-secret-99 failed: 500",
     "POST https://hooks.example.com/… failed: 500"),
    ("webhook https://hooks.example.com/services/hooks-path-secret-XYZ answered 404",
     "webhook https://hooks.example.com/… answered 404"),
    ("sent Authorization: Bearer tok-abcdef123456 to the receiver", "sent Authorization: [redacted]"),
    ("header was Bearer tok-abcdef123456", "header was Bearer [redacted]"),
    ("Basic dXNlcjpwYXNzd29yZA== refused", "Basic [redacted] refused"),
    ("signing_secret=whsec_QUJDREVGR0g= is not valid", "signing_secret=[redacted] is not valid"),
    ("key whsec_QUJDREVGR0g= rejected", "key whsec_[redacted] rejected"),
    ("slack said xoxb-1234-5678-abcd", "slack said xox-[redacted]"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl expired", "[redacted JWT] expired"),
    ('{"client_secret": "s3cr3t-pass"}', '"client_secret": "[redacted]"'),
])
def test_redact_removes_credentials_and_keeps_the_message(text, kept):
    redacted = redact(text)
    assert kept in redacted
    assert not any(secret in redacted for secret in SECRETS)


def test_redact_leaves_plain_messages_alone():
    message = "unit 3 of 4 was not fully delivered: the webhook answered 503 Service Unavailable (basic check)"
    assert redact(message) == message
    assert redact("https://hooks.example.com") == "https://hooks.example.com"
    assert redact(None) == ""


def test_to_dict_keeps_every_field_and_redacts_free_text():
    report = RunReport(dag_id="d", run_id="r", start="s", end="e", error="POST https://u:p@h.example/x?k=v: 500",
                       warnings=["Bearer tok-abcdef123456 refused"], gaps=["gap at https://h.example/secret-path"])
    data = report.to_dict()
    assert data["error"] == "POST https://h.example/…: 500"
    assert data["warnings"] == ["Bearer [redacted] refused"]
    assert data["gaps"] == ["gap at https://h.example/…"]
    for key in ("dag_id", "run_id", "start", "end", "logs_read", "logs_delivered", "logs_filtered_out",
                "checkpoint_before", "checkpoint_after", "caught_up", "dry_run", "run_kind", "logs_failed",
                "lag_seconds", "rate_limit_waits", "rate_limit_wait_seconds", "auth0_429s", "webhook_latency_ms",
                "run_url", "pipeline"):
        assert key in data


def test_from_dict_round_trips_and_tolerates_old_unknown_and_wrong_values():
    report = RunReport(dag_id="d", run_id="r", start="s", end="e", logs_read=5, lag_seconds=12.5, gaps=["g"],
                       run_kind="backfill", webhook_latency_ms=40.0, pipeline="eu")
    assert RunReport.from_dict(report.to_dict()) == report
    old = {"dag_id": "d", "run_id": "r", "start": "s", "end": "e", "logs_read": 3, "error": None,
           "warnings": ["w"], "something_new": 1}
    read = RunReport.from_dict(old)
    assert (read.logs_read, read.warnings, read.run_kind, read.lag_seconds, read.gaps) == (3, ["w"], "scheduled", None, [])
    wrong = RunReport.from_dict({"dag_id": "d", "logs_read": "many", "lag_seconds": "x", "gaps": "g", "caught_up": 1})
    assert (wrong.logs_read, wrong.lag_seconds, wrong.gaps, wrong.caught_up, wrong.run_id) == (0, None, [], True, "")
    assert RunReport.from_dict(None) is None and RunReport.from_dict([1]) is None


def test_lines_keep_the_original_fields_and_add_lag():
    report = RunReport(dag_id="d", run_id="r", start="s", end="e", logs_read=10, logs_delivered=8,
                       logs_filtered_out=2, checkpoint_before="a", checkpoint_after="b", lag_seconds=75,
                       error="Authorization: Bearer tok-abcdef123456")
    text = report.text()
    assert "run r: FAILED" in text and "Start: s" in text and "End: e" in text
    assert "Logs processed: 8 delivered, 2 filtered out, 10 read" in text
    assert "Next checkpoint: b" in text and "Lag: 1 min 15 s" in text
    assert "tok-abcdef123456" not in text


@pytest.mark.parametrize("date, expected", [
    ("2026-12-02T11:58:00.000Z", 120.0),
    ("2026-12-02T11:58:00+00:00", 120.0),
    ("2026-12-02T11:58:00", 120.0),  # naive: UTC
    (datetime(2026, 12, 2, 11, 0, tzinfo=timezone.utc), 3600.0),
    ("2026-12-02T12:05:00Z", 0.0),  # a clock ahead of ours: never negative
    (None, None), ("", None), ("yesterday", None),
])
def test_lag_is_the_age_of_the_newest_acknowledged_log(date, expected):
    assert lag_seconds(date, NOW) == expected


@pytest.mark.parametrize("run_type, dry, replay, kind", [
    ("scheduled", False, False, "scheduled"), ("manual", False, False, "manual"), ("backfill", False, False, "backfill"),
    ("asset_triggered", False, False, "scheduled"), ("manual", True, False, "dry run"), ("manual", False, True, "replay"),
    ("backfill", True, True, "dry run"), (None, False, False, "manual"),
])
def test_run_kind(run_type, dry, replay, kind):
    assert run_kind(run_type, dry_run=dry, replay=replay) == kind


def test_human_duration():
    assert [human_duration(s) for s in (None, 5, 75, 7300, 200000)] == ["unknown", "5 s", "1 min 15 s", "2 h 1 min",
                                                                          "2 d 7 h"]
