"""The Airflow plugin of the run history page: the FastAPI app under /logs-to-webhook on the api-server, and
"Auth0 run history" in the UI's Browse menu, showing that app in the UI's frame.

Airflow finds it through the entry point `airflow.plugins` of this distribution (pip install, as the demo
and the tests do). The `.airflowignore` beside this file keeps Airflow's plugins-folder loader, which
executes every .py file under the plugins folder, from registering it a second time when the plugins
folder is this repository's `plugins/`.
"""

from __future__ import annotations

from functools import cache

from airflow.plugins_manager import AirflowPlugin

from auth0_webhooks.ui.history import URL_PREFIX

PLUGIN_NAME = "auth0_webhooks_run_history"


@cache
def _fastapi_apps() -> list[dict]:
    from auth0_webhooks.ui.app import create_app

    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Auth0 run history"}]


class RunHistoryPlugin(AirflowPlugin):
    name = PLUGIN_NAME
    external_views = [{"name": "Auth0 run history", "href": f"{URL_PREFIX.lstrip('/')}/",
                       "url_route": "auth0-run-history", "destination": "nav", "category": "browse"}]

    @property
    def fastapi_apps(self) -> list[dict]:  # type: ignore[override]
        """Built on first use, by the api-server: the other processes that load plugins (scheduler,
        dag-processor, triggerer) never import FastAPI's app and Airflow's API security for it."""
        return _fastapi_apps()
