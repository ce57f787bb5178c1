"""Strict configuration: every setting under `sources.<provider>` is known and well-formed,
checked before any request.

What is set is read through dlt's own config providers (environment variables, `secrets.toml`
and `config.toml`, in the project's `.dlt/` and dlt's global dir), in every layout dlt resolves
for a source: `metricsync.sources.whop.<key>`, `metricsync.sources.whop.whop.<key>` (section, then source name) and
the same below the pipeline name (`whop.sources.whop.<key>`). The known keys are the source
function's parameters (the shared settings among them) plus those the runner reads (e.g.
`schema_contract`, `spec.SHARED` of scope `runner`), so a new one is known without a list to
maintain. Each problem is one line (`ConfigError`, exit 2), e.g.

    whop: unknown setting wallet_querys (SOURCES__WHOP__WALLET_QUERYS) - did you mean wallet_queries?
    whop: wallet_queries (SOURCES__WHOP__WALLET_QUERIES) is not valid JSON (line 1 column 11) - ...
"""

import difflib
import inspect
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, get_origin

from dlt.common.configuration.container import Container
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.providers import EnvironProvider, SettingsTomlProvider
from dlt.common.configuration.specs.base_configuration import extract_inner_hint
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext
from dlt.common.configuration.utils import deserialize_value
from dlt.common.typing import is_optional_type
from metricsync.sources._common.config import spec as spec
from metricsync.sources._common.errors import ConfigError

RUNTIME_ARGUMENTS = ("control",)  # source parameters passed by the runner, not read from config


@dataclass
class Entry:
    """One value set under `sources.<provider>`: its key, value, where it was set and its rank
    (lower wins, as in dlt: provider order first, then the more specific layout)."""

    key: str
    value: Any
    origin: str  # the env var, or `metricsync.sources.whop.key in config.toml`
    rank: tuple = ()


def source_parameters(source_function: Callable) -> dict[str, inspect.Parameter]:
    params = inspect.signature(source_function).parameters
    return {name: p for name, p in params.items() if name not in RUNTIME_ARGUMENTS}


def set_entries(provider: str) -> Iterator[Entry]:
    """Every value set for `provider` in dlt's config providers, in each layout dlt resolves."""
    for order, config_provider in enumerate(Container()[PluggableRunContext].providers.providers):
        if isinstance(config_provider, EnvironProvider):
            yield from _env_entries(provider, order)
            continue
        if not isinstance(config_provider, SettingsTomlProvider):  # vaults: not listed, not queried
            continue
        for pipeline_name in (None, provider):
            node, _ = config_provider.get_value(provider, dict, pipeline_name, "sources")
            if isinstance(node, dict):
                prefix = f"{pipeline_name}.sources.{provider}" if pipeline_name else f"sources.{provider}"
                depth = 1 if pipeline_name else 0
                yield from _doc_entries(provider, node, prefix, config_provider.name, (order, depth))


def _doc_entries(provider: str, node: dict, prefix: str, file: str, at: tuple, nested: bool = False) -> Iterator[Entry]:
    order, depth = at
    for key, value in node.items():
        if key == provider and not nested and isinstance(value, dict):  # sources.whop.whop.<key>
            yield from _doc_entries(provider, value, f"{prefix}.{key}", file, (order, depth + 1), nested=True)
        else:
            yield Entry(str(key), value, f"{prefix}.{key} in {file}", (order, -depth))


def _env_entries(provider: str, order: int) -> Iterator[Entry]:
    name = provider.upper()
    for depth, prefix in enumerate((f"SOURCES__{name}__", f"{name}__SOURCES__{name}__")):
        for var, value in os.environ.items():
            if not var.startswith(prefix):
                continue
            parts = var[len(prefix) :].lower().split("__")
            nested = len(parts) == 2 and parts[0] == provider  # SOURCES__WHOP__WHOP__<KEY>
            yield Entry("__".join(parts[nested:]), value, var, (order, -depth - nested))


# dlt's own settings that live under `sources.` (buffer sizes of the extract step's writers)
DLT_SECTIONS = ("data_writer",)


def configured_sections() -> Iterator[tuple[str, str]]:
    """(section, where it was set) for every `sources.<section>` set in the environment or TOML."""
    for config_provider in Container()[PluggableRunContext].providers.providers:
        if isinstance(config_provider, EnvironProvider):
            for var in sorted(os.environ):
                parts = var.split("__")
                if parts[0] == "SOURCES" and len(parts) > 2 and parts[1]:
                    yield parts[1].lower(), var
        elif isinstance(config_provider, SettingsTomlProvider):
            node, _ = config_provider.get_value("sources", dict, None)
            for section in node if isinstance(node, dict) else ():
                yield str(section), f"[sources.{section}] in {config_provider.name}"


def check_sections(known: Iterable[str]) -> None:
    """Raise `ConfigError` (exit 2) for a `sources.<section>` that names no provider, e.g.

    metricsync: unknown provider stripe in SOURCES__STRIPE__API_KEY - did you mean stripe_analytics?
    """
    known = sorted(known)
    for section, origin in configured_sections():
        if section not in known and section not in DLT_SECTIONS:
            close = (
                difflib.get_close_matches(section, known, n=1, cutoff=0.5)
                or [name for name in known if name.startswith(section) or section.startswith(name)][:1]
            )
            hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(known)}"
            raise ConfigError(f"metricsync: unknown provider {section} in {origin} - {hint}")


def setting(provider: str, key: str) -> Any:
    """The value of a runner setting (`key` under `sources.<provider>`) from the layout dlt would
    prefer, or None."""
    found = [entry for entry in set_entries(provider) if entry.key == key]
    return min(found, key=lambda entry: entry.rank).value if found else None


def check_settings(provider: str, source_function: Callable) -> None:
    """Raise `ConfigError` for the first unknown or malformed setting of `provider`: the known ones
    are the source function's parameters and the shared settings the runner reads."""
    params = source_parameters(source_function)
    runner = {name: spec.SHARED[name].kind for name in spec.shared_names(spec.RUNNER)}
    known = set(params) | set(runner)
    for entry in set_entries(provider):
        if entry.key not in known:
            raise ConfigError(
                f"{provider}: unknown setting {entry.key} ({entry.origin}) - {_suggest(entry.key, known)}"
            )
        check_value(provider, entry, params[entry.key].annotation if entry.key in params else runner[entry.key])


def _suggest(key: str, known: set) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]}?"
    return f"remove it; known settings: {', '.join(sorted(known))}"


def check_value(provider: str, entry: Entry, hint: Any) -> None:
    """A set value that the source could not use as given fails here, naming its origin."""
    bounds = spec.range_of(provider, entry.key)
    if bounds is not None:
        spec.number(provider, entry.key, entry.value, setting=entry.origin, bounds=bounds)
        return
    if hint is inspect.Parameter.empty or hint is Any:
        return
    inner = extract_inner_hint(hint)
    if is_optional_type(hint) and entry.value is None:
        return
    value, container = entry.value, get_origin(inner) or inner
    if container in (list, dict):
        value = _json(provider, entry) if isinstance(value, str) else value
        if not isinstance(value, container):
            noun = "a list" if container is list else "an object"
            raise ConfigError(
                f"{provider}: {entry.key} ({entry.origin}) must be {noun}, "
                f"got {type(value).__name__} - see the configuration reference, docs/configuration.md"
            )
    try:
        value = deserialize_value(entry.key, value, inner)
    except ConfigValueCannotBeCoercedException:
        kind = getattr(inner, "__name__", str(inner))
        fix = (
            "use true or false"
            if inner is bool
            else f"give a {kind} (see the configuration reference, docs/configuration.md)"
        )
        raise ConfigError(f"{provider}: {entry.key} ({entry.origin}) cannot be read as {kind} - {fix}") from None
    choices = spec.choices_of(provider, entry.key)
    if choices and value not in choices:
        allowed = " or ".join(choices) if len(choices) == 2 else "one of " + ", ".join(choices)
        raise ConfigError(f"{provider}: {entry.key} {value!r} - set {entry.origin} to {allowed}")
    nested = spec.NESTED.get(entry.key)
    if nested and isinstance(value, dict):
        for name, item in value.items():
            spec.number(provider, f"{entry.key}.{name}", item, setting=entry.origin, bounds=nested)


def _json(provider: str, entry: Entry) -> Any:
    try:
        return json.loads(entry.value)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{provider}: {entry.key} ({entry.origin}) is not valid JSON ({exc.msg} at line "
            f"{exc.lineno} column {exc.colno}) - write it as a JSON list or object, "
            'e.g. [{"name": "daily", ...}]'
        ) from None
