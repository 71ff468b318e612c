"""Throughput, memory and latency benchmarks of the `auth0_logs_to_webhook` DAG under a real
`airflow standalone` (LocalExecutor, SQLite), with the Auth0 emulator and the webhook receiver on
loopback. Run `./benchmarks/run.sh --help`; see benchmarks/README.md."""
