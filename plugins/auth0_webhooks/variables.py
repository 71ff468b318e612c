"""Airflow Variables, read and written through the Task SDK (unit tests patch these functions)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from auth0_webhooks.names import PAUSE_VARIABLE


def variable_get(key: str) -> str | None:
    from airflow.sdk import Variable

    return Variable.get(key, default=None)


def variable_set(key: str, value: str) -> None:
    from airflow.sdk import Variable

    Variable.set(key, value)


class DeliveryPaused(Exception):
    """The receiver asked us to stop (410 Gone); an operator must resume delivery."""


def pause_delivery(reason: str, run_id: str) -> None:
    """Stop every delivery, in this run and the next ones, until an operator deletes the Variable."""
    variable_set(PAUSE_VARIABLE, json.dumps(
        {"since": datetime.now(timezone.utc).isoformat(timespec="seconds"), "run_id": run_id, "reason": reason}))


def delivery_paused() -> str | None:
    """Why delivery is paused, as a message for the user; None when it is not."""
    raw = variable_get(PAUSE_VARIABLE)
    if not raw:
        return None
    try:
        pause = json.loads(raw)
        detail = f" since {pause['since']} (run {pause['run_id']}): {pause['reason']}"
    except (ValueError, KeyError, TypeError):
        detail = f": {raw}"
    return (
        f"delivery is paused{detail}. Once the receiver accepts logs again, delete the Variable "
        f"{PAUSE_VARIABLE!r} (Admin > Variables) and the next run resumes from the checkpoint"
    )


def raise_if_paused() -> None:
    """Raise DeliveryPaused, with how to resume, when delivery is paused."""
    paused = delivery_paused()
    if paused:
        raise DeliveryPaused(paused)
