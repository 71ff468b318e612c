"""auth0-webhooks for Airflow: ship Auth0 tenant logs to a webhook, on schedule, losing nothing."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "airflow-provider-auth0-webhooks"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # running from a checkout without pip install
    __version__ = "0.0.0+local"

USER_AGENT = f"auth0-webhooks-airflow/{__version__}"


def get_provider_info() -> dict:
    """Provider metadata read by Airflow's providers manager (entry point `apache_airflow_provider`)."""
    return {
        "package-name": DISTRIBUTION,
        "name": "Auth0 Webhooks",
        "description": "Ships Auth0 tenant logs to a webhook: Auth0 hook, LogsToWebhookOperator, DAG.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "auth0",
                "hook-class-name": "auth0_webhooks.hooks.auth0.Auth0Hook",
                "hook-name": "Auth0",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "extra"],
                    "relabeling": {
                        "host": "Domain",
                        "login": "Client ID",
                        "password": "Client Secret",
                    },
                    "placeholders": {
                        "host": "your-tenant.eu.auth0.com (or http://127.0.0.1:8089 for the emulator)",
                        "login": "Machine-to-machine application's Client ID",
                        "password": "Machine-to-machine application's Client Secret",
                        "audience": "https://your-tenant.eu.auth0.com/api/v2/",
                    },
                },
                "conn-fields": {
                    "audience": {
                        "label": "Audience",
                        "schema": {"type": ["string", "null"]},
                        "description": "Optional. Management API audience; default https://{domain}/api/v2/.",
                    },
                },
            },
        ],
    }
