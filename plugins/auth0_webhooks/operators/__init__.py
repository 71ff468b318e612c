"""Airflow operators of the provider."""

from auth0_webhooks.operators.logs_to_webhook import LogsToWebhookOperator

__all__ = ["LogsToWebhookOperator"]
