"""When a pipeline's DAG runs: its cron schedule, or that schedule OR an asset event.

Continuous catch-up: when a run commits with a backlog left (it read for its whole time budget),
its commit task emits an event of the pipeline's *backlog* asset, through an AssetAlias (an alias
emits nothing unless the task adds an asset to it, so a caught-up run emits nothing). The DAG is
scheduled on its cron timetable OR that asset, so the next run is queued at once and starts as
soon as this one ends (max_active_runs=1: one live run at a time). An idle tenant costs what it
did: no backlog, no event, the cron schedule alone. The cron schedule stays the upper bound on
latency, and keeps its data intervals for backfills (AssetOrTimeSchedule keeps it periodic).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAlias, AssetOrTimeSchedule, CronDataIntervalTimetable

from auth0_webhooks.pipelines import Pipeline
from auth0_webhooks.settings import Settings


def backlog_asset(dag_id: str) -> Asset:
    """The asset whose event means "a backlog remains: run again now"."""
    return Asset(name=f"auth0_webhooks_backlog__{dag_id}", uri=f"auth0-webhooks://backlog/{dag_id}",
                 group="auth0_webhooks")


def backlog_alias(dag_id: str) -> AssetAlias:
    """The commit task's outlet: it adds backlog_asset(dag_id) only when a backlog remains."""
    return AssetAlias(name=f"auth0_webhooks_backlog_alias__{dag_id}", group="auth0_webhooks")


def dag_schedule(dag_id: str, settings: Settings, *, pipeline: Pipeline | None = None) -> Any:
    """The DAG's schedule: None (manual runs only) without a cron schedule, else the cron data
    intervals OR the backlog asset.

    Event-driven mode (`event_driven`): the backlog asset OR the *new logs* asset, which the
    triggerer watches for `pipeline` (default: the default pipeline), OR the cron schedule as a
    fallback (`@hourly` unless `schedule` says otherwise; null: no fallback). Any one of them starts a
    run: `|` is AssetAny (a list would mean all of them)."""
    if settings.event_driven:
        from auth0_webhooks.triggers.new_logs import watched_asset

        assets = backlog_asset(dag_id) | watched_asset(dag_id, pipeline or Pipeline(), settings)
        if not settings.cron:
            return assets
        return AssetOrTimeSchedule(timetable=CronDataIntervalTimetable(settings.cron, timezone="UTC"), assets=assets)
    if not settings.cron:
        return None
    timetable = CronDataIntervalTimetable(settings.cron, timezone="UTC")
    return AssetOrTimeSchedule(timetable=timetable, assets=[backlog_asset(dag_id)])


def announce_backlog(context: Any, dag_id: str) -> bool:
    """In the commit task: emit the backlog asset's event (the next run starts at once). Never raises."""
    try:
        context["outlet_events"][backlog_alias(dag_id)].add(backlog_asset(dag_id))
        return True
    except Exception:  # noqa: BLE001 - the schedule still runs the next run; log and go on
        import logging

        logging.getLogger(__name__).warning("could not announce the backlog: the next run starts on schedule",
                                            exc_info=True)
        return False
