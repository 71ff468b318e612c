# The project's Airflow image: the official apache/airflow image with this provider installed with its
# [celery] extra (Celery provider, celery, psycopg2, asyncpg at the versions pyproject.toml pins) and the
# DAG baked into the image's dags folder. docker-compose.yaml builds two targets:
#   airflow    every Airflow service (api-server, scheduler, dag-processor, worker, triggerer, init)
#   devtools   airflow + the dev tools (Auth0 emulator, webhook receiver): the compose profile `tryout`
#   docker build --target airflow -t auth0-webhooks-airflow .
FROM apache/airflow:3.3.2-python3.11 AS airflow

# The image runs as `airflow` (uid 50000, group 0) and must also work under any other uid with group 0:
# everything added here belongs to airflow:0.
COPY --chown=airflow:0 pyproject.toml README.md /opt/auth0-webhooks/
COPY --chown=airflow:0 plugins/auth0_webhooks /opt/auth0-webhooks/plugins/auth0_webhooks

# "apache-airflow==${AIRFLOW_VERSION}" keeps pip from moving the image's Airflow, as the image's docs ask
# (pyproject.toml pins the same 3.3.2). The import check fails the build, not the first task, when the
# Celery provider cannot be imported (celery 5.7.0 breaks it); it runs in a throw-away AIRFLOW_HOME so that
# no airflow.cfg with generated secrets is left in the image.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/auth0-webhooks[celery]" \
    && AIRFLOW_HOME=/tmp/build-check AIRFLOW_CONFIG=/tmp/build-check/airflow.cfg \
       python -c "import airflow.providers.celery.executors.celery_executor, auth0_webhooks" \
    && rm -rf /tmp/build-check \
    && mkdir -p -m 0770 /opt/airflow/auth0_webhooks

# The DAG is copied into the image rather than mounted: every container (a worker scaled out to another
# host included) then runs the same DAG as the provider code it imports, in one versioned artefact, and
# no host directory's ownership has to match the container's uid. Rebuild to change it.
COPY --chown=airflow:0 dags/auth0_logs_to_webhook.py /opt/airflow/dags/auth0_logs_to_webhook.py


FROM airflow AS devtools

# The dev tools distribution (console scripts auth0-emulator, auth0-webhook-receiver); its dependency
# airflow-provider-auth0-webhooks is already installed above. Never in the `airflow` target.
COPY --chown=airflow:0 devtools/pyproject.toml /opt/auth0-webhooks-devtools/
COPY --chown=airflow:0 devtools/auth0_webhooks_devtools /opt/auth0-webhooks-devtools/auth0_webhooks_devtools
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/auth0-webhooks-devtools
