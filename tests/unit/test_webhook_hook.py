"""auth0_webhooks.hooks (WebhookHook, Auth0Hook): connections, and the connection forms the hooks declare.

Connections are defined the way a user does without a database: AIRFLOW_CONN_<ID> as JSON.
Spec: the hooks' docstrings, original-extension.md (WEBHOOK_URL, AUTHORIZATION verbatim, no
header when empty) and auth0-logs-api.md (audience https://{domain}/api/v2/).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import airflow
import pytest

from auth0_webhooks.auth0_client import Auth0AuthError, Auth0LogsClient
from auth0_webhooks.hooks.auth0 import Auth0Hook, extra_field
from auth0_webhooks.hooks.webhook import WebhookConfigError, WebhookHook, webhook_url
from auth0_webhooks.token_cache import FileTokenCache, MemoryTokenCache
from auth0_webhooks.webhook_client import WebhookSender

SECRET_1 = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_2 = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def set_conn(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


# ---------------------------------------------------------------- webhook_url


@pytest.mark.parametrize(
    "host",
    [
        "https://hooks.example.com/services/T0/B1/xyz?token=a%2Fb&x=1",
        "http://127.0.0.1:9/hook?x=1",
        "https://hooks.example.com:8443/a/b/",
    ],
)
def test_full_url_in_host_is_kept_intact(host):
    assert webhook_url(host, None, None, "http") == host
    assert webhook_url(host, "https", 1234, "http") == host  # other fields do not spoil it


@pytest.mark.parametrize(
    "host, schema, port, conn_type, url",
    [
        ("hooks.example.com", "https", None, "http", "https://hooks.example.com"),
        ("hooks.example.com", "https", 8443, "http", "https://hooks.example.com:8443"),
        ("hooks.example.com", "http", 8080, "http", "http://hooks.example.com:8080"),
        ("hooks.example.com", "", None, "http", "http://hooks.example.com"),  # HttpHook's default scheme
        ("hooks.example.com", None, None, "generic", "https://hooks.example.com"),
        ("hooks.example.com", "ingest/logs", 9000, "https", "https://hooks.example.com:9000/ingest/logs"),
        ("  hooks.example.com ", "https", None, "http", "https://hooks.example.com"),
    ],
)
def test_url_built_from_host_port_schema(host, schema, port, conn_type, url):
    assert webhook_url(host, schema, port, conn_type) == url


@pytest.mark.parametrize("host", [None, "", "   "])
def test_empty_host_names_the_connection(host):
    with pytest.raises(WebhookConfigError) as caught:
        webhook_url(host, "https", None, "http")
    assert "'auth0_webhook'" in str(caught.value)
    assert "URL" in str(caught.value)


# ---------------------------------------------------------------- WebhookHook


def test_get_conn_from_environment_connection(monkeypatch):
    set_conn(
        monkeypatch,
        "auth0_webhook",
        conn_type="http",
        host="http://127.0.0.1:9/hook?x=1",
        password="Bearer s3cret",
        extra={"timeout": 5, "signing_secret": [SECRET_1, SECRET_2], "headers": {"X-Env": "test"}},
    )
    sender = WebhookHook().get_conn()
    assert isinstance(sender, WebhookSender)
    assert sender.url == "http://127.0.0.1:9/hook?x=1"
    assert sender.authorization == "Bearer s3cret"
    assert list(sender.signing_secrets) == [SECRET_1, SECRET_2]
    assert dict(sender.headers) == {"X-Env": "test"}
    assert sender.timeout == 5.0
    assert sender.max_attempts == 5


def test_get_conn_defaults_without_password_or_extras(monkeypatch):
    set_conn(monkeypatch, "auth0_webhook", conn_type="http", host="https://hooks.example.com/in")
    sender = WebhookHook().get_conn()
    assert sender.url == "https://hooks.example.com/in"
    assert sender.authorization is None  # no Authorization header at all
    assert list(sender.signing_secrets) == []
    assert dict(sender.headers) == {}
    assert sender.timeout == 30.0
    assert sender.max_attempts == 5
    headers = sender.request_headers(b"[]", "msg_1", "application/json")
    assert "Authorization" not in headers and "webhook-signature" not in headers


def test_get_conn_with_another_connection_id_and_string_secrets(monkeypatch):
    set_conn(
        monkeypatch,
        "my_hook",
        conn_type="http",
        host="hooks.example.com",
        schema="https",
        port=8443,
        extra={"signing_secret": f"{SECRET_1}, {SECRET_2}", "max_attempts": 3, "headers": {"X-N": 1}},
    )
    sender = WebhookHook("my_hook").get_conn()
    assert sender.url == "https://hooks.example.com:8443"
    assert list(sender.signing_secrets) == [SECRET_1, SECRET_2]
    assert sender.max_attempts == 3
    assert dict(sender.headers) == {"X-N": "1"}


@pytest.mark.parametrize(
    "extra, key, shown",
    [
        ({"timeout": "abc"}, "timeout", "'abc'"),
        ({"timeout": 0}, "timeout", "0"),
        ({"timeout": 10_000}, "timeout", "10000"),
        ({"max_attempts": 0}, "max_attempts", "0"),
        ({"max_attempts": "many"}, "max_attempts", "'many'"),
    ],
)
def test_wrong_numeric_extras_name_key_value_and_range(monkeypatch, extra, key, shown):
    set_conn(monkeypatch, "auth0_webhook", conn_type="http", host="https://hooks.example.com", extra=extra)
    with pytest.raises(WebhookConfigError) as caught:
        WebhookHook().get_conn()
    message = str(caught.value)
    assert f"{key}={shown}" in message
    assert "expected a number from" in message
    assert "'auth0_webhook'" in message


@pytest.mark.parametrize("headers", [["X-Env", "test"], "X-Env: test", 5])
def test_headers_not_an_object_is_refused(monkeypatch, headers):
    set_conn(monkeypatch, "auth0_webhook", conn_type="http", host="https://hooks.example.com", extra={"headers": headers})
    with pytest.raises(WebhookConfigError) as caught:
        WebhookHook().get_conn()
    assert "headers=" in str(caught.value) and "JSON object" in str(caught.value)


def test_headers_error_shows_the_wrong_value(monkeypatch):
    set_conn(monkeypatch, "auth0_webhook", conn_type="http", host="https://hooks.example.com",
             extra={"headers": "X-Env: test"})
    with pytest.raises(WebhookConfigError) as caught:
        WebhookHook().get_conn()
    assert "X-Env: test" in str(caught.value)


def test_signing_secret_of_the_wrong_type_is_refused(monkeypatch):
    set_conn(monkeypatch, "auth0_webhook", conn_type="http", host="https://hooks.example.com",
             extra={"signing_secret": {"a": 1}})
    with pytest.raises(WebhookConfigError) as caught:
        WebhookHook().get_conn()
    assert "signing_secret" in str(caught.value)


@pytest.mark.parametrize("extra, host", [({}, ""), ({"timeout": "abc"}, "https://hooks.example.com")])
def test_errors_name_the_connection_actually_used(monkeypatch, extra, host):
    set_conn(monkeypatch, "my_hook", conn_type="http", host=host, extra=extra)
    with pytest.raises(WebhookConfigError) as caught:
        WebhookHook("my_hook").get_conn()
    assert "'my_hook'" in str(caught.value)


# ---------------------------------------------------------------- Auth0Hook


def test_auth0_credentials_from_environment_with_default_audience(monkeypatch):
    set_conn(monkeypatch, "auth0_default", conn_type="auth0", host="tenant.eu.auth0.com", login="cid",
             password="csecret")
    creds = Auth0Hook().credentials()
    assert creds.base_url == "https://tenant.eu.auth0.com"
    assert creds.client_id == "cid"
    assert creds.client_secret == "csecret"
    assert creds.audience == "https://tenant.eu.auth0.com/api/v2/"


@pytest.mark.parametrize("key", ["audience", "extra__auth0__audience"])
def test_auth0_audience_extra_bare_or_prefixed(monkeypatch, key):
    set_conn(monkeypatch, "auth0_default", conn_type="auth0", host="tenant.eu.auth0.com", login="cid",
             password="csecret", extra={key: "https://custom.example.com/api/v2/"})
    assert Auth0Hook().credentials().audience == "https://custom.example.com/api/v2/"


def test_extra_field_prefers_bare_and_falls_back_to_prefixed():
    assert extra_field({"audience": "a", "extra__auth0__audience": "b"}, "auth0", "audience") == "a"
    assert extra_field({"audience": "", "extra__auth0__audience": "b"}, "auth0", "audience") == "b"
    assert extra_field({}, "auth0", "audience") is None


def test_auth0_host_with_scheme_is_kept(monkeypatch):
    set_conn(monkeypatch, "auth0_default", conn_type="auth0", host="http://127.0.0.1:8089", login="cid",
             password="csecret")
    creds = Auth0Hook().credentials()
    assert creds.base_url == "http://127.0.0.1:8089"
    assert creds.audience == "http://127.0.0.1:8089/api/v2/"


def test_auth0_hook_other_connection_id(monkeypatch):
    set_conn(monkeypatch, "tenant_b", conn_type="auth0", host="b.us.auth0.com", login="idb", password="sb")
    assert Auth0Hook(auth0_conn_id="tenant_b").credentials().base_url == "https://b.us.auth0.com"


def test_auth0_hook_without_host_is_an_auth_error(monkeypatch):
    set_conn(monkeypatch, "auth0_default", conn_type="auth0", login="cid", password="csecret")
    with pytest.raises(Auth0AuthError):
        Auth0Hook().credentials()


def test_auth0_get_conn_uses_the_given_cache_or_a_file_cache(monkeypatch):
    set_conn(monkeypatch, "auth0_default", conn_type="auth0", host="tenant.eu.auth0.com", login="cid",
             password="csecret")
    cache = MemoryTokenCache()
    hook = Auth0Hook(token_cache=cache)
    client = hook.get_conn()
    assert isinstance(client, Auth0LogsClient)
    assert client.token_cache is cache
    assert hook.get_conn() is client  # one client per hook
    assert isinstance(Auth0Hook().get_conn().token_cache, FileTokenCache)


def test_auth0_test_connection(monkeypatch, requests_mock):
    set_conn(monkeypatch, "auth0_default", conn_type="auth0", host="tenant.eu.auth0.com", login="cid",
             password="csecret")
    requests_mock.post("https://tenant.eu.auth0.com/oauth/token", json={"access_token": "t", "expires_in": 86400})
    requests_mock.get("https://tenant.eu.auth0.com/api/v2/logs", json=[{"log_id": "900", "date": "2026-01-01"}])
    ok, message = Auth0Hook().test_connection()
    assert ok and "900" in message
    requests_mock.post("https://tenant.eu.auth0.com/oauth/token", status_code=401, json={"error": "access_denied"})
    ok, message = Auth0Hook().test_connection()
    assert not ok and "401" in message and "csecret" not in message


# ---------------------------------------------------------------- connection forms the hooks declare

HOOKS = [Auth0Hook, WebhookHook]
STANDARD_FIELDS = {"host", "schema", "login", "password", "port", "extra", "description"}


@pytest.mark.parametrize("hook", HOOKS)
def test_field_behaviour_is_valid_for_airflow(hook):
    jsonschema = pytest.importorskip("jsonschema")
    schema = Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json"
    behaviour = hook.get_ui_field_behaviour()
    jsonschema.validate(behaviour, json.loads(schema.read_text()))
    assert set(behaviour["hidden_fields"]) <= STANDARD_FIELDS
    assert set(behaviour["relabeling"]) <= STANDARD_FIELDS - set(behaviour["hidden_fields"])
    # A placeholder is for a shown standard field or for an extra the hook declares as a conn-field.
    shown = STANDARD_FIELDS - set(behaviour["hidden_fields"])
    assert set(behaviour["placeholders"]) <= shown | set(hook.get_conn_fields())


@pytest.mark.parametrize("hook", HOOKS)
def test_conn_fields_are_declared_as_provider_info_declares_them(hook):
    fields = hook.get_conn_fields()
    assert fields
    for name, field in fields.items():
        assert set(field) == {"label", "schema", "description"}, name
        assert "null" in field["schema"]["type"] and field["description"].startswith("Optional."), name
    assert "get_connection_form_widgets" not in vars(hook)  # deprecated since Airflow 3.2: conn-fields instead


@pytest.mark.parametrize("hook", HOOKS)
def test_declarations_are_fresh_on_every_call(hook):
    hook.get_ui_field_behaviour()["relabeling"]["host"] = "changed"
    hook.get_conn_fields().clear()
    assert hook.get_ui_field_behaviour()["relabeling"]["host"] != "changed"
    assert hook.get_conn_fields()


def test_auth0_form_shows_domain_client_id_and_secret_and_the_audience_extra():
    behaviour = Auth0Hook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == ["schema", "port", "extra"]
    assert behaviour["relabeling"] == {"host": "Domain", "login": "Client ID", "password": "Client Secret"}
    assert set(Auth0Hook.get_conn_fields()) == {"audience"}


def test_webhook_form_hides_what_a_full_url_makes_useless_and_names_url_and_authorization():
    behaviour = WebhookHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == ["login", "schema", "port"]  # extra stays: headers go there
    assert behaviour["relabeling"] == {"host": "Webhook URL", "password": "Authorization header"}


def test_webhook_conn_fields_are_the_extras_get_conn_reads(monkeypatch):
    fields = WebhookHook.get_conn_fields()
    assert set(fields) == {"timeout", "max_attempts", "signing_secret"}  # headers: a JSON object in the extra
    assert fields["signing_secret"]["schema"]["format"] == "password"  # masked in the form
    extra = {"timeout": 7, "max_attempts": 2, "headers": {"X-A": "b"}, "signing_secret": SECRET_1}
    set_conn(monkeypatch, "auth0_webhook", conn_type="http", host="https://hooks.example.com", extra=extra)
    sender = WebhookHook().get_conn()
    assert (sender.timeout, sender.max_attempts, dict(sender.headers), list(sender.signing_secrets)) == (
        7.0, 2, {"X-A": "b"}, [SECRET_1])


@pytest.mark.parametrize("key", ["timeout", "max_attempts"])
def test_webhook_conn_field_ranges_are_the_ranges_get_conn_accepts(monkeypatch, key):
    schema = WebhookHook.get_conn_fields()[key]["schema"]
    for value, accepted in [(schema["minimum"], True), (schema["maximum"], True),
                            (schema["minimum"] - 1, False), (schema["maximum"] + 1, False)]:
        set_conn(monkeypatch, "auth0_webhook", conn_type="http", host="https://h.example.com", extra={key: value})
        if accepted:
            WebhookHook().get_conn()
        else:
            with pytest.raises(WebhookConfigError):
                WebhookHook().get_conn()


def test_auth0_hook_parameters_are_keyword_only_like_the_slack_hooks():
    parameters = inspect.signature(Auth0Hook).parameters
    assert parameters["auth0_conn_id"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["token_cache"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["auth0_conn_id"].default == Auth0Hook.default_conn_name == "auth0_default"
    with pytest.raises(TypeError):
        Auth0Hook("auth0_default")


def test_webhook_hook_id_is_positional_or_keyword_like_the_http_hook():
    assert WebhookHook("my_hook").webhook_conn_id == WebhookHook(webhook_conn_id="my_hook").webhook_conn_id == "my_hook"
    assert WebhookHook().webhook_conn_id == WebhookHook.default_conn_name == "auth0_webhook"
    assert WebhookHook.conn_type == "auth0_webhook"  # its own form; type http works too


@pytest.mark.parametrize("hook, documented", [
    (Auth0Hook, ["Domain", "Client ID", "Client Secret", "audience", ":param auth0_conn_id:", ":param token_cache:"]),
    (WebhookHook, ["Webhook URL", "Authorization header", "timeout", "max_attempts", "headers", "signing_secret",
                   ":param webhook_conn_id:"]),
])
def test_hook_docstrings_document_the_connection_fields(hook, documented):
    for text in documented:
        assert text in hook.__doc__, text
