#!/usr/bin/env bash
# The local demo: install everything, start the Auth0 emulator, the webhook receiver and
# `airflow standalone` with this project's DAGs, plugins and airflow_settings.yaml, trigger one
# run of auth0_logs_to_webhook, and show what the webhook received and where the UI is.
# Everything lives under .demo/ in the repository. Ctrl-C stops it all.
#   --once    stop everything after the first run has been shown (exit code = run result)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
ONCE=false
[ "${1:-}" = "--once" ] && ONCE=true

bash scripts/bootstrap.sh
source .venv/bin/activate

DEMO=$REPO/.demo
rm -rf "$DEMO"  # a fresh Airflow home each time: the emulator's logs are new too
mkdir -p "$DEMO"
export AIRFLOW_HOME=$DEMO/airflow
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$REPO/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__TEST_CONNECTION=Enabled
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=10
export AIRFLOW__API__PORT=${AIRFLOW_PORT:-8080}
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://localhost:$AIRFLOW__API__PORT/execution/
export AUTH0_WEBHOOKS_TOKEN_CACHE=$DEMO/token-cache
UI=http://localhost:$AIRFLOW__API__PORT

for port in 8089 8090 8091 "$AIRFLOW__API__PORT" 8793 8794; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port is already in use (another demo still running?); stop it first" >&2; exit 1
  fi
done

pids=()
cleanup() {  # every service runs in its own session: stop the whole process group
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 2
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

start() {  # name, command...: run in the background in a new session, output to .demo/<name>.log
  local name=$1; shift
  setsid "$@" >"$DEMO/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() {  # url, seconds, what
  for _ in $(seq "$2"); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 1
  done
  echo "error: $3 did not come up; see $DEMO/*.log" >&2; exit 1
}

echo "==> Auth0 emulator on :8089 (5,000 logs, then 20 new logs every 30 s)"
start emulator python -m auth0_webhooks_devtools.emulator --port 8089 --logs 5000 --seed 42 \
  --client-id demo-client-id --client-secret demo-client-secret --add-every 30 --add-count 20
echo "==> Webhook receiver on :8090, Slack stand-in on :8091"
start receiver python -m auth0_webhooks_devtools.receiver --port 8090 --expected-authorization "Bearer demo-webhook-token" \
  --signing-secret whsec_ZGVtby1zaWduaW5nLXNlY3JldC0wMTIzNDU2Nzg5
start slack python -m auth0_webhooks_devtools.receiver --port 8091
wait_for http://127.0.0.1:8089/__emulator/stats 30 "the emulator"
wait_for http://127.0.0.1:8090/__receiver/stats 30 "the receiver"

echo "==> Airflow metadata database and settings (airflow_settings.yaml)"
airflow db migrate >"$DEMO/db-migrate.log" 2>&1
auth0-webhooks-settings airflow_settings.yaml | sed 's/^/    /'  # Airflow now matches the file

echo "==> airflow standalone on $UI (first start takes a minute)"
start airflow airflow standalone
wait_for "$UI/api/v2/monitor/health" 180 "airflow standalone"
PASSWORD_FILE=$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
for _ in $(seq 60); do [ -s "$PASSWORD_FILE" ] && break; sleep 1; done
PASSWORD=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" "$PASSWORD_FILE")

echo "==> Unpausing auth0_logs_to_webhook"
status=0
python -m auth0_webhooks_devtools.trigger --url "$UI" --user admin --password "$PASSWORD" \
  --dag-id auth0_logs_to_webhook --receiver http://127.0.0.1:8090 --slack http://127.0.0.1:8091 --timeout 600 || status=$?

cat <<EOF

Airflow UI:  $UI   (user: admin, password: $PASSWORD)
Run history: $UI/plugin/auth0-run-history   (Browse > Auth0 run history)
Receiver:    http://127.0.0.1:8090/__receiver/inspect   (every request the webhook got, headers and bodies)
Slack posts: http://127.0.0.1:8091/__receiver/inspect   (the Block Kit messages)
Logs:        $DEMO/*.log
EOF
if $ONCE; then exit $status; fi
echo "The DAG now runs every 5 minutes; the emulator keeps adding logs. Ctrl-C stops everything."
wait
