"""Airflow hooks: Auth0 (Management API logs) and the webhook the logs are sent to."""
