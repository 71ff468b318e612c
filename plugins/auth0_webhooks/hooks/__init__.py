"""Airflow hooks: Auth0 (Management API logs) and the webhook the logs are sent to."""

from __future__ import annotations

from typing import Any

from auth0_webhooks import conn_fields, ui_field_behaviour


class DeclaredForm:
    """A hook whose connection form is declared once, in `auth0_webhooks.FORMS` (provider info registers it)."""

    conn_type: str

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return custom field behaviour: the form's hidden, relabelled and prefilled fields."""
        return ui_field_behaviour(cls.conn_type)

    @classmethod
    def get_conn_fields(cls) -> dict[str, dict[str, Any]]:
        """Return the form's extra fields, as provider info's ``conn-fields`` declares them."""
        return conn_fields(cls.conn_type)
