"""Auth0Hook: an Auth0 connection (type `auth0`) turned into a Management API logs client."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook

from auth0_webhooks.auth0_client import Auth0Credentials, Auth0LogsClient
from auth0_webhooks.hooks import DeclaredForm
from auth0_webhooks.names import AUTH0_CONN_ID
from auth0_webhooks.token_cache import FileTokenCache, TokenCache


def extra_field(extra: dict[str, Any], conn_type: str, name: str) -> Any:
    """A connection extra written bare (`audience`) or with the UI's prefix (`extra__auth0__audience`)."""
    value = extra.get(name)
    return value if value not in (None, "") else extra.get(f"extra__{conn_type}__{name}")


class Auth0Hook(DeclaredForm, BaseHook):
    """
    Reads Auth0 tenant logs: :meth:`get_conn` returns an :class:`~auth0_webhooks.auth0_client.Auth0LogsClient`.

    The connection (type ``auth0``; its form is :meth:`get_ui_field_behaviour` and :meth:`get_conn_fields`):

    - **Domain** (``host``): ``your-tenant.eu.auth0.com``, or a base URL such as ``http://127.0.0.1:8089``.
    - **Client ID** (``login``), **Client Secret** (``password``): a machine-to-machine application with ``read:logs``.
    - **Audience** (extra ``audience``): optional; default ``https://{domain}/api/v2/``.

    :param auth0_conn_id: id of the Auth0 connection; default ``auth0_default``.
    :param token_cache: where access tokens are kept; default a :class:`~auth0_webhooks.token_cache.FileTokenCache`.
    """

    conn_name_attr = "auth0_conn_id"
    default_conn_name = AUTH0_CONN_ID
    conn_type = "auth0"
    hook_name = "Auth0"

    def __init__(self, *, auth0_conn_id: str = default_conn_name, token_cache: TokenCache | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.auth0_conn_id = auth0_conn_id
        self.token_cache = token_cache
        self._client: Auth0LogsClient | None = None

    def credentials(self) -> Auth0Credentials:
        """The connection's fields as Auth0Credentials."""
        conn = self.get_connection(self.auth0_conn_id)
        audience = extra_field(conn.extra_dejson, self.conn_type, "audience")
        return Auth0Credentials.from_domain(conn.host or "", conn.login or "", conn.password or "", audience)

    def get_conn(self) -> Auth0LogsClient:
        """A logs client for this connection (one per hook)."""
        if self._client is None:
            self._client = Auth0LogsClient(self.credentials(), token_cache=self.token_cache or FileTokenCache())
        return self._client

    def test_connection(self) -> tuple[bool, str]:
        """Get a token and read the newest log: the Connections page's Test button."""
        try:
            client = Auth0LogsClient(self.credentials(), max_attempts=2, max_rate_limit_wait=10)
        except Exception as error:  # noqa: BLE001 - reported to the user as the test's result
            return False, str(error)
        return client.check()
