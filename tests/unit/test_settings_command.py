"""auth0-webhooks-settings (auth0_webhooks.settings_command): validating an airflow_settings.yaml, what it
reports (created / changed / re-sent / unchanged / refused / failed), secrets never printed, dry runs,
and the REST backend against a requests-mock stand-in of Airflow 3's API (which hides secrets, as
Airflow does). The local backend on a real metadata database: tests/dag/test_settings_command.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests_mock as rm

from auth0_webhooks import settings_command as command
from auth0_webhooks.names import CHECKPOINT_VARIABLE

CANARY = "LEAKCANARY"  # in every secret below: no captured output may contain it
PASSWORD = "pw-LEAKCANARY-conn-password-81f2"
SIGNING_SECRET = "whsec_LEAKCANARY0signing0secret0c9d7"
HEADER_TOKEN = "Basic LEAKCANARY-nested-header-55aa"
URI_PASSWORD = "LEAKCANARYuripass"
API_KEY_VALUE = "LEAKCANARY-variable-api-key-value"
REST_PASSWORD = "LEAKCANARY-rest-admin-password"
REST_TOKEN = "LEAKCANARY-rest-bearer-token-e4e4"
URL = "http://airflow.test:8080"

SETTINGS = f"""
airflow:
  connections:
    - conn_id: tenant
      conn_type: auth0
      conn_host: https://tenant.example.com
      conn_login: client-id
      conn_password: {PASSWORD}
      conn_extra:
        audience: https://tenant.example.com/api/v2/
    - conn_id: hook
      conn_type: http
      conn_host: https://user:{URI_PASSWORD}@hooks.example.com/in
      conn_port: "8443"
      conn_extra: '{{"timeout": 30, "signing_secret": "{SIGNING_SECRET}",
        "headers": {{"Authorization": "{HEADER_TOKEN}"}}}}'
    - conn_id: plain
      conn_type: http
      conn_host: https://plain.example.com
  variables:
    - variable_name: auth0_webhooks_config
      variable_value: {{"schedule": "*/5 * * * *", "batch_size": 100}}
    - variable_name: partner_api_key
      variable_value: {API_KEY_VALUE}
  pools:
    - pool_name: auth0
      pool_slot: 4
      pool_description: Auth0 deliveries
"""


def write(tmp_path: Path, text: str, name: str = "airflow_settings.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


class FakeAirflow:
    """The local backend's contract, in memory: get() shows what is stored (secrets too), put() stores."""

    def __init__(self, store: dict | None = None) -> None:
        self.store: dict[tuple[str, str], dict[str, Any]] = store if store is not None else {}
        self.puts: list[tuple[str, str]] = []
        self.fail: str | None = None

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self.store.get((kind, name))
        return None if found is None else command._stored(found)

    def put(self, kind: str, name: str, want: dict[str, Any], have: dict[str, Any] | None) -> None:
        if self.fail:
            raise RuntimeError(self.fail)
        self.puts.append((kind, name))
        self.store[kind, name] = dict(want)


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> FakeAirflow:
    """main() without --url uses this in-memory Airflow instead of the metadata database."""
    fake = FakeAirflow()
    monkeypatch.setattr(command, "LocalAirflow", lambda: fake)
    return fake


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = command.main(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err, out + err
    return code, out, err


# ---------------------------------------------------------------- a bad file: exit 1, nothing applied


@pytest.mark.parametrize("text, expected", [
    ("airflow: [connections\n  - conn_id: x\n", "not YAML (line"),
    ("connections: []\n", "no `airflow:` section"),
    ("- just\n- a list\n", "no `airflow:` section"),
    ("airflow:\n  conections: []\n", "airflow.conections: unknown section (did you mean connections?)"),
    ("airflow:\n  connections:\n    - conn_type: http\n", "connections[0]: conn_id: required"),
    ("airflow:\n  connections:\n    - conn_id: a\n", "connections[0] (a): conn_type: required"),
    ("airflow:\n  variables:\n    - variable_value: x\n", "variables[0]: variable_name: required"),
    ("airflow:\n  variables:\n    - variable_name: v\n", "variables[0] (v): variable_value: required"),
    ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_port: eighty}\n",
     "connections[0] (a): conn_port: must be an integer"),
    ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_port: 80.5}\n",
     "connections[0] (a): conn_port: must be an integer"),
    ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_extra: [1, 2]}\n",
     "connections[0] (a): conn_extra: must be a mapping, or the JSON text of one"),
    ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_extra: 'timeout=3'}\n",
     "connections[0] (a): conn_extra: must be a mapping, or the JSON text of one"),
    ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_password: 0123}\n",
     "connections[0] (a): conn_password: must be text, not int (put it in quotes)"),
    ("airflow:\n  pools:\n    - {pool_name: p, pool_slot: many}\n", "pools[0] (p): pool_slot: must be an integer"),
    ("airflow:\n  pools:\n    - {pool_name: p}\n", "pools[0] (p): pool_slot: required"),
    ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_hots: h}\n",
     "connections[0] (a): conn_hots: unknown field (did you mean conn_host?)"),
    ("airflow:\n  variables:\n    - {variable_name: v, value: x}\n",
     "variables[0] (v): variable_value: required"),
    ("airflow:\n  variables:\n    - {variable_name: v, value: x, variable_value: y}\n",
     "variables[0] (v): value: unknown field (did you mean variable_value?)"),
    ("airflow:\n  pools:\n    - {pool_name: p, pool_slot: 1, slots: 2}\n",
     "pools[0] (p): slots: unknown field (did you mean pool_slot?)"),
    ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http}\n    - {conn_id: a, conn_type: http}\n",
     "connections[1] (a): conn_id: duplicate of connections[0] (a)"),
    ("airflow:\n  connections: {conn_id: a}\n", "airflow.connections: must be a list of entries"),
    ("airflow:\n  connections:\n    - just-a-name\n", "connections[0]: must be a mapping of fields"),
])
def test_a_bad_file_names_the_entry_and_field_and_applies_nothing(tmp_path, capsys, local, text, expected):
    code, out, err = run(capsys, write(tmp_path, text))
    assert code == 1
    assert expected in err and "nothing applied" in err
    assert out == "" and local.puts == []


def test_every_problem_is_reported_at_once_and_nothing_is_applied(tmp_path, capsys, local):
    text = ("airflow:\n  connections:\n    - {conn_id: good, conn_type: http}\n"
            "    - {conn_id: bad, conn_type: http, conn_port: x}\n  pools:\n    - {pool_name: p, pool_slot: y}\n")
    code, _, err = run(capsys, write(tmp_path, text))
    assert code == 1 and local.puts == [] and local.store == {}
    assert "connections[1] (bad): conn_port" in err and "pools[0] (p): pool_slot" in err


def test_a_yaml_error_shows_where_but_not_the_line_itself(tmp_path, capsys, local):
    text = f"airflow:\n  connections:\n    - conn_id: a\n      conn_password: {PASSWORD}: oops\n"
    code, _, err = run(capsys, write(tmp_path, text))  # run() checks that the password is not in the output
    assert code == 1 and "not YAML (line 4, column" in err


def test_a_missing_file_is_a_bad_file(tmp_path, capsys, local):
    code, _, err = run(capsys, str(tmp_path / "nope.yaml"))
    assert code == 1 and "cannot read it" in err


@pytest.mark.parametrize("argv", [["f", "--user", "u"], ["f", "--url", URL], ["f", "--url", URL, "--user", "u"],
                                  ["f", "--url", URL, "--token", "t", "--user", "u", "--password", "p"], []])
def test_bad_usage_exits_1(capsys, local, argv):
    assert command.main(argv) == 1
    assert "usage:" in capsys.readouterr().err


def test_the_file_read_under_airflows_names():
    entries = command.load(str(Path(__file__).resolve().parents[2] / "airflow_settings.yaml"))
    assert [(kind, name) for kind, name, _ in entries] == [
        ("connection", "auth0_default"), ("connection", "auth0_webhook"), ("connection", "auth0_slack"),
        ("variable", "auth0_webhooks_config")]
    webhook = entries[1][2]
    assert webhook["conn_type"] == "http" and webhook["login"] is None and webhook["port"] is None
    assert webhook["extra"]["timeout"] == 30
    assert json.loads(entries[3][2]["value"])["batch_size"] == 100


def test_values_are_read_as_airflow_keeps_them(tmp_path):
    text = ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_port: '8443', conn_extra: '{\"x\": 1}',"
            " conn_login: ''}\n  variables:\n    - {variable_name: n, variable_value: 5}\n"
            "    - {variable_name: e, variable_value: ''}\n    - {variable_name: d, variable_value: {a: [1]}}\n")
    (_, _, conn), (_, _, number), (_, _, empty), (_, _, mapping) = command.load(write(tmp_path, text))
    assert conn["port"] == 8443 and conn["extra"] == {"x": 1} and conn["login"] is None
    assert number["value"] == "5" and empty["value"] == "" and json.loads(mapping["value"]) == {"a": [1]}


# ---------------------------------------------------------------- what it reports


def test_created_then_unchanged(tmp_path, capsys, local):
    path = write(tmp_path, SETTINGS)
    code, out, _ = run(capsys, path)
    assert code == 0
    assert out.splitlines() == [
        "connection tenant: created", "connection hook: created", "connection plain: created",
        "variable auth0_webhooks_config: created", "variable partner_api_key: created", "pool auth0: created",
        "summary: 6 created"]
    assert local.store["connection", "tenant"]["password"] == PASSWORD
    assert local.store["connection", "hook"]["extra"]["headers"] == {"Authorization": HEADER_TOKEN}
    assert local.store["pool", "auth0"] == {"slots": 4, "description": "Auth0 deliveries"}
    code, out, _ = run(capsys, path)
    assert code == 0 and out.splitlines()[-1] == "summary: 6 unchanged"
    assert all(line.endswith(": unchanged") for line in out.splitlines()[:-1])
    assert len(local.puts) == 6  # the second run wrote nothing


def test_changed_lists_each_difference_with_secrets_masked(tmp_path, capsys, local):
    run(capsys, write(tmp_path, SETTINGS))
    changed = (SETTINGS.replace("conn_login: client-id", "conn_login: client-2")
               .replace(PASSWORD, PASSWORD + "-new").replace('"timeout": 30', '"timeout": 60')
               .replace(SIGNING_SECRET, SIGNING_SECRET + "new").replace('"batch_size": 100', '"batch_size": 50')
               .replace(API_KEY_VALUE, API_KEY_VALUE + "-new").replace("pool_slot: 4", "pool_slot: 8")
               .replace("    - conn_id: plain\n      conn_type: http\n"
                        "      conn_host: https://plain.example.com\n", ""))
    code, out, _ = run(capsys, write(tmp_path, changed))
    assert code == 0
    assert out.splitlines() == [
        "connection tenant: changed: login client-id -> client-2, password *** -> ***",
        "connection hook: changed: extra.signing_secret *** -> ***, extra.timeout 30 -> 60",
        "variable auth0_webhooks_config: changed: value.batch_size 100 -> 50",
        "variable partner_api_key: changed: value *** -> ***",
        "pool auth0: changed: slots 4 -> 8",
        "summary: 5 changed"]
    assert local.store["connection", "tenant"]["password"] == PASSWORD + "-new"
    assert ("connection", "plain") in local.store  # what the file no longer names is left alone


def test_a_field_the_file_leaves_out_is_emptied(tmp_path, capsys, local):
    run(capsys, write(tmp_path, SETTINGS))
    code, out, _ = run(capsys, write(tmp_path, SETTINGS.replace("      conn_port: \"8443\"\n", "")
                                     .replace("    - conn_id: tenant", "    - conn_id: tenant\n      conn_schema: s")))
    assert "connection tenant: changed: schema (none) -> s" in out
    assert "connection hook: changed: port 8443 -> (none)" in out
    assert local.store["connection", "hook"]["port"] is None


@pytest.mark.parametrize("name", [CHECKPOINT_VARIABLE, CHECKPOINT_VARIABLE + "__siem"])
def test_the_checkpoint_is_refused_and_the_rest_applied(tmp_path, capsys, local, name):
    text = f"airflow:\n  variables:\n    - {{variable_name: {name}, variable_value: '12345'}}\n" \
           "    - {variable_name: other, variable_value: x}\n"
    code, out, _ = run(capsys, write(tmp_path, text))
    assert code == 0
    assert out.splitlines()[0] == (f"variable {name}: refused: the pipeline owns its checkpoint "
                                   "(it writes it after each delivery; a settings file would move it back)")
    assert out.splitlines()[-1] == "summary: 1 created, 1 refused"
    assert local.puts == [("variable", "other")]


def test_a_look_alike_of_the_checkpoint_is_an_ordinary_variable(tmp_path, capsys, local):
    text = f"airflow:\n  variables:\n    - {{variable_name: {CHECKPOINT_VARIABLE}_copy, variable_value: x}}\n"
    assert run(capsys, write(tmp_path, text))[1].startswith(f"variable {CHECKPOINT_VARIABLE}_copy: created")


def test_dry_run_changes_nothing(tmp_path, capsys, local):
    run(capsys, write(tmp_path, SETTINGS))
    before = copy.deepcopy(local.store)
    text = SETTINGS.replace("pool_slot: 4", "pool_slot: 9") + "    - {pool_name: more, pool_slot: 1}\n"
    code, out, _ = run(capsys, write(tmp_path, text), "--dry-run")
    assert code == 0
    assert "pool auth0: would be changed: slots 4 -> 9" in out and "pool more: would be created" in out
    assert out.splitlines()[-1] == "summary: 1 created, 1 changed, 5 unchanged (dry run: nothing written)"
    assert local.store == before and len(local.puts) == 6


def test_a_refusal_exits_2_and_its_message_holds_no_secret(tmp_path, capsys, local):
    local.fail = f"boom: could not store {PASSWORD} for https://u:{URI_PASSWORD}@h\nsecond line"
    code, out, _ = run(capsys, write(tmp_path, SETTINGS))  # run() checks no secret is printed
    assert code == 2
    assert "connection tenant: failed: boom: could not store *** for https://u:***@h" in out
    assert "second line" not in out and out.splitlines()[-1] == "summary: 6 failed"


def test_an_empty_section_is_nothing_to_do(tmp_path, capsys, local):
    code, out, _ = run(capsys, write(tmp_path, "airflow:\n  connections: []\n  variables:\n  pools: []\n"))
    assert code == 0 and out == "summary: no entries\n"


def test_diff_hides_secrets_and_flags_what_the_api_hides():
    want = {"password": "new", "host": "h", "extra": {"a": 1, "token": "t", "deep": {"api_key": "k", "n": 2}}}
    have = {"password": "***", "host": "h", "extra": json.dumps({"a": 2, "token": "***", "deep": {"api_key": "***"}})}
    changed, hidden = command.diff(want, have)
    assert changed == ["extra.a 2 -> 1", "extra.deep.n (none) -> 2"]
    assert hidden == ["password", "extra.deep.api_key", "extra.token"]
    assert command.diff({"value": "s3cr3t"}, {"value": "other"}, secret=True) == (["value *** -> ***"], [])
    assert command.diff({"host": None, "extra": None}, {"host": "", "extra": "{}"}) == ([], [])


# ---------------------------------------------------------------- the REST backend


SENSITIVE = re.compile(r"access_token|api_key|apikey|authorization|passphrase|passwd|password|private_key|secret|token",
                       re.IGNORECASE)  # Airflow's default sensitive names


class FakeApi:
    """Airflow 3's REST API as the command uses it: /auth/token, then /api/v2/{connections,variables,pools}.

    Like Airflow, GET shows *** for a connection's password, for extra keys and Variables with sensitive
    names; POST answers 409 for what exists, PATCH 404 for what does not and honours update_mask."""

    IDS = {"connections": "connection_id", "variables": "key", "pools": "name"}

    def __init__(self, mocker: rm.Mocker) -> None:
        self.store: dict[str, dict[str, dict]] = {section: {} for section in self.IDS}
        self.store["pools"]["default_pool"] = {"name": "default_pool", "slots": 128, "description": "Default pool",
                                               "include_deferred": False}
        self.mocker = mocker
        mocker.post(f"{URL}/auth/token", status_code=201, json=self.token)
        mocker.register_uri(rm.ANY, re.compile(rf"{re.escape(URL)}/api/v2/(\w+)(/[^?]*)?"), json=self.handle)

    def token(self, request: Any, context: Any) -> dict:
        if request.json() != {"username": "admin", "password": REST_PASSWORD}:
            context.status_code = 401
            return {"detail": "Invalid credentials"}
        return {"access_token": REST_TOKEN}

    def handle(self, request: Any, context: Any) -> dict:
        assert request.headers["Authorization"] == f"Bearer {REST_TOKEN}"
        section, name = re.match(r"/api/v2/(\w+)(?:/(.*))?", request.path).groups()
        items, name = self.store[section], unquote(name or "")
        if request.method == "GET":
            context.status_code = 200 if name in items else 404
            return self.shown(section, items[name]) if name in items else {"detail": "not found"}
        body = request.json()
        if request.method == "POST":
            context.status_code = 409 if body[self.IDS[section]] in items else 201
            items.setdefault(body[self.IDS[section]], {"include_deferred": False} if section == "pools" else {})
            items[body[self.IDS[section]]].update(body)
            return self.shown(section, items[body[self.IDS[section]]])
        if name not in items:
            context.status_code = 404
            return {"detail": "not found"}
        mask = request.qs.get("update_mask")
        items[name].update({key: value for key, value in body.items() if mask is None or key in mask})
        return self.shown(section, items[name])

    def shown(self, section: str, item: dict) -> dict:
        def hide(value: Any) -> Any:
            return {k: "***" if SENSITIVE.search(k) else hide(v) for k, v in value.items()} \
                if isinstance(value, dict) else value

        shown = dict(item)
        if section == "connections":
            shown["password"] = shown.get("password") and "***"
            shown["extra"] = shown.get("extra") and json.dumps(hide(json.loads(shown["extra"])))
        if section == "variables" and SENSITIVE.search(shown["key"]):
            shown["value"] = "***"
        return shown

    def calls(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.mocker.request_history]


@pytest.fixture
def api() -> Any:
    with rm.Mocker(case_sensitive=True) as mocker:
        yield FakeApi(mocker)


def rest(capsys, path: str, *more: str) -> tuple[int, str, str]:
    return run(capsys, path, "--url", URL + "/", "--user", "admin", "--password", REST_PASSWORD, *more)


def test_rest_creates_with_post_after_get(tmp_path, capsys, api):
    code, out, _ = rest(capsys, write(tmp_path, SETTINGS))
    assert code == 0 and out.splitlines()[-1] == "summary: 6 created"
    paths = ("connections/tenant", "connections/hook", "connections/plain", "variables/auth0_webhooks_config",
             "variables/partner_api_key", "pools/auth0")
    assert api.calls() == ["POST /auth/token"] + [
        call for path in paths for call in (f"GET /api/v2/{path}", f"POST /api/v2/{path.split('/')[0]}")]
    assert api.mocker.request_history[0].json() == {"username": "admin", "password": REST_PASSWORD}
    hook = api.store["connections"]["hook"]
    assert hook == {"connection_id": "hook", "conn_type": "http",
                    "host": f"https://user:{URI_PASSWORD}@hooks.example.com/in",
                    "login": None, "password": None, "schema": None, "port": 8443, "extra": hook["extra"]}
    assert json.loads(hook["extra"]) == {"timeout": 30, "signing_secret": SIGNING_SECRET,
                                         "headers": {"Authorization": HEADER_TOKEN}}
    assert api.store["connections"]["tenant"]["password"] == PASSWORD
    assert api.store["variables"]["auth0_webhooks_config"] == {
        "key": "auth0_webhooks_config", "value": '{"schedule": "*/5 * * * *", "batch_size": 100}'}
    assert api.store["pools"]["auth0"] == {"name": "auth0", "slots": 4, "description": "Auth0 deliveries",
                                          "include_deferred": False}


def test_rest_second_run_writes_only_what_the_api_hides(tmp_path, capsys, api):
    path = write(tmp_path, SETTINGS)
    rest(capsys, path)
    stored = json.dumps(api.store, sort_keys=True)
    api.mocker.reset_mock()
    code, out, _ = rest(capsys, path)
    assert code == 0
    assert out.splitlines() == [
        "connection tenant: re-sent: Airflow's API hides password",
        "connection hook: re-sent: Airflow's API hides extra.headers.Authorization, extra.signing_secret",
        "connection plain: unchanged",
        "variable auth0_webhooks_config: unchanged",
        "variable partner_api_key: re-sent: Airflow's API hides value",
        "pool auth0: unchanged",
        "summary: 3 re-sent, 3 unchanged"]
    writes = [call for call in api.calls() if not call.startswith("GET")]
    assert writes == ["POST /auth/token", "PATCH /api/v2/connections/tenant", "PATCH /api/v2/connections/hook",
                      "PATCH /api/v2/variables/partner_api_key"]
    assert json.dumps(api.store, sort_keys=True) == stored  # the same values, sent again


def test_rest_without_secrets_is_idempotent(tmp_path, capsys, api):
    text = ("airflow:\n  connections:\n    - {conn_id: plain, conn_type: http, conn_host: h, conn_extra: {t: 3}}\n"
            "  variables:\n    - {variable_name: v, variable_value: {a: 1}}\n"
            "  pools:\n    - {pool_name: p, pool_slot: 2}\n")
    path = write(tmp_path, text)
    assert rest(capsys, path)[1].splitlines()[-1] == "summary: 3 created"
    api.mocker.reset_mock()
    code, out, _ = rest(capsys, path)
    assert code == 0 and out.splitlines()[-1] == "summary: 3 unchanged"
    assert [call for call in api.calls() if not call.startswith("GET")] == ["POST /auth/token"]


def test_rest_changes_with_patch(tmp_path, capsys, api):
    rest(capsys, write(tmp_path, SETTINGS))
    api.store["variables"]["auth0_webhooks_config"]["description"] = "set in the UI"
    api.mocker.reset_mock()
    text = (SETTINGS.replace("pool_slot: 4", "pool_slot: 6").replace('"batch_size": 100', '"batch_size": 7')
            .replace("conn_host: https://plain.example.com", "conn_host: https://plain2.example.com")
            + "    - {pool_name: default_pool, pool_slot: 64, pool_description: Default pool}\n")
    code, out, _ = rest(capsys, write(tmp_path, text))
    assert code == 0
    assert "connection plain: changed: host https://plain.example.com -> https://plain2.example.com" in out
    assert "pool default_pool: changed: slots 128 -> 64" in out
    patches = {r.path: r for r in api.mocker.request_history if r.method == "PATCH"}
    assert patches["/api/v2/connections/plain"].json() == {
        "connection_id": "plain", "conn_type": "http", "host": "https://plain2.example.com", "login": None,
        "password": None, "schema": None, "port": None, "extra": None}
    assert patches["/api/v2/connections/plain"].qs == {}
    assert patches["/api/v2/variables/auth0_webhooks_config"].qs == {"update_mask": ["value"]}
    assert patches["/api/v2/pools/auth0"].qs == {"update_mask": ["slots"]}
    assert patches["/api/v2/pools/default_pool"].qs == {"update_mask": ["slots"]}  # Airflow allows only that
    assert api.store["variables"]["auth0_webhooks_config"]["description"] == "set in the UI"
    assert api.store["pools"]["auth0"]["slots"] == 6 and api.store["pools"]["default_pool"]["slots"] == 64


def test_rest_with_a_token(tmp_path, capsys, api):
    code, out, _ = run(capsys, write(tmp_path, SETTINGS), "--url", URL, "--token", REST_TOKEN)
    assert code == 0 and out.splitlines()[-1] == "summary: 6 created"
    assert "POST /auth/token" not in api.calls()


def test_rest_dry_run_only_reads(tmp_path, capsys, api):
    code, out, _ = rest(capsys, write(tmp_path, SETTINGS), "--dry-run")
    assert code == 0 and out.splitlines()[-1] == "summary: 6 created (dry run: nothing written)"
    assert {call.split()[0] for call in api.calls()[1:]} == {"GET"}
    assert all(not items for section, items in api.store.items() if section != "pools")


def test_rest_bad_login_exits_2_without_the_password(tmp_path, capsys, api):
    code, out, err = run(capsys, write(tmp_path, SETTINGS), "--url", URL, "--user", "admin", "--password",
                         REST_PASSWORD + "-wrong")
    assert code == 2 and out == ""
    assert err.strip() == "cannot use Airflow: the token request: HTTP 401 Invalid credentials"


def test_rest_refusal_shows_airflows_message_but_not_the_input(tmp_path, capsys, api):
    detail = [{"loc": ["body", "conn_type"], "msg": "Field required", "input": {"password": PASSWORD}}]
    api.mocker.post(f"{URL}/api/v2/connections", status_code=422, json={"detail": detail})
    code, out, _ = rest(capsys, write(tmp_path, SETTINGS))
    assert code == 2
    assert "connection tenant: failed: POST connection: HTTP 422 body.conn_type: Field required" in out
    assert out.splitlines()[-1] == "summary: 3 created, 3 failed"


def test_rest_unreachable_exits_2(tmp_path, capsys):
    with rm.Mocker() as mocker:
        mocker.post(f"{URL}/auth/token", exc=__import__("requests").ConnectionError("connection refused"))
        code, _, err = run(capsys, write(tmp_path, SETTINGS), "--url", URL, "--user", "admin",
                           "--password", REST_PASSWORD)
    assert code == 2 and "cannot use Airflow: connection refused" in err
