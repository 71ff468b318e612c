# Airflow image with this provider installed (its entry point registers the `auth0` connection type).
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:0 pyproject.toml README.md /opt/auth0-webhooks/
COPY --chown=airflow:0 plugins /opt/auth0-webhooks/plugins
RUN pip install --no-cache-dir /opt/auth0-webhooks
