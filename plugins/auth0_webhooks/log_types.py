"""The Auth0 event catalogue (code, name, level, category) and the LOG_TYPES / LOG_LEVEL / log_categories filter.

Levels as in the original extension (0 debug to 4 critical); `derive_level` rates the codes it left unrated or
never knew, so that every event has a level. Categories are Auth0 Log Streams' event categories
(`LOG_STREAM_CATEGORIES`); a code the catalogue does not know is in `other`, as its level is derived.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Mapping

LEVEL_NAMES = ("debug", "info", "warning", "error", "critical")
# Auth0 Log Streams' "Filter By Event Category" names, exactly as its Management API accepts them (the
# `filters[].name` of a log stream, type "category"): no prefixes or wildcards. Each catalogue entry's
# `log_stream_category` is one of them (a test checks it); the catalogue maps no code to the
# auth.ancillary.* and management.fail categories today, so listing them alone keeps nothing.
LOG_STREAM_CATEGORIES = (
    "actions", "auth.ancillary.fail", "auth.ancillary.success", "auth.login.fail", "auth.login.notification",
    "auth.login.success", "auth.logout.fail", "auth.logout.success", "auth.signup.fail", "auth.signup.success",
    "auth.silent_auth.fail", "auth.silent_auth.success", "auth.token_exchange.fail", "auth.token_exchange.success",
    "management.fail", "management.success", "other", "scim.event", "system.notification", "user.fail",
    "user.notification", "user.success",
)
_LEVEL_WORDS = ((3, ("fail", "error", "denied", "blocked", "rejected")),
                (2, ("warning", "limit", "leak", "exceed", "breach", "notice", "deprecat", "too_many")))


@dataclass(frozen=True)
class EventType:
    """One Auth0 event type."""

    code: str
    name: str
    level: int
    category: str
    level_from_original: bool


def derive_level(code: str, name: str = "", category: str = "") -> int:
    """Level for an event type the original extension did not rate: the first of `_LEVEL_WORDS` whose words
    appear in its code, name or category (error, then warning), else info."""
    text = f"{code} {name} {category}".lower()
    return next((level for level, words in _LEVEL_WORDS if any(word in text for word in words)), 1)


@lru_cache(maxsize=1)
def catalogue() -> Mapping[str, EventType]:
    """Every event type in the shipped catalogue (log_types.tsv), by code."""
    text = resources.files("auth0_webhooks").joinpath("log_types.tsv").read_text("utf-8")
    types: dict[str, EventType] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        code, name, category = row["code"], row["name"], row["log_stream_category"] or "other"
        original = (row.get("level_in_original") or "").strip()
        level = int(original) if original else derive_level(code, name, category)
        types[code] = EventType(code, name, level, category, bool(original))
    return types


def event_type(code: str) -> EventType:
    """The catalogue entry for a code; an unknown (newer) code gets a derived entry."""
    return catalogue().get(code) or EventType(code, f"Unknown event type {code!r}", derive_level(code), "other", False)


def unknown_codes(codes: Iterable[str]) -> list[str]:
    """The codes that are not in the catalogue, each with a close match when there is one."""
    known = catalogue()
    result = []
    for code in codes:
        if code not in known:
            close = difflib.get_close_matches(code, known, n=1)
            result.append(f"{code!r} (did you mean {close[0]!r}?)" if close else repr(code))
    return result


def unknown_categories(names: Iterable[str]) -> list[str]:
    """The names that are not Log Streams event categories, each with what was probably meant: every
    category under a prefix (`auth.login` -> the three `auth.login.*`), else the closest name."""
    result = []
    for name in names:
        if name in LOG_STREAM_CATEGORIES:
            continue
        under = [category for category in LOG_STREAM_CATEGORIES if category.startswith(f"{name}.")]
        close = under or difflib.get_close_matches(name, LOG_STREAM_CATEGORIES, n=1, cutoff=0.7)
        result.append(f"{name!r} (did you mean {' or '.join(map(repr, close))}?)" if close else repr(name))
    return result


class LogFilter:
    """Which logs to send: the union of LOG_TYPES, LOG_LEVEL (as the original) and log_categories (Log Streams'
    event categories): a log is kept when its type is listed, or its level is at or above LOG_LEVEL, or its
    category is listed. None of the three set keeps everything."""

    def __init__(self, log_types: Iterable[str] = (), log_level: int | None = None,
                 log_categories: Iterable[str] = ()) -> None:
        self.log_types = frozenset(log_types)
        self.log_level = log_level
        self.log_categories = frozenset(log_categories)
        self.keeps_everything = not self.log_types and log_level is None and not self.log_categories
        self._decided: dict[str, bool] = {}

    def keeps_type(self, code: str) -> bool:
        """Whether events of this type are sent (cached per code: the hot path is one dict lookup)."""
        decided = self._decided.get(code)
        if decided is None:
            decided = self.keeps_everything or code in self.log_types or (
                self.log_level is not None and event_type(code).level >= self.log_level) or (
                event_type(code).category in self.log_categories)
            self._decided[code] = decided
        return decided

    def keeps(self, log: Mapping) -> bool:
        """Whether this log is sent. A log without a type is judged like an unknown event type."""
        return self.keeps_type(str(log.get("type") or ""))

    def describe(self) -> str:
        """Human-readable summary for run reports."""
        if self.keeps_everything:
            return "all event types"
        parts = []
        if self.log_types:
            parts.append("types " + ", ".join(sorted(self.log_types)))
        if self.log_level is not None:
            parts.append(f"level >= {self.log_level} ({LEVEL_NAMES[self.log_level]})")
        if self.log_categories:
            parts.append("categories " + ", ".join(sorted(self.log_categories)))
        return " or ".join(parts)
