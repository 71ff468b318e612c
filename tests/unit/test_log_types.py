"""auth0_webhooks.log_types: the event catalogue and the LOG_TYPES / LOG_LEVEL filter.

Spec: original-extension.md (union of LOG_TYPES and LOG_LEVEL; neither set sends everything;
unknown newer types must not be silently dropped) and auth0-logs-api.md (an unknown `type`
must never crash the pipeline).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import auth0_webhooks
from auth0_webhooks.log_types import (
    LEVEL_NAMES,
    LOG_STREAM_CATEGORIES,
    LogFilter,
    catalogue,
    derive_level,
    event_type,
    unknown_categories,
    unknown_codes,
)

TSV = Path(auth0_webhooks.__file__).with_name("log_types.tsv")


def tsv_rows() -> list[dict]:
    with TSV.open(encoding="utf-8") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


ROWS = tsv_rows()


def test_the_tsv_is_not_empty_and_the_catalogue_has_every_code():
    codes = [row["code"] for row in ROWS]
    assert len(codes) > 150
    assert len(set(codes)) == len(codes)
    assert set(catalogue()) == set(codes)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["code"])
def test_every_code_has_a_name_a_level_and_a_category(row):
    entry = event_type(row["code"])
    assert entry.code == row["code"]
    assert entry.name == row["name"] and entry.name.strip()
    assert isinstance(entry.level, int) and 0 <= entry.level <= 4
    assert entry.category.strip()
    assert entry.category == (row["log_stream_category"] or "other")


@pytest.mark.parametrize(
    "row", [row for row in ROWS if row["level_in_original"].strip()], ids=lambda row: row["code"]
)
def test_codes_rated_by_the_original_keep_their_level(row):
    entry = catalogue()[row["code"]]
    assert entry.level == int(row["level_in_original"])
    assert entry.level_from_original is True


@pytest.mark.parametrize(
    "row", [row for row in ROWS if not row["level_in_original"].strip()], ids=lambda row: row["code"]
)
def test_codes_not_rated_by_the_original_get_the_derived_level(row):
    entry = catalogue()[row["code"]]
    assert entry.level_from_original is False
    assert entry.level == derive_level(row["code"], row["name"], row["log_stream_category"] or "other")
    assert entry.level in (1, 2, 3)  # derive_level only gives info, warning or error


@pytest.mark.parametrize(
    "code, level",
    [("s", 1), ("f", 3), ("fp", 3), ("w", 2), ("depnote", 2), ("limit_wc", 4), ("sapi", 1)],
)
def test_well_known_levels_from_the_original(code, level):
    assert event_type(code).level == level


@pytest.mark.parametrize(
    "code, name, category, level",
    [
        ("brand_new_thing_failed", "", "", 3),
        ("x", "Something Denied", "", 3),
        ("x", "", "auth.login.fail", 3),
        ("api_quota_exceeded", "", "", 2),
        ("x", "Deprecation of something", "", 2),
        ("x", "Password leak", "", 2),
        ("brand_new_thing", "Brand New Thing", "other", 1),
        ("", "", "", 1),
    ],
)
def test_derive_level(code, name, category, level):
    assert derive_level(code, name, category) == level


def test_derived_levels_in_the_catalogue_follow_the_words():
    assert catalogue()["actions_execution_failed"].level == 3
    assert catalogue()["api_limit_warning"].level == 2
    assert catalogue()["acls_summary"].level == 1


def test_unknown_code_gets_a_defined_entry_not_a_crash():
    entry = event_type("zz_future_event_failed")
    assert entry.code == "zz_future_event_failed"
    assert entry.level == 3
    assert entry.category == "other"
    assert entry.level_from_original is False
    assert "zz_future_event_failed" in entry.name
    assert event_type("zz_future_event").level == 1


def test_unknown_codes_with_hints():
    assert unknown_codes(["s", "f", "sapi"]) == []
    result = unknown_codes(["sapii", "qqqqqqqq"])
    assert result == ["'sapii' (did you mean 'sapi'?)", "'qqqqqqqq'"]


def test_level_names():
    assert LEVEL_NAMES == ("debug", "info", "warning", "error", "critical")


# ---------------------------------------------------------------- LogFilter

KNOWN = ["s", "f", "w", "limit_wc", "sapi", "depnote", "seacft"]
FUTURE = ["zz_new_event", "zz_new_event_failed", "zz_rate_limit_notice"]


def test_no_filter_keeps_everything_including_unknown_future_types():
    keep = LogFilter()
    assert keep.keeps_everything
    for code in KNOWN + FUTURE:
        assert keep.keeps({"type": code}), code
    assert keep.keeps({"log_id": "1"})  # no type at all
    assert keep.describe() == "all event types"


def test_log_types_only():
    keep = LogFilter(log_types=["s", "f"])
    assert not keep.keeps_everything
    assert [code for code in KNOWN + FUTURE if keep.keeps({"type": code})] == ["s", "f"]


def test_log_level_only_keeps_that_level_and_above():
    keep = LogFilter(log_level=3)
    kept = {code for code in KNOWN if keep.keeps({"type": code})}
    assert kept == {"f", "limit_wc"}  # 3 and 4; not s/sapi/seacft (1) nor w/depnote (2)
    assert LogFilter(log_level=4).keeps({"type": "limit_wc"})
    assert not LogFilter(log_level=4).keeps({"type": "f"})
    assert {code for code in KNOWN if LogFilter(log_level=0).keeps({"type": code})} == set(KNOWN)
    assert {code for code in KNOWN if LogFilter(log_level=2).keeps({"type": code})} == {"f", "limit_wc", "w", "depnote"}


def test_both_set_is_the_union():
    keep = LogFilter(log_types=["s"], log_level=3)
    kept = {code for code in KNOWN if keep.keeps({"type": code})}
    assert kept == {"s", "f", "limit_wc"}
    assert "types s" in keep.describe() and "level >= 3 (error)" in keep.describe()


def test_unknown_type_under_a_level_filter_uses_the_derived_level():
    # An unknown failure is an error (3): kept at level 3; an unknown neutral event is info (1).
    assert LogFilter(log_level=3).keeps({"type": "zz_new_event_failed"})
    assert not LogFilter(log_level=3).keeps({"type": "zz_new_event"})
    assert LogFilter(log_level=1).keeps({"type": "zz_new_event"})
    assert LogFilter(log_level=2).keeps({"type": "zz_rate_limit_notice"})
    assert not LogFilter(log_level=3).keeps({"type": "zz_rate_limit_notice"})


@pytest.mark.parametrize("value", [None, "", 5, {"nested": 1}])
def test_odd_type_values_never_crash(value):
    for keep in (LogFilter(), LogFilter(log_types=["s"]), LogFilter(log_level=2)):
        assert keep.keeps({"type": value}) in (True, False)


def test_log_without_type_under_a_types_filter_is_dropped():
    assert not LogFilter(log_types=["s"]).keeps({"log_id": "1"})
    assert not LogFilter(log_level=2).keeps({"log_id": "1"})


def test_log_without_type_is_judged_like_an_unknown_type():
    assert LogFilter(log_level=1).keeps({"log_id": "1"}) == LogFilter(log_level=1).keeps_type("zz_unknown")
    assert LogFilter(log_level=1).keeps({"log_id": "1"})


def test_decision_is_cached_per_code_and_consistent():
    keep = LogFilter(log_level=3)
    first = [keep.keeps({"type": code}) for code in KNOWN]
    second = [keep.keeps({"type": code}) for code in KNOWN]
    assert first == second
    assert keep.keeps_type("f") and not keep.keeps_type("s")


# ---------------------------------------------------------------- log_categories (issue 9)


def test_every_catalogue_category_is_a_log_streams_category():
    assert {entry.category for entry in catalogue().values()} <= set(LOG_STREAM_CATEGORIES)
    assert len(set(LOG_STREAM_CATEGORIES)) == len(LOG_STREAM_CATEGORIES) == 22


def codes_in(category: str) -> set[str]:
    return {code for code, entry in catalogue().items() if entry.category == category}


def test_categories_only_keep_the_codes_of_those_categories():
    keep = LogFilter(log_categories=["auth.login.fail"])
    assert not keep.keeps_everything
    assert {code for code in catalogue() if keep.keeps({"type": code})} == codes_in("auth.login.fail")
    assert {"f", "fp", "fu"} <= codes_in("auth.login.fail") and "s" not in codes_in("auth.login.fail")
    assert keep.describe() == "categories auth.login.fail"


def test_categories_types_and_level_are_one_union():
    keep = LogFilter(log_types=["s"], log_level=4, log_categories=["auth.signup.success", "user.fail"])
    kept = {code for code in catalogue() if keep.keeps({"type": code})}
    at_level = {code for code, entry in catalogue().items() if entry.level >= 4}
    assert kept == {"s"} | at_level | codes_in("auth.signup.success") | codes_in("user.fail")
    assert "ss" in kept and "fcp" in kept and "api_limit" in at_level  # signup success, user failure, level 4
    assert not keep.keeps({"type": "slo"})  # none of the three
    assert keep.describe() == ("types s or level >= 4 (critical) or categories auth.signup.success, user.fail")


def test_unknown_codes_are_in_the_other_category():
    assert LogFilter(log_categories=["other"]).keeps({"type": "zz_new_event"})
    assert not LogFilter(log_categories=["auth.login.fail"]).keeps({"type": "zz_new_event_failed"})


def test_a_category_without_codes_keeps_nothing_alone():
    assert codes_in("management.fail") == set()
    keep = LogFilter(log_categories=["management.fail"])
    assert not keep.keeps_everything and not any(keep.keeps({"type": code}) for code in catalogue())


def test_unknown_categories_with_hints():
    assert unknown_categories(["auth.login.fail", "other"]) == []
    assert unknown_categories(["auth.logn.fail", "auth.logout", "zzz"]) == [
        "'auth.logn.fail' (did you mean 'auth.login.fail'?)",
        "'auth.logout' (did you mean 'auth.logout.fail' or 'auth.logout.success'?)",
        "'zzz'",
    ]
