"""Scheduler side of the run note: when a DagRun ends, write the note its commit task handed over.

A DagRun listener runs where Airflow decides the run's final state (the scheduler, or the API server
when a user marks a run), inside that process's database session, so it needs no credentials. It reads
the run's XCom `auth0_webhooks_note` (any task; the newest) and sets it as the run's note, below a
note a user wrote. Runs without that XCom (every other DAG) cost one indexed query. Registered by the
plugin `Auth0WebhooksNotesPlugin` (entry point `airflow.plugins`). Never raises: Airflow logs and
swallows listener errors too, but a note is not worth a log line at error level in the scheduler.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from auth0_webhooks.notifications.note import NOTE_XCOM_KEY, combine_notes

log = logging.getLogger(__name__)


def pending_note(dag_run: Any, session: Any) -> str | None:
    """The note a task of this run handed over (the newest), or None."""
    from sqlalchemy import select

    from airflow.models.xcom import XComModel

    row = session.scalars(select(XComModel).where(XComModel.dag_run_id == dag_run.id, XComModel.key == NOTE_XCOM_KEY)
                          .order_by(XComModel.timestamp.desc()).limit(1)).first()
    if row is None:
        return None
    value = XComModel.deserialize_value(row)
    return value if isinstance(value, str) and value else None


def apply_note(dag_run: Any) -> bool:
    """Write the pending note on `dag_run` (a DagRun of the scheduler's session). True when written."""
    try:
        from sqlalchemy.orm import object_session

        if getattr(dag_run, "id", None) is None:
            return False
        session = object_session(dag_run)
        if session is not None:  # the scheduler: its session commits the note with the run's state
            return _set_note(dag_run, session)
        # A run object outside any session (dag.test() hands the listener one): a session of our own.
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        with create_session() as own:
            attached = own.get(DagRun, dag_run.id)
            return attached is not None and _set_note(attached, own)
    except Exception as error:  # noqa: BLE001
        log.warning("Run note of %s not written: %s: %s", getattr(dag_run, "run_id", "?"), type(error).__name__, error)
        return False


def _set_note(dag_run: Any, session: Any) -> bool:
    note = pending_note(dag_run, session)
    if not note:
        return False
    dag_run.note = combine_notes(dag_run.note, note)
    session.flush()
    return True


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    apply_note(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    apply_note(dag_run)


class Auth0WebhooksNotesPlugin(AirflowPlugin):
    """Writes each run's summary note (see this module)."""

    name = "auth0_webhooks_notes"
    listeners = [sys.modules[__name__]]
