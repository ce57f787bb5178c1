"""`metricsync describe --json-schema`: a valid JSON Schema (draft 2020-12) of every setting, whose
verdict on a configuration is the strict checker's (`sources/_common/config/strict.py`): each
configuration below, written to `.dlt/config.toml`, is accepted by both or refused by both."""

import json

import jsonschema
import pytest
import tomlkit
from metricsync.cli import main
from metricsync.providers import PROVIDERS, source_factory
from metricsync.sources._common.config.strict import check_settings
from metricsync.sources._common.errors import ConfigError
from support.config import write_toml


@pytest.fixture(scope="module")
def schema() -> dict:
    """The schema as the command prints it (the first test parses stdout; later ones reuse it)."""
    from metricsync.settings_schema import json_schema

    return json_schema()


def test_the_command_prints_one_draft_2020_12_schema_with_secrets_marked(capsys):
    assert main(["describe", "--json-schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(printed)
    for provider in PROVIDERS:
        settings = printed["properties"]["sources"]["properties"][provider]["properties"]
        assert settings["api_key"]["writeOnly"] is True and settings["api_key"]["x-secret"] is True
        assert "default" not in settings["api_key"]
        assert settings["lookback_days" if provider != "posthog" else "timeout"]["x-env"].startswith(
            f"SOURCES__{provider.upper()}__"
        )
    whop = printed["properties"]["sources"]["properties"]["whop"]["properties"]
    assert (whop["lookback_days"]["minimum"], whop["lookback_days"]["maximum"], whop["lookback_days"]["default"]) == (
        0,
        3650,
        3,
    )
    assert whop["array_params"]["enum"] == ["brackets", "repeat"]
    assert printed["properties"]["sources"]["properties"]["statsig"]["properties"]["page_size"]["maximum"] == 100
    assert printed["properties"]["metricsync"]["properties"]["destination"]["default"] == "duckdb"
    for provider in PROVIDERS:  # every setting in words, a source's own ones too
        for name, setting in printed["properties"]["sources"]["properties"][provider]["properties"].items():
            assert setting["description"] and "see the README" not in setting["description"], (provider, name)


CASES = [
    (
        "whop",
        {"start_date": "2025-01-01", "lookback_days": 3, "wallet_queries": [{"name": "d", "group_by": "day"}]},
        True,
    ),
    ("whop", {"lookback_days": 4000}, False),
    ("whop", {"max_concurrency": 0}, False),
    ("whop", {"wallet_querys": []}, False),
    ("whop", {"array_params": "commas"}, False),
    ("whop", {"array_params": "repeat", "timeout": 30}, True),
    ("whop", {"accounts": [{"name": "north", "account_id": "biz_north"}]}, True),
    ("stripe_analytics", {"body_encoding": "xml"}, False),
    ("stripe_analytics", {"max_periods": {"day": 0}}, False),
    ("stripe_analytics", {"max_periods": {"day": 30}, "requests_per_second": 5}, True),
    ("stripe_analytics", {"queries": {"name": "mrr"}}, False),
    ("statsig", {"page_size": 101}, False),
    ("statsig", {"page_size": 100, "api_version": "20240601"}, True),
    ("posthog", {"schema_contract": "freeze", "lock_wait_seconds": 30}, True),
    ("posthog", {"schema_contract": "thaw"}, False),
    ("posthog", {"lock_wait_seconds": -1}, False),
    ("posthog", {"allow_insecure_http": "perhaps"}, False),
    ("posthog", {"requests_per_second": 0.001}, False),
]


@pytest.mark.parametrize(
    "provider, settings, valid", CASES, ids=[f"{p}-{'-'.join(s)}-{'ok' if v else 'refused'}" for p, s, v in CASES]
)
def test_schema_and_strict_checker_agree(schema, isolated, provider, settings, valid):
    config = {"sources": {provider: settings}}
    schema_ok = jsonschema.Draft202012Validator(schema).is_valid(config)
    write_toml(isolated / ".dlt" / "config.toml", tomlkit.dumps(config))
    try:
        check_settings(provider, source_factory(provider))
        strict_ok = True
    except ConfigError:
        strict_ok = False
    assert (schema_ok, strict_ok) == (valid, valid)
