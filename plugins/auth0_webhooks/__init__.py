"""auth0-webhooks for Airflow: ship Auth0 tenant logs to a webhook, on schedule, losing nothing.

This module must not import Airflow: Airflow calls `get_provider_info` while `import airflow` runs.
"""

from __future__ import annotations

import copy
from importlib import metadata

DISTRIBUTION = "airflow-provider-auth0-webhooks"

try:
    __version__ = metadata.version(DISTRIBUTION)
except metadata.PackageNotFoundError:  # running from a checkout without pip install
    __version__ = "0.0.0+local"

USER_AGENT = f"auth0-webhooks-airflow/{__version__}"


def _extra(label: str, kind: str, description: str, **schema: object) -> dict:
    """One optional extra of a connection form (`conn-fields`, Airflow 3.2+)."""
    return {"label": label, "schema": {"type": [kind, "null"], **schema}, "description": f"Optional. {description}"}


# The connection forms, declared once: provider info registers them, the hooks' get_ui_field_behaviour returns them.
FORMS = {
    "auth0": {
        "hidden-fields": ["schema", "port", "extra"],
        "relabeling": {"host": "Domain", "login": "Client ID", "password": "Client Secret"},
        "placeholders": {"host": "your-tenant.eu.auth0.com (or http://127.0.0.1:8089 for the emulator)",
                         "login": "Machine-to-machine application's Client ID",
                         "password": "Machine-to-machine application's Client Secret",
                         "audience": "https://your-tenant.eu.auth0.com/api/v2/"},
        "conn-fields": {"audience": _extra("Audience", "string", "Default https://{domain}/api/v2/.")},
    },
    "auth0_webhook": {
        "hidden-fields": ["login", "schema", "port"],
        "relabeling": {"host": "Webhook URL", "password": "Authorization header"},
        "placeholders": {"host": "https://siem.example.com/ingest?token=... (path and query are kept)",
                         "password": "Bearer ... (sent verbatim; empty: no Authorization header)",
                         "extra": '{"headers": {"X-Source": "auth0"}}', "signing_secret": "whsec_..."},
        "conn-fields": {
            "timeout": _extra("Timeout", "number", "Seconds per request; default 30.", minimum=1, maximum=300),
            "max_attempts": _extra("Max attempts", "integer", "Tries per request in one task try; default 5.",
                                   minimum=1, maximum=20),
            "signing_secret": _extra("Signing secret", "string", "Standard Webhooks secret (whsec_...); several, "
                                     "separated by spaces, while rotating.", format="password"),
        },
    },
}
_HOOKS = {"auth0": ("auth0_webhooks.hooks.auth0.Auth0Hook", "Auth0"),
          "auth0_webhook": ("auth0_webhooks.hooks.webhook.WebhookHook", "Auth0 logs webhook")}


def ui_field_behaviour(conn_type: str) -> dict:
    """A form as hooks return it from `get_ui_field_behaviour` (a copy: callers may change it)."""
    form = copy.deepcopy(FORMS[conn_type])
    return {"hidden_fields": form["hidden-fields"], "relabeling": form["relabeling"],
            "placeholders": form["placeholders"]}


def conn_fields(conn_type: str) -> dict:
    """A form's extra fields as hooks return them from `get_conn_fields` (a copy)."""
    return copy.deepcopy(FORMS[conn_type]["conn-fields"])


def get_provider_info() -> dict:
    """Provider metadata read by Airflow's providers manager (entry point `apache_airflow_provider`)."""
    auth0, webhook = "Auth0 Management API", "Webhook"
    return {
        "package-name": DISTRIBUTION,
        "name": "Auth0 Webhooks",
        "description": "Ships Auth0 tenant logs to a webhook: Auth0 hook, LogsToWebhookOperator, DAG.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": auth0, "external-doc-url": "https://auth0.com/docs/api/management/v2/logs/get-logs",
             "tags": ["service"]},
            {"integration-name": webhook, "external-doc-url": "https://www.standardwebhooks.com/",
             "tags": ["protocol"]},
        ],
        "hooks": [{"integration-name": auth0, "python-modules": ["auth0_webhooks.hooks.auth0"]},
                  {"integration-name": webhook, "python-modules": ["auth0_webhooks.hooks.webhook"]}],
        "operators": [{"integration-name": webhook, "python-modules": ["auth0_webhooks.operators.logs_to_webhook"]}],
        "triggers": [{"integration-name": auth0, "python-modules": ["auth0_webhooks.triggers.new_logs"]}],
        "connection-types": [
            {"connection-type": conn_type, "hook-class-name": hook, "hook-name": name,
             "ui-field-behaviour": {key: FORMS[conn_type][key] for key in ("hidden-fields", "relabeling",
                                                                           "placeholders")},
             "conn-fields": FORMS[conn_type]["conn-fields"]}
            for conn_type, (hook, name) in _HOOKS.items()
        ],
    }
