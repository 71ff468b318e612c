"""Airflow's distributed shape (CeleryExecutor, PostgreSQL, Redis) started natively, for the
integration test (tests/integration/): the processes docker-compose.yaml runs, with the shared
settings of `celery.env`, pointed at a database and a Redis database number of their own.

- `ensure_postgres()` / `ensure_redis()`: use the machine's services, start them if they are
  stopped, install them (apt-get) if they are missing; `ServiceUnavailable` when none can be had.
- `TestDatabase`: a PostgreSQL database with a unique name, dropped afterwards.
- `RedisDatabase`: a free Redis database number (1-15), claimed, flushed before and after.
- `DistributedAirflow`: `airflow db migrate`, then api-server, scheduler, dag-processor,
  triggerer and Celery workers, each in a session (and process group) of its own, on free ports;
  `Component.kill()` SIGKILLs one with every task it runs, `stop()` ends them all.
- `worker_hostname`: an `[core] hostname_callable` that names a worker after `WORKER_NAME_VARIABLE`,
  so that TaskInstance.hostname tells which of several workers on one machine ran a task.
"""

from __future__ import annotations

import configparser
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import requests
from cryptography.fernet import Fernet

from auth0_webhooks_devtools.standalone import REPO, free_port, kill_session, session_members, standalone_environment, \
    wait_until
from auth0_webhooks_devtools.standalone import stop as stop_group
from auth0_webhooks_devtools.trigger import AirflowApi

CELERY_ENV = REPO / "celery.env"
POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
WORKER_NAME_VARIABLE = "AUTH0_WEBHOOKS_WORKER_NAME"
HOSTNAME_CALLABLE = f"{__name__}.worker_hostname"
AIRFLOW = str(Path(sys.executable).parent / "airflow")

Say = Callable[[str], None]


class ServiceUnavailable(RuntimeError):
    """PostgreSQL or Redis is not running and could not be started or installed."""


def worker_hostname() -> str:
    """`[core] hostname_callable` for workers: the name in WORKER_NAME_VARIABLE, else the FQDN."""
    return os.environ.get(WORKER_NAME_VARIABLE) or socket.getfqdn()


def read_env_file(path: Path = CELERY_ENV) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines skipped), as docker compose's env_file reads them."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE, got {line!r}")
        value = value.strip()
        if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_of_name(name: str, prefix: str) -> int | None:
    """The pid in a name `<prefix><pid>_<random>`, or None."""
    pid = name[len(prefix):].partition("_")[0] if name.startswith(prefix) else ""
    return int(pid) if pid.isdigit() else None


# ---- the services ----


def _run(command: list[str], say: Say, timeout: float = 900) -> subprocess.CompletedProcess:
    say("$ " + shlex.join(command))
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, check=False)


def _apt_install(package: str, say: Say) -> None:
    if not shutil.which("apt-get"):
        raise ServiceUnavailable(f"{package} is not installed and this machine has no apt-get to install it")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        done = _run(command, say)
        if done.returncode != 0:
            raise ServiceUnavailable(f"`{shlex.join(command)}` failed ({done.returncode}); cannot install "
                                     f"{package}:\n{(done.stdout + done.stderr)[-2000:]}")


def _start(service: str, command: list[str], ready: Callable[[], bool], address: str, say: Say,
           timeout: float) -> None:
    """Run the command that starts `service`; wait until `ready()`, else ServiceUnavailable."""
    done = _run(command, say)
    if done.returncode != 0 and not ready():
        raise ServiceUnavailable(f"{service} would not start ({done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")
    try:
        wait_until(ready, timeout=timeout, what=f"{service} on {address}")
    except AssertionError:
        raise ServiceUnavailable(f"{service} did not answer on {address} within {timeout:.0f} s") from None


def postgres_connect(database: str = "postgres", timeout: int = 3):
    """A psycopg2 connection (autocommit) as the `postgres` user, trust auth, on 127.0.0.1:5432."""
    import psycopg2

    connection = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname=database,
                                  connect_timeout=timeout)
    connection.autocommit = True
    return connection


def _answers(probe: Callable[[], Any], errors: tuple[type[BaseException], ...]) -> bool:
    """Whether `probe()` runs without one of `errors` (a service answers)."""
    try:
        probe()
        return True
    except errors:
        return False


def postgres_ready() -> bool:
    import psycopg2

    return _answers(lambda: postgres_connect().close(), (psycopg2.OperationalError,))


def ensure_postgres(say: Say = print, timeout: float = 60) -> str:
    """PostgreSQL on 127.0.0.1:5432: running, started, or installed and started. Returns which."""
    if postgres_ready():
        return "running"
    how = "started"
    clusters = Path("/etc/postgresql")
    if not shutil.which("pg_ctlcluster") or not clusters.is_dir() or not any(clusters.iterdir()):
        _apt_install("postgresql", say)
        how = "installed and started"
    versions = sorted((p.name for p in clusters.iterdir()) if clusters.is_dir() else [],
                      key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])
    if not versions:
        raise ServiceUnavailable("PostgreSQL is installed but /etc/postgresql holds no cluster")
    _start(f"PostgreSQL {versions[-1]}", ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
           postgres_ready, f"{POSTGRES_HOST}:{POSTGRES_PORT}", say, timeout)
    return how


def redis_client(number: int = 0):
    import redis

    return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5, socket_connect_timeout=3)


def redis_ready() -> bool:
    import redis

    return _answers(lambda: redis_client().ping(), (redis.RedisError,))


def ensure_redis(say: Say = print, timeout: float = 30) -> str:
    """Redis on 127.0.0.1:6379: running, started, or installed and started. Returns which."""
    if redis_ready():
        return "running"
    how = "started"
    if not shutil.which("redis-server"):
        _apt_install("redis-server", say)
        how = "installed and started"
        if redis_ready():  # the package's own service came up
            return how
    for directory in ("/var/lib/redis", "/var/log/redis"):
        os.makedirs(directory, exist_ok=True)
    _start("Redis", ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", str(REDIS_PORT),
                     "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
           redis_ready, f"{REDIS_HOST}:{REDIS_PORT}", say, timeout)
    return how


class TestDatabase:
    """A PostgreSQL database of its own (`auth0_it_<pid>_<random>`); `drop()` removes it, and
    `create()` first drops those left by test processes that no longer exist (killed runs)."""

    PREFIX = "auth0_it_"
    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.name = f"{self.PREFIX}{os.getpid()}_{secrets.token_hex(4)}"

    def url(self, template: str) -> str:
        """`template` (a SQLAlchemy URL, optionally `db+...` as Celery's result backend) pointed at
        this database on 127.0.0.1:5432 as `postgres`: only user, host, port and database change."""
        from sqlalchemy.engine import make_url

        prefix = "db+" if template.startswith("db+") else ""
        url = make_url(template[len(prefix):])._replace(username=POSTGRES_USER, password=None, host=POSTGRES_HOST,
                                                        port=POSTGRES_PORT, database=self.name)
        return prefix + url.render_as_string(hide_password=False)

    def create(self, say: Say = print) -> None:
        for (name,) in self.query("SELECT datname FROM pg_database WHERE datname LIKE %s", (self.PREFIX + "%",),
                                  database="postgres"):
            pid = pid_of_name(name, self.PREFIX)
            if pid is not None and pid != os.getpid() and not _pid_alive(pid):
                say(f"dropping database {name}, left by a test process that no longer runs")
                self.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', database="postgres")
        self.query(f'CREATE DATABASE "{self.name}"', database="postgres")

    def drop(self) -> None:
        self.query(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', database="postgres")

    def query(self, sql: str, args: tuple = (), database: str | None = None) -> list[tuple]:
        """Run one statement (autocommit) in this database, or in `database`; its rows, if any."""
        connection = postgres_connect(database or self.name)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()


class RedisDatabase:
    """A Redis database number among 1-15 for one test: one that is empty, or holds only the claim
    of a test process that no longer exists. It keeps a claim key while in use, so that another
    test never takes it; flushed when claimed and when released."""

    CLAIM_KEY = "auth0_webhooks_devtools:claimed_by"
    NUMBERS = range(1, 16)

    def __init__(self) -> None:
        self.number: int | None = None
        self._claim = f"{os.getpid()}_{secrets.token_hex(4)}"

    def claim(self) -> int:
        for number in self.NUMBERS:
            client = redis_client(number)
            holder = (client.get(self.CLAIM_KEY) or b"").decode()
            stale = holder and not _pid_alive(pid_of_name(holder, "") or 0)
            if (client.dbsize() == 0 or stale) and (stale or client.set(self.CLAIM_KEY, self._claim, nx=True)):
                client.flushdb()
                client.set(self.CLAIM_KEY, self._claim)
                self.number = number
                return number
        raise ServiceUnavailable(f"no free Redis database among {self.NUMBERS.start}-{self.NUMBERS.stop - 1} "
                                 f"on {REDIS_HOST}:{REDIS_PORT}")

    def url(self, template: str) -> str:
        """`template` (a redis:// URL) pointed at this database on 127.0.0.1:6379."""
        return urlunsplit((urlsplit(template).scheme, f"{REDIS_HOST}:{REDIS_PORT}", f"/{self.number}", "", ""))

    def release(self) -> None:
        if self.number is not None:
            client = redis_client(self.number)
            if (client.get(self.CLAIM_KEY) or b"").decode() == self._claim:
                client.flushdb()
            self.number = None


# ---- Airflow ----


def distributed_environment(directory: Path, database: TestDatabase, broker: RedisDatabase, api_port: int,
                            extra: dict[str, str] | None = None, env_file: Path = CELERY_ENV) -> dict[str, str]:
    """The processes' environment: standalone's (a home under `directory`, this checkout's dags/ and
    plugins/, fast re-parsing), then every setting of `env_file`, with only its hosts, ports and
    database names pointed at `database`, `broker` and the API on `api_port`; then `extra`."""
    shared = read_env_file(env_file)
    shared.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database.url(shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
        "AIRFLOW__CELERY__RESULT_BACKEND": database.url(shared["AIRFLOW__CELERY__RESULT_BACKEND"]),
        "AIRFLOW__CELERY__BROKER_URL": broker.url(shared["AIRFLOW__CELERY__BROKER_URL"]),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        # Ports of their own, not the defaults (8794, 8974) that other Airflows on this machine may hold.
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
    })
    env = standalone_environment(directory, api_port, {**shared, **(extra or {})})
    env.pop("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", None)  # the test suite's extra bundle: dags/ only
    return env


@dataclass
class Component:
    """One Airflow process, started as the leader of a new session, and everything it starts: its own
    process group, and the groups Airflow 3.3 gives each task process (for `killpg` from its
    supervisor), which stay in the session. Logs to `log_path`."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def alive(self) -> bool:
        """Whether a process of the session is left (zombies waiting to be reaped do not count)."""
        return bool(session_members(self.process.pid))

    def kill(self) -> None:
        """SIGKILL every process of the session at once, task processes included (a lost machine, a
        killed container); return once none is left. Killing the process group alone would leave the
        task processes sending for up to a second, until they notice that their supervisor is gone."""
        deadline = time.monotonic() + 10
        while self.alive() and time.monotonic() < deadline:
            kill_session(self.process.pid)
            time.sleep(0.02)
        self.process.wait(timeout=30)

    def stop(self, grace: float) -> bool:
        """SIGTERM the process group, SIGKILL the whole session after `grace` seconds (or once the
        leader has exited); True once nothing is left."""
        stop_group(self.process, grace=grace)
        self.kill()
        return not self.alive()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class DistributedAirflow:
    """Airflow's processes on one machine, each started with `start_new_session` (a session and a
    process group of its own)."""

    def __init__(self, directory: Path, environment: dict[str, str]) -> None:
        self.directory, self.env = directory, environment
        self.home = Path(environment["AIRFLOW_HOME"])
        self.url = f"http://127.0.0.1:{environment['AIRFLOW__API__PORT']}"
        self.components: dict[str, Component] = {}
        self.api: AirflowApi | None = None

    def stored_variable(self, database: TestDatabase, key: str) -> str | None:
        """Variable `key` as the metadata database holds it, read with SQL (decrypted with the Fernet
        key that `airflow db migrate` wrote to this home's airflow.cfg); None when there is none."""
        rows = database.query("SELECT val, is_encrypted FROM variable WHERE key = %s", (key,))
        if not rows:
            return None
        value, encrypted = rows[0]
        if not encrypted:
            return value
        config = configparser.ConfigParser(interpolation=None)
        config.read(self.home / "airflow.cfg")
        fernet_key = self.env.get("AIRFLOW__CORE__FERNET_KEY") or config.get("core", "fernet_key")
        return Fernet(fernet_key.encode()).decrypt(value.encode()).decode()

    def migrate(self, timeout: float = 600) -> float:
        """`airflow db migrate`; returns the seconds it took."""
        self.home.mkdir(parents=True, exist_ok=True)
        log_path = self.directory / "db-migrate.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            done = subprocess.run([AIRFLOW, "db", "migrate"], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False, start_new_session=True)
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed ({done.returncode}):\n{log_path.read_text()[-3000:]}")
        return time.monotonic() - started

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Component:
        """Start `airflow <args>` as component `name`, in a new session, logging to <name>.log."""
        log_path = self.directory / f"{name}.log"
        process = subprocess.Popen([AIRFLOW, *args], env={**self.env, **(env or {})}, stdout=log_path.open("wb"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.components[name] = Component(name, process, log_path)
        return self.components[name]

    def start_services(self) -> None:
        """api-server, scheduler, dag-processor, triggerer."""
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            self.start(name, name)

    def start_worker(self, name: str, concurrency: int) -> Component:
        """A Celery worker `name@<host>` whose tasks report TaskInstance.hostname `name`, with a log
        server on a port of its own."""
        return self.start(name, "celery", "worker", "--concurrency", str(concurrency), "--celery-hostname",
                          f"{name}@%h", env={
                              "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                              "AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE,
                              WORKER_NAME_VARIABLE: name,
                          })

    def wait_for_worker(self, name: str, timeout: float = 180) -> None:
        """Until Celery worker `name` says it is ready (its log's `<name>@<host> ready.`)."""
        worker = self.components[name]
        self._wait(lambda: f"{name}@" in (text := worker.log_tail(200_000)) and " ready." in text, worker,
                   f"worker {name} to be ready", timeout)

    def wait_for_api(self, timeout: float = 240) -> AirflowApi:
        """Until the API server answers and has written the admin password; log in."""
        password_file = self.home / "simple_auth_manager_passwords.json.generated"

        def answers() -> bool:
            try:
                return requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).ok and password_file.exists()
            except requests.RequestException:
                return False

        self._wait(answers, self.components["api-server"], "the API server to answer", timeout)
        self.api = AirflowApi(self.url, "admin", json.loads(password_file.read_text())["admin"])
        return self.api

    def _wait(self, check: Callable[[], bool], component: Component, what: str, timeout: float) -> None:
        def done() -> bool:
            if not component.running():
                raise RuntimeError(f"{component.name} exited ({component.process.returncode}):\n{component.log_tail()}")
            return check()

        try:
            wait_until(done, timeout=timeout, what=what)
        except AssertionError:
            raise RuntimeError(f"timed out waiting for {what}:\n{component.log_tail()}") from None

    def stop(self, grace: float = 20) -> list[str]:
        """SIGTERM every component's process group, SIGKILL whatever is left of its session after
        `grace` seconds; returns the names of components with a process still alive (none, normally)."""
        for component in self.components.values():
            try:
                os.killpg(component.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        return [component.name for component in self.components.values()
                if not component.stop(grace=max(0.0, deadline - time.monotonic()))]
