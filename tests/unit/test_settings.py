"""auth0_webhooks.settings: the `auth0_webhooks_config` Variable, parsed, validated, defaulted.

Spec: the original extension's settings (README, "Settings") and the module docstring.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from auth0_webhooks.settings import Settings, SettingsError, StartFrom, parse_settings


def problems_of(raw) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw)
    # The message is what the user sees in the task log: it must carry every problem.
    for problem in caught.value.problems:
        assert problem in str(caught.value)
    assert "auth0_webhooks_config" in str(caught.value)
    return caught.value.problems


def only_problem(raw) -> str:
    problems = problems_of(raw)
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------- defaults


@pytest.mark.parametrize("raw", [None, "", "   ", "{}", {}])
def test_empty_config_gives_the_original_extension_defaults(raw):
    settings = parse_settings(raw)
    assert settings.schedule == "*/5 * * * *"  # every 5 minutes
    assert settings.cron == "*/5 * * * *"
    assert settings.batch_size == 100
    assert settings.send_as_batch is True
    assert settings.webhook_concurrent_calls == 5
    assert settings.start_from is None
    assert settings.slack_send_success is False
    assert settings.log_level is None
    assert settings.log_types == ()
    assert settings == Settings()


@pytest.mark.parametrize(
    "key, value, field, expected",
    [
        ("schedule", "0 * * * *", "schedule", "0 * * * *"),
        ("batch_size", 10, "batch_size", 10),
        ("send_as_batch", False, "send_as_batch", False),
        ("webhook_concurrent_calls", 12, "webhook_concurrent_calls", 12),
        ("slack_send_success", True, "slack_send_success", True),
        ("log_level", 2, "log_level", 2),
        ("log_types", ["s", "f"], "log_types", ("s", "f")),
        ("max_logs_per_run", 500, "max_logs_per_run", 500),
        ("batches_per_task", 3, "batches_per_task", 3),
    ],
)
def test_every_key_is_optional_and_alone_changes_only_itself(key, value, field, expected):
    settings = parse_settings(json.dumps({key: value}))
    assert getattr(settings, field) == expected
    defaults = Settings()
    for other in Settings.__dataclass_fields__:
        if other != field:
            assert getattr(settings, other) == getattr(defaults, other), other


def test_uppercase_names_of_the_original_extension_are_accepted():
    old = {
        "BATCH_SIZE": 20,
        "SEND_AS_BATCH": False,
        "WEBHOOK_CONCURRENT_CALLS": 2,
        "START_FROM": "90020260101000000000000000000000000000000000000000000001",
        "SLACK_SEND_SUCCESS": True,
        "LOG_LEVEL": 3,
        "LOG_TYPES": ["s", "f"],
    }
    settings = parse_settings(json.dumps(old))
    assert settings.batch_size == 20
    assert settings.send_as_batch is False
    assert settings.webhook_concurrent_calls == 2
    assert settings.start_from is not None
    assert settings.start_from.log_id == old["START_FROM"]
    assert settings.slack_send_success is True
    assert settings.log_level == 3
    assert settings.log_types == ("s", "f")


def test_a_dict_is_accepted_as_well_as_text():
    assert parse_settings({"batch_size": 7}).batch_size == 7


@pytest.mark.parametrize("text, expected", [("true", True), ("false", False), ("1", True), ("0", False)])
def test_booleans_written_as_text(text, expected):
    assert parse_settings({"send_as_batch": text}).send_as_batch is expected


def test_batch_size_at_the_limits():
    assert parse_settings({"batch_size": 1}).batch_size == 1
    assert parse_settings({"batch_size": 100}).batch_size == 100
    assert parse_settings({"batch_size": "50"}).batch_size == 50


# ---------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    "value, shown", [(0, "batch_size=0"), (101, "batch_size=101"), ("abc", 'batch_size="abc"'), (True, "batch_size=true")]
)
def test_bad_batch_size_names_key_value_and_allowed_range(value, shown):
    problem = only_problem(json.dumps({"batch_size": value}))
    assert shown in problem
    assert "integer from 1 to 100" in problem


def test_uppercase_key_with_bad_value_is_reported_too():
    problem = only_problem('{"BATCH_SIZE": 500}')
    assert "batch_size" in problem.lower() and "500" in problem
    assert "1 to 100" in problem


def test_zero_concurrent_calls_is_refused():
    problem = only_problem({"webhook_concurrent_calls": 0})
    assert "webhook_concurrent_calls=0" in problem
    assert "integer from 1 to" in problem


@pytest.mark.parametrize("cron", ["*/5 * * *", "61 * * * *", "every 5 minutes", "* * * * * * *", "@sometimes"])
def test_malformed_cron_is_refused(cron):
    problem = only_problem({"schedule": cron})
    assert "schedule=" in problem and json.dumps(cron) in problem
    assert "cron expression" in problem and "@hourly" in problem


def test_schedule_that_is_not_a_string_is_refused():
    problem = only_problem({"schedule": 5})
    assert "schedule=5" in problem and "cron expression" in problem


def test_non_json_text_is_refused_with_the_position():
    problem = only_problem('{"batch_size": 10,')
    assert "not JSON" in problem
    assert "line 1" in problem
    assert "object" in problem  # says what is expected


@pytest.mark.parametrize("raw, kind", [("[1, 2]", "list"), ('"batch_size"', "str"), ("42", "int")])
def test_json_that_is_not_an_object_is_refused(raw, kind):
    problem = only_problem(raw)
    assert "JSON object" in problem and kind in problem


def test_unknown_key_gets_a_did_you_mean_hint_and_the_allowed_keys():
    problem = only_problem({"batchsize": 10})
    assert "'batchsize'" in problem
    assert "did you mean 'batch_size'" in problem
    assert "allowed keys" in problem and "log_types" in problem


def test_unknown_key_without_a_close_match_still_lists_the_allowed_keys():
    problem = only_problem({"zzzzzz": 1})
    assert "'zzzzzz'" in problem and "did you mean" not in problem
    assert "batch_size" in problem


def test_log_types_with_an_unknown_code_names_it_with_a_hint():
    problem = only_problem({"log_types": ["s", "sapii", "qqqqqqqq"]})
    assert "log_types=" in problem
    assert "'sapii' (did you mean 'sapi'?)" in problem
    assert "'qqqqqqqq'" in problem
    assert "'s'" not in problem.split("unknown code(s):")[1]  # the known code is not blamed
    assert "event type codes" in problem


@pytest.mark.parametrize("value", [{"s": 1}, [1, 2]])
def test_log_types_of_the_wrong_shape_is_refused(value):
    problem = only_problem({"log_types": value})
    assert "log_types=" in problem and "list of Auth0 event type codes" in problem


@pytest.mark.parametrize("value, shown", [(5, "log_level=5"), (-1, "log_level=-1"), ("loud", 'log_level="loud"')])
def test_bad_log_level_names_the_allowed_levels(value, shown):
    problem = only_problem({"log_level": value})
    assert shown in problem
    assert "0 (debug)" in problem and "4 (critical)" in problem


@pytest.mark.parametrize(
    "key, connection, secret",
    [
        ("webhook_url", "auth0_webhook", "https://hooks.example.com/ingest?token=TOPSECRET"),
        ("WEBHOOK_URL", "auth0_webhook", "https://hooks.example.com/ingest?token=TOPSECRET"),
        ("authorization", "auth0_webhook", "Bearer TOPSECRET"),
        ("AUTHORIZATION", "auth0_webhook", "Bearer TOPSECRET"),
        ("SLACK_INCOMING_WEBHOOK_URL", "auth0_slack", "https://hooks.slack.com/services/TOPSECRET"),
    ],
)
def test_settings_that_moved_to_connections_point_there_without_echoing_the_secret(key, connection, secret):
    problem = only_problem({key: secret})
    assert repr(key) in problem
    assert f"Connection '{connection}'" in problem
    # These values are credentials: the error (shown in task logs) must not repeat them.
    assert "TOPSECRET" not in problem


def test_all_problems_are_reported_at_once():
    problems = problems_of(
        {"batch_size": 0, "log_level": 9, "schedule": "nope", "batchsize": 3, "authorization": "x"}
    )
    assert len(problems) == 5
    joined = " | ".join(problems)
    for needle in ("batch_size=0", "log_level=9", 'schedule="nope"', "'batchsize'", "'authorization'"):
        assert needle in joined


# ---------------------------------------------------------------- schedule


@pytest.mark.parametrize(
    "preset, cron",
    [("@hourly", "0 * * * *"), ("@daily", "0 0 * * *"), ("@weekly", "0 0 * * 0"), ("@monthly", "0 0 1 * *")],
)
def test_presets_are_accepted_and_resolved_to_cron(preset, cron):
    settings = parse_settings({"schedule": preset})
    assert settings.schedule == preset
    assert settings.cron == cron


@pytest.mark.parametrize("value", [None, "null", "none", ""])
def test_null_schedule_means_manual_runs_only(value):
    settings = parse_settings({"schedule": value})
    assert settings.schedule is None
    assert settings.cron is None


def test_cron_extra_whitespace_is_normalised():
    assert parse_settings({"schedule": " */10   *  * * * "}).cron == "*/10 * * * *"


# ---------------------------------------------------------------- start_from


def test_start_from_log_id():
    log_id = "90020260131101010123456789012345678901234567890123456789"
    start = parse_settings({"start_from": log_id}).start_from
    assert start == StartFrom(raw=log_id, log_id=log_id, date=None)


def test_start_from_log_id_written_as_a_json_number_keeps_every_digit():
    log_id = "90020260131101010123456789012345678901234567890123456789"
    start = parse_settings('{"start_from": ' + log_id + "}").start_from
    assert start.log_id == log_id and start.date is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-01-31T00:00:00Z", datetime(2026, 1, 31, tzinfo=timezone.utc)),
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=timezone.utc)),
        ("2026-01-31T02:30:00+02:00", datetime(2026, 1, 31, 0, 30, tzinfo=timezone.utc)),
    ],
)
def test_start_from_iso_date_is_an_aware_utc_datetime(text, expected):
    start = parse_settings({"start_from": text}).start_from
    assert start.log_id is None
    assert start.date == expected
    assert start.date.utcoffset().total_seconds() == 0
    assert start.raw == text


@pytest.mark.parametrize("value", ["not a log id!", "abc", True, {"a": 1}])
def test_bad_start_from_is_refused(value):
    problem = only_problem({"start_from": value})
    assert "start_from=" in problem and "log_id" in problem and "ISO 8601" in problem


@pytest.mark.parametrize("value", ["2026-13-45", "2026-02-30"])
def test_a_date_shaped_start_from_that_is_not_a_date_is_refused(value):
    problem = only_problem({"start_from": value})
    assert "start_from=" in problem and "ISO 8601" in problem


def test_null_start_from():
    assert parse_settings({"start_from": None}).start_from is None


# ---------------------------------------------------------------- log level


@pytest.mark.parametrize(
    "value, level",
    [("debug", 0), ("info", 1), ("warning", 2), ("error", 3), ("ERROR", 3), ("critical", 4), (0, 0), ("4", 4), (None, None)],
)
def test_log_level_by_number_or_name(value, level):
    assert parse_settings({"log_level": value}).log_level == level


def test_log_types_as_comma_separated_text_and_duplicates_removed():
    assert parse_settings({"log_types": "s, f,s"}).log_types == ("s", "f")


@pytest.mark.parametrize(
    "settings, budget",
    [
        ({}, 240),  # every 5 minutes: 80 % of the interval, room left for the next run
        ({"schedule": "* * * * *"}, 48),
        ({"schedule": "*/2 * * * *"}, 96),
        ({"schedule": "@hourly"}, 2880),
        ({"schedule": "@daily"}, 3600),  # capped at an hour
        ({"schedule": None}, 3600),  # manual runs only
        ({"max_run_seconds": 90}, 90),  # an explicit budget wins
    ],
)
def test_the_run_budget_follows_the_schedule(settings, budget):
    assert parse_settings(settings).run_budget_seconds == budget


def test_no_log_cap_by_default_and_null_is_accepted():
    assert parse_settings({}).max_logs_per_run is None
    assert parse_settings({"max_logs_per_run": None, "max_run_seconds": None}).max_run_seconds is None


# ---------------------------------------------------------------- content_format, log_categories (issue 9)


def test_content_format_defaults_to_the_original_json_array():
    assert parse_settings({}).content_format == "json_array"


@pytest.mark.parametrize("value, expected", [("json_lines", "json_lines"), ("json_array", "json_array"),
                                             (" JSON_LINES ", "json_lines")])
def test_content_format_values(value, expected):
    assert parse_settings({"content_format": value}).content_format == expected
    assert parse_settings({"CONTENT_FORMAT": value}).content_format == expected


@pytest.mark.parametrize("value, hint", [("json_line", " (did you mean 'json_lines'?)"),
                                         ("jsonarray", " (did you mean 'json_array'?)"),
                                         ("xml", ""), (["json_lines"], ""), (1, "")])
def test_a_wrong_content_format_names_key_value_allowed_values_and_a_hint(value, hint):
    assert only_problem({"content_format": value}) == (
        f"content_format={json.dumps(value)} is not allowed: expected 'json_array' or 'json_lines'{hint}")


def test_log_categories_default_to_none():
    assert parse_settings({}).log_categories == ()


@pytest.mark.parametrize("value", [["auth.login.fail", "user.fail"], "auth.login.fail, user.fail",
                                   "auth.login.fail user.fail", " auth.login.fail,,user.fail ",
                                   ["auth.login.fail", "user.fail", "auth.login.fail"]],
                         ids=["list", "commas", "spaces", "messy", "duplicate"])
def test_log_categories_as_a_list_or_a_separated_string(value):
    assert parse_settings({"log_categories": value}).log_categories == ("auth.login.fail", "user.fail")
    assert parse_settings({"LOG_CATEGORIES": value}).log_categories == ("auth.login.fail", "user.fail")


@pytest.mark.parametrize("value", [None, "", []])
def test_empty_log_categories_mean_none(value):
    assert parse_settings({"log_categories": value}).log_categories == ()


def test_an_unknown_category_is_named_with_a_hint_and_the_list_of_categories():
    problem = only_problem({"log_categories": ["auth.login.fail", "auth.signup.fial"]})
    assert problem.startswith('log_categories=["auth.login.fail", "auth.signup.fial"] is not allowed: '
                              "expected a list of Auth0 Log Streams event categories")
    assert problem.endswith("; unknown category: 'auth.signup.fial' (did you mean 'auth.signup.fail'?)")
    assert "each one of: actions, auth.ancillary.fail, " in problem and "user.success;" in problem


def test_a_prefix_is_not_a_category_and_the_hint_lists_the_categories_under_it():
    problem = only_problem({"log_categories": "auth.login"})
    assert problem.endswith("unknown category: 'auth.login' (did you mean 'auth.login.fail' or "
                            "'auth.login.notification' or 'auth.login.success'?)")


def test_several_unknown_categories_are_all_named():
    problem = only_problem({"log_categories": ["nope", "management.fial"]})
    assert problem.endswith("unknown categories: 'nope', 'management.fial' (did you mean 'management.fail'?)")


@pytest.mark.parametrize("value", [{"auth.login.fail": True}, [1], 3])
def test_log_categories_of_the_wrong_shape_are_refused(value):
    assert "expected a list of Auth0 Log Streams event categories" in only_problem({"log_categories": value})
