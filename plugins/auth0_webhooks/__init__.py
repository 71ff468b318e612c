"""auth0-webhooks for Airflow: ship Auth0 tenant logs to a webhook, on schedule, losing nothing."""

from __future__ import annotations

from importlib import metadata
from typing import Any, Callable

DISTRIBUTION = "airflow-provider-auth0-webhooks"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # running from a checkout without pip install
    __version__ = "0.0.0+local"

USER_AGENT = f"auth0-webhooks-airflow/{__version__}"


_AUTH0_INTEGRATION = "Auth0 Management API"
_WEBHOOK_INTEGRATION = "Webhook"


def get_provider_info() -> dict:
    """Provider metadata read by Airflow's providers manager (entry point `apache_airflow_provider`).

    The shape of the Slack and HTTP providers' `get_provider_info`. The registered connection types come from
    `_CONNECTION_TYPES`, whose forms are the ones their hooks return from `get_ui_field_behaviour` and
    `get_conn_fields`, declared once, here. Airflow calls this while `import airflow` is still running (to read
    provider configuration), so neither this module nor this function may import Airflow or a hook module.
    WebhookHook is listed under `hooks` but registers no connection type: it works with `http`, which the HTTP
    provider owns (registering it again would be refused, or would replace HttpHook's form).
    """
    return {
        "package-name": DISTRIBUTION,
        "name": "Auth0 Webhooks",
        "description": "Ships Auth0 tenant logs to a webhook: Auth0 hook, LogsToWebhookOperator, DAG.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _AUTH0_INTEGRATION,
                "external-doc-url": "https://auth0.com/docs/api/management/v2/logs/get-logs",
                "tags": ["service"],
            },
            {
                "integration-name": _WEBHOOK_INTEGRATION,
                "external-doc-url": "https://www.standardwebhooks.com/",
                "tags": ["protocol"],
            },
        ],
        "operators": [
            {"integration-name": _WEBHOOK_INTEGRATION, "python-modules": ["auth0_webhooks.operators.logs_to_webhook"]},
        ],
        "hooks": [
            {"integration-name": _AUTH0_INTEGRATION, "python-modules": ["auth0_webhooks.hooks.auth0"]},
            {"integration-name": _WEBHOOK_INTEGRATION, "python-modules": ["auth0_webhooks.hooks.webhook"]},
        ],
        "connection-types": [_connection_type(*entry) for entry in _CONNECTION_TYPES],
    }


def auth0_ui_field_behaviour() -> dict[str, Any]:
    """The `auth0` connection form's hidden, relabelled and prefilled fields: `Auth0Hook.get_ui_field_behaviour`."""
    return {
        "hidden_fields": ["schema", "port", "extra"],
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
    }


def auth0_conn_fields() -> dict[str, dict[str, Any]]:
    """The `auth0` connection form's fields for extras (provider info's `conn-fields`): `Auth0Hook.get_conn_fields`."""
    return {"audience": conn_field("Audience", "string", "Management API audience; default https://{domain}/api/v2/.")}


def conn_field(label: str, kind: str, description: str, **schema: Any) -> dict[str, Any]:
    """One `conn-fields` entry (Airflow 3.2+): an optional extra of JSON-schema type `kind` in a connection form."""
    return {"label": label, "schema": {"type": [kind, "null"], **schema}, "description": f"Optional. {description}"}


# connection type, hook class, hook name, and the functions that declare its form
_CONNECTION_TYPES = (
    ("auth0", "auth0_webhooks.hooks.auth0.Auth0Hook", "Auth0", auth0_ui_field_behaviour, auth0_conn_fields),
)


def _connection_type(
    conn_type: str, hook_class_name: str, hook_name: str, behaviour: Callable[[], dict], conn_fields: Callable[[], dict]
) -> dict:
    """One `connection-types` entry, in the provider info's kebab case."""
    fields = behaviour()
    return {
        "hook-class-name": hook_class_name,
        "hook-name": hook_name,
        "connection-type": conn_type,
        "ui-field-behaviour": {
            "hidden-fields": fields["hidden_fields"],
            "relabeling": fields["relabeling"],
            "placeholders": fields["placeholders"],
        },
        "conn-fields": conn_fields(),
    }
