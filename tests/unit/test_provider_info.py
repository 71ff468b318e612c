"""auth0_webhooks.get_provider_info(): the provider's registry, read by Airflow's providers manager.

Spec: the shape of the Slack and HTTP providers' get_provider_info (the providers installed with
this package), and the connection forms the hooks declare (tests/unit/test_webhook_hook.py).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import warnings
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import airflow
import pytest
from airflow.providers.slack.get_provider_info import get_provider_info as slack_provider_info

import auth0_webhooks
from auth0_webhooks.hooks.auth0 import Auth0Hook
from auth0_webhooks.hooks.webhook import WebhookHook

PLUGINS = Path(auth0_webhooks.__file__).resolve().parents[1]


def load_class(name: str) -> type:
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


# ---------------------------------------------------------------- the package


def test_provider_info_names_the_distribution():
    info = auth0_webhooks.get_provider_info()
    assert info["package-name"] == auth0_webhooks.DISTRIBUTION == "airflow-provider-auth0-webhooks"
    assert metadata.distribution(info["package-name"]).metadata["Name"] == info["package-name"]
    assert info["versions"] == [metadata.version(info["package-name"])]


def test_provider_info_is_registered_as_entry_point():
    points = metadata.entry_points(group="apache_airflow_provider")
    ours = [point for point in points if point.value == "auth0_webhooks:get_provider_info"]
    assert len(ours) == 1
    assert ours[0].load() is auth0_webhooks.get_provider_info


# ---------------------------------------------------------------- connection types


def test_provider_info_auth0_connection_type():
    info = auth0_webhooks.get_provider_info()
    (conn,) = [c for c in info["connection-types"] if c["connection-type"] == "auth0"]
    module, _, name = conn["hook-class-name"].rpartition(".")
    hook_class = getattr(__import__(module, fromlist=[name]), name)
    assert hook_class is Auth0Hook and hook_class.conn_type == "auth0"
    assert conn["ui-field-behaviour"]["relabeling"] == {
        "host": "Domain",
        "login": "Client ID",
        "password": "Client Secret",
    }
    assert "password" not in conn["ui-field-behaviour"]["hidden-fields"]
    assert "audience" in conn["conn-fields"]
    assert conn["conn-fields"]["audience"]["label"] == "Audience"


def test_connection_types_carry_the_forms_their_hooks_declare():
    for conn in auth0_webhooks.get_provider_info()["connection-types"]:
        hook = load_class(conn["hook-class-name"])
        behaviour = hook.get_ui_field_behaviour()
        assert (conn["connection-type"], conn["hook-name"]) == (hook.conn_type, hook.hook_name)
        assert conn["ui-field-behaviour"] == {
            "hidden-fields": behaviour["hidden_fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        }
        assert conn["conn-fields"] == hook.get_conn_fields()


def test_auth0_and_auth0_webhook_are_registered_http_stays_the_http_providers():
    info = auth0_webhooks.get_provider_info()
    assert [conn["connection-type"] for conn in info["connection-types"]] == ["auth0", "auth0_webhook"]
    assert WebhookHook.conn_type == "auth0_webhook"


def test_provider_info_validates_against_airflow_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    folder = Path(airflow.__file__).parent
    info = auth0_webhooks.get_provider_info()
    jsonschema.validate(info, json.loads((folder / "provider_info.schema.json").read_text()))
    behaviour_schema = json.loads((folder / "customized_form_field_behaviours.schema.json").read_text())
    for conn in info["connection-types"]:
        behaviour = conn["ui-field-behaviour"]
        jsonschema.validate(
            {
                "hidden_fields": behaviour["hidden-fields"],
                "relabeling": behaviour["relabeling"],
                "placeholders": behaviour["placeholders"],
            },
            behaviour_schema,
        )


# ---------------------------------------------------------------- integrations, hooks, operators


def test_provider_info_has_the_slack_providers_shape():
    ours, slack = auth0_webhooks.get_provider_info(), slack_provider_info()
    assert set(ours) <= set(slack) | {"versions", "triggers"}  # triggers: in the http provider's shape
    assert ours["triggers"] == [{"integration-name": "Auth0 Management API",
                                 "python-modules": ["auth0_webhooks.triggers.new_logs"]}]
    assert importlib.import_module("auth0_webhooks.triggers.new_logs").Auth0NewLogsTrigger
    for section in ("integrations", "hooks", "operators", "connection-types"):
        assert ours[section], section
        allowed = set().union(*(entry.keys() for entry in slack[section]))
        for entry in ours[section]:
            assert set(entry) <= allowed, (section, entry)
    for integration in ours["integrations"]:
        assert integration["integration-name"] and integration["external-doc-url"].startswith("https://")
        assert integration["tags"]


def test_hooks_and_operators_name_declared_integrations_and_existing_modules():
    info = auth0_webhooks.get_provider_info()
    names = {integration["integration-name"] for integration in info["integrations"]}
    assert {entry["integration-name"] for entry in info["hooks"] + info["operators"]} == names
    hook_modules = [module for entry in info["hooks"] for module in entry["python-modules"]]
    assert hook_modules == ["auth0_webhooks.hooks.auth0", "auth0_webhooks.hooks.webhook"]
    assert all(importlib.import_module(module) for module in hook_modules)
    operator_modules = [module for entry in info["operators"] for module in entry["python-modules"]]
    assert operator_modules == ["auth0_webhooks.operators.logs_to_webhook"]
    package = find_spec("auth0_webhooks.operators")  # the module itself is not imported here
    assert (Path(package.submodule_search_locations[0]) / "logs_to_webhook.py").is_file()
    for conn in info["connection-types"]:
        assert conn["hook-class-name"].rpartition(".")[0] in hook_modules


# ---------------------------------------------------------------- Airflow reads it


def test_providers_manager_reads_the_form_without_deprecation_warnings():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = ProvidersManager()
        behaviours, widgets = manager.field_behaviours, manager.connection_form_widgets
        hook = ProvidersManagerTaskRuntime().hooks["auth0"]
    assert not [w for w in caught if "auth0_webhooks" in str(w.message)]
    assert hook.hook_class_name == "auth0_webhooks.hooks.auth0.Auth0Hook"
    assert (hook.connection_id_attribute_name, hook.connection_testable) == ("auth0_conn_id", True)
    expected = Auth0Hook.get_ui_field_behaviour()
    assert behaviours["auth0"]["hidden_fields"] == expected["hidden_fields"]
    assert behaviours["auth0"]["relabeling"] == expected["relabeling"]
    assert behaviours["auth0"]["placeholders"]["extra__auth0__audience"] == expected["placeholders"]["audience"]
    assert widgets["extra__auth0__audience"].field["schema"]["title"] == "Audience"
    assert behaviours["auth0_webhook"]["relabeling"] == WebhookHook.get_ui_field_behaviour()["relabeling"]
    assert behaviours["http"]["relabeling"] != WebhookHook.get_ui_field_behaviour()["relabeling"]  # HttpHook's form


# ---------------------------------------------------------------- import order

FRESH = [sys.executable, "-c"]


def run_fresh(code: str) -> subprocess.CompletedProcess:
    """`code` in a new interpreter: Airflow reads provider info while `import airflow` is still running."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(FRESH + [code], capture_output=True, text=True, timeout=120, env=env)


def test_provider_info_imports_neither_airflow_nor_the_hooks():
    done = run_fresh(
        "import sys, auth0_webhooks; auth0_webhooks.get_provider_info(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow' or m.startswith('auth0_webhooks.')))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_hook_module_imported_before_airflow_imports():
    done = run_fresh("from auth0_webhooks.hooks.auth0 import Auth0Hook; print(Auth0Hook.conn_type)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("auth0")
