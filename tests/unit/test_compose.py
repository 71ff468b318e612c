"""docker-compose.yaml, Dockerfile, .dockerignore and celery.env, checked without a Docker engine.

Spec: Airflow 3's official docker-compose.yaml (services, healthchecks, depends_on conditions, init),
the image built from ./Dockerfile with this provider and its [celery] extra, the distributed shape's
settings in celery.env, and the rule that the checkpoint Variable is never set through the environment.
When `docker compose` (v2) is installed, the last test also lets it validate the file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
CELERY_ENV = REPO / "celery.env"

AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init"]
INIT = "airflow-init"
TRYOUT_SETTINGS = "tryout-settings"
ONE_SHOT = {INIT, TRYOUT_SETTINGS}  # run to completion: no healthcheck, no restart
OFFICIAL_SERVICES = ["postgres", "redis", *AIRFLOW_SERVICES]
TRYOUT_PROFILE = "tryout"
TRYOUT_TOOLS = {"auth0-emulator": "auth0_webhooks_devtools.emulator",
                "auth0-webhook-receiver": "auth0_webhooks_devtools.receiver"}
SETTINGS_IN_CONTAINER = "/opt/airflow/airflow_settings.yaml"
CHECKPOINT_VARIABLE = "auth0_webhooks_checkpoint"
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


# -- reading the files ------------------------------------------------------------------------

def load_compose() -> dict:
    with COMPOSE_FILE.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)  # PyYAML resolves the `<<: *anchor` merge keys


COMPOSE = load_compose()
SERVICES: dict[str, dict] = COMPOSE["services"]


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a KEY=VALUE line: {line!r}"
        values[key.strip()] = value.strip()
    return values


CELERY = read_env_file(CELERY_ENV)


def dockerfile_stages() -> list[dict]:
    """[{"from": image, "name": stage name or None, "instructions": [(KEYWORD, arguments)]}]."""
    logical, pending = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.lstrip().startswith("#"):  # a comment inside a continued instruction
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        logical.append((pending + raw).strip())
        pending = ""
    stages: list[dict] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", arguments.strip(), re.IGNORECASE)
            assert match, f"unreadable FROM line: {line!r}"
            stages.append({"from": match.group(1), "name": match.group(2), "instructions": []})
        elif keyword != "ARG" or stages:
            assert stages, f"instruction before the first FROM: {line!r}"
            stages[-1]["instructions"].append((keyword, arguments.strip()))
    return stages


STAGES = dockerfile_stages()
STAGE_NAMES = {stage["name"]: stage for stage in STAGES if stage["name"]}


def runs(stage: dict) -> list[str]:
    return [arguments for keyword, arguments in stage["instructions"] if keyword == "RUN"]


def copies(stage: dict) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY of the build context (not --from another stage)."""
    found = []
    for keyword, arguments in stage["instructions"]:
        if keyword != "COPY":
            continue
        words = arguments.split()
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        found.append((paths[:-1], paths[-1]))
    return found


def interpolate_defaults(text: str) -> str:
    """What compose makes of ${VAR:-default} / ${VAR-default} / ${VAR} when VAR is not set."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", text)


def env_files(service: dict) -> list[str]:
    value = service.get("env_file") or []
    items = [value] if isinstance(value, (str, dict)) else value
    return [item["path"] if isinstance(item, dict) else item for item in items]


def environment(service: dict) -> dict[str, str]:
    value = service.get("environment") or {}
    if isinstance(value, list):
        return dict(item.partition("=")[::2] for item in value)
    return {key: "" if item is None else str(item) for key, item in value.items()}


def build(service: dict) -> dict:
    value = service.get("build")
    return {"context": value} if isinstance(value, str) else dict(value or {})


def command_text(value) -> str:
    return " ".join(value) if isinstance(value, list) else str(value or "")


def volume_specs(service: dict) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each short-syntax entry; long syntax is mapped to the same."""
    specs = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            specs.append((entry.get("source", ""), entry["target"], "ro" if entry.get("read_only") else "rw"))
            continue
        parts = interpolate_defaults(entry).split(":")
        source, target = parts[0], parts[1]
        specs.append((source, target, parts[2] if len(parts) > 2 else "rw"))
    return specs


def is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def airflow_stage() -> dict:
    return STAGES[0]


def tryout_services() -> dict[str, dict]:
    return {name: s for name, s in SERVICES.items() if TRYOUT_PROFILE in (s.get("profiles") or [])}


def tryout_tools() -> dict[str, dict]:
    """The try-out services that run a dev tool (emulator, receiver), by service name."""
    return {name: s for name, s in tryout_services().items()
            if (command_text(s.get("entrypoint")).split() or [""])[0] in TRYOUT_TOOLS}


def airflow_clients() -> dict[str, dict]:
    """Every service that runs Airflow code on the metadata database (it reads celery.env)."""
    return {name: s for name, s in SERVICES.items() if "celery.env" in env_files(s)}


def host_names() -> set[str]:
    """What a container can reach by name: the services and their network aliases."""
    names = set(SERVICES)
    for service in SERVICES.values():
        networks = service.get("networks")
        for network in networks.values() if isinstance(networks, dict) else []:
            names.update((network or {}).get("aliases") or [])
    return names


# -- the services -----------------------------------------------------------------------------

def test_the_official_services_exist():
    missing = [name for name in OFFICIAL_SERVICES if name not in SERVICES]
    assert not missing, f"docker-compose.yaml lacks {missing}"
    for name in OFFICIAL_SERVICES:
        assert not SERVICES[name].get("profiles"), f"{name} must start with a plain `docker compose up`"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_run_the_built_image_with_celery_env(name):
    service = SERVICES[name]
    spec = build(service)
    assert (REPO / spec["context"]).resolve() == REPO, f"{name}: build context is not the repository"
    assert (REPO / spec["context"] / spec.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    # A multi-stage Dockerfile builds its last stage (devtools) unless told otherwise.
    assert spec.get("target") == airflow_stage()["name"], f"{name}: build target must be the Airflow stage"
    assert service["image"] == SERVICES["airflow-apiserver"]["image"], f"{name}: one image for every Airflow service"
    assert env_files(service) == ["celery.env"], f"{name}: the common environment comes from celery.env"


def test_compose_adds_only_what_celery_env_does_not_set():
    assert set(AIRFLOW_SERVICES) <= set(airflow_clients())
    for name in airflow_clients():
        doubled = sorted(set(environment(SERVICES[name])) & set(CELERY))
        assert not doubled, f"{name} sets again what celery.env sets (one place for each setting): {doubled}"


def test_airflow_services_share_one_airflow_cfg():
    """Workers call the api-server's execution API with JWTs signed by the scheduler: every Airflow
    service needs the same [api_auth] jwt_secret, or each task fails with "Invalid auth token: Signature
    verification failed" (apache/airflow#49646); and the same fernet key, or the connection passwords one
    of them stores cannot be read by the others. Here they read one airflow.cfg from a shared volume."""
    configs = {}  # service -> (named volume, path in it) of its airflow.cfg
    for name in airflow_clients():
        env = environment(SERVICES[name])
        assert not env.get("AIRFLOW__API_AUTH__JWT_SECRET"), "one way of sharing the secrets, not two"
        config = env.get("AIRFLOW_CONFIG", "")
        assert config, f"{name}: no shared AIRFLOW_CONFIG"
        shared = [(source, config[len(target.rstrip("/")):]) for source, target, _ in volume_specs(SERVICES[name])
                  if not is_bind(source) and config.startswith(target.rstrip("/") + "/")]
        assert shared, f"{name}: {config} is not on a named volume"
        configs[name] = shared[0]
    assert len(set(configs.values())) == 1, f"not one airflow.cfg for all: {configs}"


def test_every_service_but_the_one_shots_has_a_healthcheck():
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service.get("restart", "no") == "no", f"{name} runs once"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_depends_on_names_existing_services_with_valid_conditions():
    for name, service in SERVICES.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, rule in depends.items():
            assert target in SERVICES, f"{name} depends on unknown service {target}"
            condition = (rule or {}).get("condition", "service_started")
            assert condition in CONDITIONS, f"{name} -> {target}: invalid condition {condition}"
            if condition == "service_healthy":
                assert SERVICES[target].get("healthcheck"), f"{name} waits for {target} healthy: no healthcheck"
            if condition == "service_completed_successfully":
                assert SERVICES[target].get("restart", "no") == "no", f"{target} must run once, not restart"
            if not service.get("profiles"):
                assert not SERVICES[target].get("profiles"), f"{name} depends on {target}, only in a profile"
    for name in AIRFLOW_SERVICES:
        depends = SERVICES[name].get("depends_on") or {}
        assert {"postgres", "redis"} <= set(depends), f"{name} must wait for postgres and redis"
        if name != INIT:
            assert depends[INIT]["condition"] == "service_completed_successfully", f"{name} must wait for init"


def test_mounted_host_paths_exist_and_named_volumes_are_declared():
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for source, target, _ in volume_specs(service):
            if is_bind(source):
                assert (REPO / source).exists(), f"{name}: {source} (mounted at {target}) is not in the repository"
            else:
                assert source in declared, f"{name}: named volume {source} is not declared"
        for path in env_files(service):
            assert (REPO / path).is_file(), f"{name}: env_file {path} does not exist"
        if service.get("build"):
            assert (REPO / build(service)["context"]).is_dir()


def test_logs_are_on_a_volume_every_airflow_service_mounts():
    for name in AIRFLOW_SERVICES:
        targets = {target: source for source, target, _ in volume_specs(SERVICES[name])}
        assert "/opt/airflow/logs" in targets, f"{name}: no logs volume"
        assert not is_bind(targets["/opt/airflow/logs"]), f"{name}: logs belong in a named volume"


def test_the_settings_file_is_mounted_read_only_into_the_one_shots_only():
    for name, service in SERVICES.items():
        mounts = [(source, mode) for source, target, mode in volume_specs(service) if target == SETTINGS_IN_CONTAINER]
        if name in ONE_SHOT:
            assert mounts, f"{name} does not mount airflow_settings.yaml"
            assert mounts[0][1] == "ro", "airflow_settings.yaml must be mounted read-only"
            assert (REPO / mounts[0][0]).is_file()
        else:
            assert not mounts, f"{name} does not need the settings file (it may hold credentials)"


def test_init_migrates_the_database_creates_the_admin_and_applies_the_settings():
    init = SERVICES[INIT]
    script = command_text(init.get("command")) + " " + command_text(init.get("entrypoint"))
    assert "airflow db migrate" in script
    assert f"auth0-webhooks-settings {SETTINGS_IN_CONTAINER}" in script
    assert script.index("airflow db migrate") < script.index("auth0-webhooks-settings"), "settings need the schema"
    env = environment(init)
    assert env.get("_AIRFLOW_WWW_USER_CREATE") == "true", "the admin user is created as the official file does"
    assert env.get("_AIRFLOW_WWW_USER_USERNAME") and env.get("_AIRFLOW_WWW_USER_PASSWORD")
    assert "auth0-webhooks-settings" in (REPO / "pyproject.toml").read_text(encoding="utf-8"), \
        "the console script must be declared in pyproject.toml"


def test_workers_can_be_scaled():
    worker = SERVICES["airflow-worker"]
    assert "celery worker" in command_text(worker["command"])
    assert "container_name" not in worker and "hostname" not in worker, "--scale needs one name per container"
    assert not worker.get("ports"), "--scale cannot publish one host port twice"


# -- celery.env -------------------------------------------------------------------------------

def test_celery_env_sets_the_distributed_shape():
    assert CELERY["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    database = urlsplit(CELERY["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert database.scheme == "postgresql+psycopg2"
    assert database.hostname in SERVICES
    # Celery's database backend takes the SQLAlchemy URL after "db+", driver included.
    backend = CELERY["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql+psycopg2://")
    assert urlsplit(backend[len("db+"):]).hostname in SERVICES
    broker = urlsplit(CELERY["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis"


def test_execution_api_url_points_at_the_api_server():
    url = urlsplit(CELERY["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver" and url.hostname in SERVICES
    assert url.path == "/execution/"
    server = SERVICES["airflow-apiserver"]
    assert command_text(server["command"]).split()[0] == "api-server"
    # The api-server listens on 8080 unless AIRFLOW__API__PORT or --port says otherwise.
    listens = int(environment(server).get("AIRFLOW__API__PORT") or CELERY.get("AIRFLOW__API__PORT") or 8080)
    assert "--port" not in command_text(server["command"])
    assert url.port == listens
    published = [str(port).rsplit(":", 1)[-1] for port in server.get("ports") or []]
    assert str(listens) in published
    assert f"localhost:{listens}" in command_text(server["healthcheck"]["test"])


# -- Dockerfile and .dockerignore ---------------------------------------------------------------

def test_dockerfile_extends_the_official_image_with_the_celery_extra():
    base = airflow_stage()
    assert base["from"].startswith("apache/airflow:3.3.2"), base["from"]
    installs = [run for run in runs(base) if "pip install" in run]
    assert any('"/opt/auth0-webhooks[celery]"' in run or " /opt/auth0-webhooks[celery]" in run for run in installs)
    sources = {source for paths, destination in copies(base) if destination.startswith("/opt/auth0-webhooks/")
               for source in paths}
    assert {"pyproject.toml", "plugins/auth0_webhooks"} <= sources
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r"^celery\s*=\s*\[", text, re.MULTILINE), "pyproject.toml has no [celery] extra"


def test_the_dag_is_baked_into_the_image():
    destinations = {destination for paths, destination in copies(airflow_stage())
                    if "dags/auth0_logs_to_webhook.py" in paths}
    assert destinations and all(d.startswith("/opt/airflow/dags/") for d in destinations)


def test_devtools_stage_builds_on_the_airflow_stage():
    devtools = STAGE_NAMES.get("devtools")
    assert devtools, "no `FROM ... AS devtools` stage"
    assert devtools["from"] == airflow_stage()["name"]
    copied = {source for paths, _ in copies(devtools) for source in paths}
    assert "devtools/auth0_webhooks_devtools" in copied
    assert any("pip install" in run and "auth0-webhooks-devtools" in run for run in runs(devtools))
    base_copies = {source for paths, _ in copies(airflow_stage()) for source in paths}
    assert not any(source.startswith("devtools") for source in base_copies), "dev tools leak into the Airflow image"


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    """(exclude?, regex) per .dockerignore line, in order (Docker: the last matching line wins)."""
    patterns = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i:end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        patterns.append((exclude, re.compile(regex)))
    return patterns


def in_build_context(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative to the repository) in the build context."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for exclude, regex in dockerignore_patterns():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = exclude
    return not excluded


def test_dockerignore_keeps_what_the_dockerfile_copies():
    for stage in STAGES:
        for sources, _ in copies(stage):
            for source in sources:
                root = REPO / source
                assert root.exists(), f"COPY {source}: not in the repository"
                files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()
                                                       and "__pycache__" not in p.parts]
                for path in files:
                    relative = path.relative_to(REPO).as_posix()
                    assert in_build_context(relative), f".dockerignore drops {relative}, which the Dockerfile copies"


@pytest.mark.parametrize("path", [".venv/bin/python", ".git/HEAD", ".demo/airflow/airflow.cfg",
                                  "plugins/auth0_webhooks/__pycache__/read.cpython-311.pyc",
                                  "plugins/airflow_provider_auth0_webhooks.egg-info/PKG-INFO",
                                  ".pytest_cache/README.md", ".env"])
def test_dockerignore_leaves_out_local_state(path):
    assert not in_build_context(path)


# -- the try-out profile ------------------------------------------------------------------------

def test_tryout_services_run_the_devtools_target():
    tryout = tryout_services()
    assert {"auth0-emulator", "auth0-webhook-receiver", TRYOUT_SETTINGS} <= set(tryout)
    for name, service in tryout.items():
        spec = build(service)
        assert spec.get("target") == "devtools", f"{name}: build target must be devtools"
        assert (REPO / spec["context"] / spec.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
        assert service["image"] != SERVICES["airflow-apiserver"]["image"], "the dev tools need an image of their own"
    devtools_scripts = (REPO / "devtools" / "pyproject.toml").read_text(encoding="utf-8")
    assert set(tryout_tools()) == set(tryout) - {TRYOUT_SETTINGS}
    for service in tryout_tools().values():
        script = command_text(service["entrypoint"]).split()[0]
        assert re.search(rf"^{re.escape(script)}\s*=", devtools_scripts, re.MULTILINE), f"{script} is not declared"


def tool_options(service: dict) -> dict[str, str]:
    arguments = [str(word) for word in service["command"]]
    return {flag: value for flag, value in zip(arguments, arguments[1:]) if flag.startswith("--")}


@pytest.mark.parametrize("name", sorted(tryout_tools()))
def test_tryout_tools_listen_where_the_compose_file_says(name):
    service = SERVICES[name]
    script = command_text(service["entrypoint"]).split()[0]
    arguments = [str(word) for word in service["command"]]
    options = tool_options(service)
    assert options.get("--host") == "0.0.0.0", f"{name} must listen beyond its own container"
    port = options["--port"]
    assert any(str(mapping).endswith(f":{port}") for mapping in service.get("ports") or [])
    assert f"localhost:{port}/" in command_text(service["healthcheck"]["test"])
    help_text = subprocess.run([sys.executable, "-m", TRYOUT_TOOLS[script], "--help"], capture_output=True,
                               text=True, timeout=60, check=True).stdout
    for flag in (word for word in arguments if word.startswith("--")):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text), f"{script} has no {flag}"


def test_the_connection_hosts_in_the_comments_name_tryout_services():
    """The comment tells which connection values reach the try-out services: those hosts must resolve."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    hosts = set(re.findall(r"http://([a-z0-9-]+):\d+", text)) - {"localhost"}
    assert {"auth0-emulator", "webhook-receiver"} <= hosts
    unknown = sorted(hosts - host_names())
    assert not unknown, f"the comments name hosts no service answers to: {unknown}"


def test_tryout_settings_point_the_connections_at_the_tryout_services():
    """tryout-settings rewrites the dev tools' 127.0.0.1 URLs of the settings file, then applies it:
    each rewrite must match the file, and lead to a try-out service on the port it listens on."""
    service = SERVICES[TRYOUT_SETTINGS]
    script = command_text(service["command"])
    assert "auth0-webhooks-settings" in script
    assert (service.get("depends_on") or {}).get(INIT, {}).get("condition") == "service_completed_successfully", \
        "the file must be applied after airflow-init's, or init would set the 127.0.0.1 values back"
    rewrites = re.findall(r"s#([^#]+)#([^#]+)#g", script)
    assert rewrites
    listening = {}  # host name -> port of the tool behind it
    for name, tool in tryout_tools().items():
        aliases = ((tool.get("networks") or {}).get("default") or {}).get("aliases") or []
        for host in [name, *aliases]:
            listening[host] = int(tool_options(tool)["--port"])
    source = next(src for src, target, _ in volume_specs(service) if target == SETTINGS_IN_CONTAINER)
    text = (REPO / source).read_text(encoding="utf-8")
    for pattern, replacement in rewrites:
        assert re.search(pattern, text), f"{pattern} rewrites nothing in {source}"
        url = urlsplit(replacement)
        assert listening.get(url.hostname) == url.port, f"{replacement}: no try-out service listens there"
        text = re.sub(pattern, replacement, text)
    settings = yaml.safe_load(text)["airflow"]
    left = [c["conn_id"] for c in settings.get("connections") or []
            if re.search(r"127\.0\.0\.1|localhost", json.dumps(c))]
    assert not left, f"connections still pointing at the Airflow container itself: {left}"


# -- the checkpoint -----------------------------------------------------------------------------

def test_the_checkpoint_variable_is_never_set_through_the_environment():
    """A Variable defined as AIRFLOW_VAR_* shadows the one the pipeline writes (airflow3-notes.md)."""
    forbidden = "AIRFLOW_VAR_" + CHECKPOINT_VARIABLE.upper()
    for path in (COMPOSE_FILE, CELERY_ENV, DOCKERFILE):
        assert forbidden.lower() not in path.read_text(encoding="utf-8").lower(), f"{path.name} sets the checkpoint"
    for name, service in SERVICES.items():
        keys = [key.upper() for key in environment(service)]
        assert not [key for key in keys if key.startswith(forbidden)], f"{name} sets the checkpoint"
    assert not [key for key in CELERY if key.upper().startswith(forbidden)]


def test_the_settings_file_applied_at_every_start_leaves_the_checkpoint_alone():
    for source, target, _ in volume_specs(SERVICES[INIT]):
        if target != SETTINGS_IN_CONTAINER:
            continue
        document = yaml.safe_load((REPO / source).read_text(encoding="utf-8")) or {}
        variables = (document.get("airflow") or {}).get("variables") or []
        names = [item.get("variable_name", "") for item in variables]
        assert not [n for n in names if n.startswith(CHECKPOINT_VARIABLE)], f"{source} sets the checkpoint"


# -- docker compose itself, where it is installed ----------------------------------------------

def compose_v2() -> list[str] | None:
    if not shutil.which("docker"):
        return None
    found = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
    return ["docker", "compose"] if found.returncode == 0 else None


def test_docker_compose_accepts_the_file():
    command = compose_v2()
    if command is None:
        pytest.skip("docker compose (v2) is not installed here; the checks above do without it")
    result = subprocess.run([*command, "-f", str(COMPOSE_FILE), "--profile", TRYOUT_PROFILE, "config", "--quiet"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
