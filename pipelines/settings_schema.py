"""`metricsync describe --json-schema`: a JSON Schema (draft 2020-12) of every setting, generated
from the one declaration of settings (`spec.SHARED`, each source's signature, the ranges and
choices in `sources/_common/config/spec.py`), for tools that generate forms or validate
configuration. It describes `.dlt/config.toml` and `secrets.toml` read together, e.g.

    {"metricsync": {"destination": "postgres"},
     "sources": {"whop": {"api_key": "...", "start_date": "2025-01-01", "lookback_days": 3}}}

Numbers are JSON numbers here (an environment variable's text is read as the number it spells).
Secrets carry `"writeOnly": true` and `"x-secret": true`; every setting names its environment
variable in `x-env`.
"""

import inspect
import json
import typing
from typing import Any

from metricsync.catalog import meaning, settings
from metricsync.providers import PROVIDERS, provider_facts, source_factory
from metricsync.sources._common.config import spec

DRAFT = "https://json-schema.org/draft/2020-12/schema"
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


def _type(annotation: Any) -> dict:
    """`{"type": ...}` of a Python annotation (`Optional[X]` allows null; `Any`: no constraint)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        schema: dict = _type(inner[0]) if len(inner) == 1 else {}
        if schema and type(None) in args:
            schema["type"] = [schema["type"], "null"]
        return schema
    kind = typing.get_origin(annotation) or annotation
    if kind not in JSON_TYPES:
        return {}
    schema = {"type": JSON_TYPES[kind]}
    if kind is list and args and _type(args[0]):
        schema["items"] = _type(args[0])
    return schema


def _annotations(provider: str) -> dict:
    parameters = inspect.signature(source_factory(provider)).parameters
    found = {name: p.annotation for name, p in parameters.items() if name != "control"}
    return {**found, **{name: spec.SHARED[name].kind for name in spec.shared_names(spec.RUNNER)}}


def _bounds(provider: str, name: str, schema: dict) -> dict:
    bounds = spec.range_of(provider, name)
    if bounds is not None:
        schema.update(minimum=bounds.low, maximum=bounds.high)
        kind = "integer" if bounds.kind is int else "number"
        schema["type"] = [kind, "null"] if bounds.optional else kind
    choices = spec.choices_of(provider, name)
    if choices:
        schema["enum"] = list(choices)
    nested = spec.NESTED.get(name)
    if nested is not None:
        schema["additionalProperties"] = {
            "type": "integer" if nested.kind is int else "number",
            "minimum": nested.low,
            "maximum": nested.high,
        }
    return schema


def _accounts(provider: str) -> dict:
    """`accounts`: a list of `{name, api_key?, <the provider's account parameters>}`."""
    params = provider_facts("ACCOUNT_PARAMS")[provider]
    properties = {"name": {"type": "string", "minLength": 1}, "api_key": _secret()}
    properties.update({param: {} for param in params})
    return {
        "type": ["array", "null"],
        "items": {"type": "object", "required": ["name"], "properties": properties, "additionalProperties": False},
    }


def _secret() -> dict:
    return {"type": "string", "writeOnly": True, "x-secret": True}


def setting_schema(provider: str, setting: Any, annotation: Any) -> dict:
    schema = _secret() if setting.secret else _type(annotation)
    if setting.name == "accounts":
        schema = _accounts(provider)
    schema = _bounds(provider, setting.name, schema)
    schema["description"] = meaning(provider, setting.name)
    if not setting.secret and setting.default is not None and _jsonable(setting.default):
        schema["default"] = setting.default
    schema["x-env"] = setting.env
    return schema


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def provider_schema(provider: str) -> dict:
    annotations = _annotations(provider)
    properties = {s.name: setting_schema(provider, s, annotations.get(s.name)) for s in settings(provider)}
    return {
        "type": "object",
        "description": f"[sources.{provider}] (SOURCES__{provider.upper()}__<KEY>)",
        "properties": properties,
        "additionalProperties": False,
    }


def json_schema() -> dict:
    """Every setting metricsync reads; other keys (dlt's own: `runtime`, `destination`, ...) are free."""
    sources = {provider: provider_schema(provider) for provider in PROVIDERS}
    sources["data_writer"] = {"type": "object", "description": "dlt's extract buffers"}
    metricsync = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "destination": {
                "type": "string",
                "default": "duckdb",
                "x-env": "METRICSYNC_DESTINATION",
                "description": "the warehouse every command uses without --destination: a dlt destination "
                "(duckdb, postgres, sqlalchemy, ...) or a named [destination.<name>]",
            }
        },
    }
    return {
        "$schema": DRAFT,
        "title": "metricsync settings (.dlt/config.toml and .dlt/secrets.toml)",
        "type": "object",
        "properties": {
            "metricsync": metricsync,
            "sources": {"type": "object", "properties": sources, "additionalProperties": False},
            "dataset_prefix": {
                "type": "string",
                "x-env": "DATASET_PREFIX",
                "description": "prefix of every provider's dataset without its own dataset_name",
            },
        },
    }
