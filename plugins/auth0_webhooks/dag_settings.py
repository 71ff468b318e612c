"""Settings read while the DAG file is parsed: cheap, and never an import error.

Only what must be known before a run starts is read here: the schedule and the number of
concurrent webhook calls (the mapped task's `max_active_tis_per_dagrun`). A missing or wrong
config Variable falls back to the defaults, so that the DAG still shows in the UI; the run
then fails with the message that names the wrong key, and the DAG's docs show it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth0_webhooks.names import CONFIG_VARIABLE
from auth0_webhooks.settings import Settings, SettingsError, parse_settings


@dataclass(frozen=True)
class ParseTimeSettings:
    settings: Settings
    problem: str | None = None


def parse_time_settings() -> ParseTimeSettings:
    """The config Variable's settings, or the defaults and the reason they are used."""
    try:
        from airflow.sdk import Variable

        raw = Variable.get(CONFIG_VARIABLE, default=None)
    except Exception as error:  # noqa: BLE001 - no metadata access at parse time: defaults
        return ParseTimeSettings(Settings(), f"could not read Variable {CONFIG_VARIABLE!r}: {type(error).__name__}")
    try:
        return ParseTimeSettings(parse_settings(raw))
    except SettingsError as error:
        return ParseTimeSettings(Settings(), str(error))
