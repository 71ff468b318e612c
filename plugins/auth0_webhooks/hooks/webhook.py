"""WebhookHook: the `auth0_webhook` connection (type `http` works) turned into a WebhookSender."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from auth0_webhooks.hooks import DeclaredForm
from auth0_webhooks.names import WEBHOOK_CONN_ID
from auth0_webhooks.webhook_client import WebhookSender


class WebhookConfigError(ValueError):
    """The webhook connection is missing something or holds a wrong value."""


def webhook_url(host: str | None, schema: str | None, port: int | None, conn_type: str | None,
                conn_id: str = WEBHOOK_CONN_ID) -> str:
    """The URL to POST to, from connection fields."""
    host = (host or "").strip()
    if not host:
        raise WebhookConfigError(f"Connection {conn_id!r} has no host: put the webhook's full URL there")
    if "://" in host:
        return host
    schema = (schema or "").strip()
    scheme = schema if schema in ("http", "https") else (conn_type if conn_type in ("http", "https") else "https")
    path = "" if schema in ("", "http", "https") else "/" + schema.lstrip("/")
    return f"{scheme}://{host}{f':{port}' if port else ''}{path}"


def _secrets(value: Any, conn_id: str) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        # The value may be a secret: only its type is shown.
        raise WebhookConfigError(f"Connection {conn_id!r}: extra 'signing_secret' is a {type(value).__name__}; "
                                 "expected a string or a list of strings")
    return value


def _number(extra: dict, key: str, default: float, low: float, high: float, conn_id: str) -> float:
    value = extra.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not low <= number <= high:
        raise WebhookConfigError(f"Connection {conn_id!r}: extra {key}={value!r} is not allowed: "
                                 f"expected a number from {low:g} to {high:g}")
    return number


class WebhookHook(DeclaredForm, BaseHook):
    """
    Sends logs to the user's webhook: :meth:`get_conn` returns a :class:`~auth0_webhooks.webhook_client.WebhookSender`.

    The connection (id and type ``auth0_webhook``, or type ``http``; the form is :meth:`get_ui_field_behaviour`
    and :meth:`get_conn_fields`):

    - **Webhook URL** (``host``): the full URL, path and query kept; a bare host is built as HttpHook does.
    - **Authorization header** (``password``): sent verbatim as ``Authorization``; empty: no header.
    - Extras, all optional: ``timeout`` (seconds, 1 to 300, default 30); ``max_attempts`` (tries inside one task
      try, 1 to 20, default 5); ``headers`` (a JSON object); ``signing_secret`` (``whsec_...``, several while rotating).

    :param webhook_conn_id: id of the webhook connection; default ``auth0_webhook``.
    """

    conn_name_attr = "webhook_conn_id"
    default_conn_name = WEBHOOK_CONN_ID
    conn_type = "auth0_webhook"
    hook_name = "Auth0 logs webhook"

    def __init__(self, webhook_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.webhook_conn_id = webhook_conn_id

    def get_conn(self) -> WebhookSender:
        """A sender configured from the connection; secrets are registered with Airflow's masker."""
        conn = self.get_connection(self.webhook_conn_id)
        extra = conn.extra_dejson
        conn_id = self.webhook_conn_id
        headers = extra.get("headers") or {}
        if not isinstance(headers, dict):
            raise WebhookConfigError(f"Connection {conn_id!r}: extra headers={headers!r} is not allowed: "
                                     'expected a JSON object such as {"X-Source": "auth0"}')
        secrets = _secrets(extra.get("signing_secret"), conn_id)
        for secret in filter(None, [conn.password, *secrets]):
            mask_secret(secret)
        if conn.password and ("\n" in conn.password or "\r" in conn.password):
            raise WebhookConfigError(f"Connection {conn_id!r}: the Authorization value (password) "
                                     "contains a line break; remove it")
        return WebhookSender(
            url=webhook_url(conn.host, conn.schema, conn.port, conn.conn_type, conn_id),
            authorization=conn.password or None,
            signing_secrets=secrets,
            headers={str(k): str(v) for k, v in headers.items()},
            timeout=_number(extra, "timeout", 30.0, 1.0, 300.0, conn_id),
            max_attempts=int(_number(extra, "max_attempts", 5, 1, 20, conn_id)),
        )
