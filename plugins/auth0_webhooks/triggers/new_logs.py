"""Event-driven mode: a watcher in Airflow's triggerer starts a run as soon as the tenant has new logs.

`Auth0NewLogsTrigger` runs in the triggerer, behind an `AssetWatcher` on the pipeline's *new logs*
asset (`watched_asset`). It reads the pipeline's checkpoint Variable, and asks the tenant for one log
past it (`GET /api/v2/logs?from=<checkpoint>&take=1`, at most once every `poll_seconds`, paced by the
client like any read). When there is one, or when there is no checkpoint yet, it fires: an asset
event, and the DAG (scheduled on that asset) runs.

It does not fire again for the same checkpoint while the run it caused works: after firing it only
watches the Variable (no request to the tenant) until the run commits a new checkpoint, then looks
past that one. Only when the checkpoint has not moved for `rearm_seconds` (the run failed, is still
reading a large backlog, or was never started) does it look, and fire, again. While nothing is new
it fires nothing, so no run and no task instance starts.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

DEFAULT_POLL_SECONDS = 5.0
REARM_SECONDS = 600.0  # look (and fire) again for an unchanged checkpoint after 10 minutes
COMMIT_CHECK_SECONDS = 1.0  # while a run it caused works: how often the checkpoint Variable is read
MAX_ERROR_WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class Fired:
    """The checkpoint the trigger last fired for, and when (monotonic seconds)."""

    checkpoint: str | None
    at: float


def due(fired: Fired | None, checkpoint: str | None, now: float, rearm_seconds: float) -> bool:
    """Whether to look for new logs now: never fired, the checkpoint moved since (the run committed),
    or it has not moved for `rearm_seconds`. Otherwise the run it caused is still working."""
    return fired is None or checkpoint != fired.checkpoint or now - fired.at >= rearm_seconds


def error_wait(poll_seconds: float, failures: int) -> float:
    """How long to wait after `failures` failed looks in a row: the poll interval, doubling, at most 5 min."""
    return min(MAX_ERROR_WAIT_SECONDS, max(poll_seconds, poll_seconds * 2 ** max(0, failures - 1)))


class Auth0NewLogsTrigger(BaseEventTrigger):
    """
    Fires when the tenant has a log past the pipeline's checkpoint (or no checkpoint exists yet).

    Runs in the triggerer, through an ``AssetWatcher`` (see :func:`watched_asset`). Every read counts
    against the tenant's rate limit: ``3600 / poll_seconds`` an hour while idle, at most.

    :param auth0_conn_id: the Auth0 connection of the pipeline (``Auth0Hook``).
    :param checkpoint_variable: the Variable holding the pipeline's checkpoint (a log id).
    :param poll_seconds: seconds between two reads of the tenant.
    :param rearm_seconds: after firing, look again for the same checkpoint only after this long.
    """

    def __init__(self, *, auth0_conn_id: str, checkpoint_variable: str, poll_seconds: float = DEFAULT_POLL_SECONDS,
                 rearm_seconds: float = REARM_SECONDS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.auth0_conn_id = auth0_conn_id
        self.checkpoint_variable = checkpoint_variable
        self.poll_seconds = float(poll_seconds)
        self.rearm_seconds = float(rearm_seconds)
        self._client: Any = None
        self.clock: Callable[[], float] = time.monotonic

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "auth0_conn_id": self.auth0_conn_id, "checkpoint_variable": self.checkpoint_variable,
            "poll_seconds": self.poll_seconds, "rearm_seconds": self.rearm_seconds}

    # -- what it reads (sync Task SDK and requests calls, run in a thread) --

    def _checkpoint(self) -> str | None:
        from auth0_webhooks import runtime  # Variable.get through the triggerer's supervisor

        return (runtime.variable_get(self.checkpoint_variable) or "").strip() or None

    def _newer(self, checkpoint: str) -> list[dict]:
        if self._client is None:
            from auth0_webhooks.hooks.auth0 import Auth0Hook

            self._client = Auth0Hook(auth0_conn_id=self.auth0_conn_id).get_conn()
        return self._client.logs_after(checkpoint, take=1)

    async def _look(self, checkpoint: str | None) -> dict | None:
        """The event's payload when there is something to read past `checkpoint`, else None.
        Raises what the client raises (Auth0Error and network errors), after its own retries."""
        from auth0_webhooks.auth0_client import CheckpointExpired

        if checkpoint is None:
            return {"reason": "no checkpoint yet", "checkpoint": None}
        try:
            newer = await asyncio.to_thread(self._newer, checkpoint)
        except CheckpointExpired:  # a run restarts from the oldest retained log and reports the gap
            return {"reason": "checkpoint older than the tenant's retention", "checkpoint": checkpoint}
        if not newer:
            return None
        return {"reason": "new logs", "checkpoint": checkpoint, "first_new_log_id": str(newer[0]["log_id"])}

    # -- the loop --

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from auth0_webhooks.auth0_client import Auth0AuthError

        self.log.info("watching connection %r for logs past Variable %r, every %.0f s", self.auth0_conn_id,
                      self.checkpoint_variable, self.poll_seconds)
        fired: Fired | None = None
        last_look = float("-inf")
        failures = 0
        while True:
            try:
                checkpoint = await asyncio.to_thread(self._checkpoint)
            except Exception as error:  # noqa: BLE001 - a watcher never ends: log and try again
                failures += 1
                self.log.warning("could not read Variable %r (%s); trying again", self.checkpoint_variable,
                                 type(error).__name__)
                await asyncio.sleep(error_wait(self.poll_seconds, failures))
                continue
            if not due(fired, checkpoint, self.clock(), self.rearm_seconds):
                await asyncio.sleep(min(COMMIT_CHECK_SECONDS, self.poll_seconds))  # the run works: no request
                continue
            if (wait := last_look + self.poll_seconds - self.clock()) > 0:
                await asyncio.sleep(wait)  # at most one read of the tenant every poll_seconds
                continue
            last_look = self.clock()
            try:
                payload = await self._look(checkpoint)
            except Exception as error:  # noqa: BLE001 - rate limits and 5xx were already waited on by the client
                failures += 1
                if isinstance(error, Auth0AuthError):
                    self._client = None  # the connection may be fixed: build the client again
                wait = error_wait(self.poll_seconds, failures)
                self.log.warning("looking for new logs failed (%s: %s); trying again in %.0f s",
                                 type(error).__name__, error, wait)
                await asyncio.sleep(wait)
                continue
            failures = 0
            if payload is None:
                await asyncio.sleep(self.poll_seconds)
                continue
            fired = Fired(checkpoint, self.clock())
            self.log.info("new logs past checkpoint %s: starting a run (%s)", checkpoint, payload["reason"])
            yield TriggerEvent({"checkpoint_variable": self.checkpoint_variable, **payload})


def watched_asset(dag_id: str, pipeline: Any, settings: Any) -> Any:
    """The pipeline's *new logs* asset, watched by an Auth0NewLogsTrigger on its connection and checkpoint.

    `pipeline` is a `pipelines.Pipeline`, `settings` its `Settings` (`event_poll_seconds`)."""
    from airflow.sdk import Asset, AssetWatcher

    name = f"auth0_webhooks_new_logs__{dag_id}"
    trigger = Auth0NewLogsTrigger(auth0_conn_id=pipeline.auth0_conn_id,
                                  checkpoint_variable=pipeline.checkpoint_variable,
                                  poll_seconds=float(settings.event_poll_seconds))
    return Asset(name=name, uri=f"auth0-webhooks://new-logs/{dag_id}", group="auth0_webhooks",
                 watchers=[AssetWatcher(name=name, trigger=trigger)])
