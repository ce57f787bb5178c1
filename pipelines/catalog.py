"""What each provider can load, for `check`, `describe`, `reset` and `--resources/--queries`:
its settings (default, resolved value, environment variable), its windowed resources and the
queries configured for them. Nothing here makes a request or touches a destination."""

import difflib
import inspect
import typing
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import dlt
from metricsync.sources._common.config import spec
from metricsync.sources._common.config.strict import check_sections
from metricsync.sources._common.errors import ConfigError

from .providers import PROVIDERS, is_configured, provider_facts, provider_module, source_factory

# windowed resource -> the setting listing its queries (None: one fixed query named like the
# resource), and the definition resources (scd2 snapshots, no queries), from each provider's settings.py
WINDOWED = provider_facts("WINDOWED_TABLES")
DEFINITIONS = provider_facts("DEFINITION_TABLES")
SECRETS = {"api_key"}


def resource_names(provider: str) -> list[str]:
    return [*DEFINITIONS[provider], *WINDOWED[provider]]


@dataclass
class Setting:
    name: str
    default: Any
    value: Any
    env: str
    secret: bool


def suggest(word: str, choices: Sequence[str]) -> str:
    """` - did you mean 'x'?` for the closest choice, or a list of them."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    if close:
        return f" - did you mean {close[0]!r}?"
    return f" - use one of {', '.join(choices)}"


def _expected_type(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Union and len(args) == 1:
        annotation = args[0]
    origin = typing.get_origin(annotation)
    if origin in (list, dict):
        return origin
    return annotation if annotation in (str, int, float, bool) else None


def settings(provider: str) -> list[Setting]:
    """Every key of `sources.<provider>`, with its default and the value configured here."""

    result = []
    for name, param in inspect.signature(source_factory(provider)).parameters.items():
        if name == "control":
            continue
        secret = name in SECRETS
        key = f"sources.{provider}.{name}"
        try:
            value = dlt.secrets.get(key) if secret else dlt.config.get(key, _expected_type(param.annotation))
        except Exception:  # noqa: BLE001 - a malformed value is reported by the source's own checks
            value = None
        default = None if secret or param.default is inspect.Parameter.empty else param.default
        result.append(Setting(name, default, value, f"SOURCES__{provider.upper()}__{name.upper()}", secret))
    for name in spec.shared_names(spec.RUNNER):  # read by the runner, not by the source function
        value = dlt.config.get(f"sources.{provider}.{name}")
        result.append(
            Setting(name, spec.SHARED[name].default, value, f"SOURCES__{provider.upper()}__{name.upper()}", False)
        )
    return result


def meaning(provider: str, name: str) -> str:
    """A setting in words: a shared one's from `spec.SHARED`, a source's own from `SETTING_MEANINGS`
    in its settings.py."""
    shared = spec.SHARED.get(name)
    if shared:
        return shared.meaning
    return provider_module(provider, "settings").SETTING_MEANINGS.get(name, f"see docs/configuration.md, {provider}")


def setting_values(provider: str) -> dict:
    return {s.name: s.default if s.value is None else s.value for s in settings(provider)}


def configured_queries(provider: str, values: Optional[dict] = None) -> dict[str, list[str]]:
    """Windowed resource -> names of its configured queries."""
    values = values if values is not None else setting_values(provider)
    found = {}
    for resource, setting in WINDOWED[provider].items():
        if setting is None:
            found[resource] = [resource]
            continue
        entries = values.get(setting) or []
        if isinstance(entries, dict):
            entries = [entries]
        found[resource] = [q["name"] for q in entries if isinstance(q, dict) and q.get("name")]
    return found


@dataclass
class Selection:
    """`--resources` / `--queries` checked against what the provider has."""

    resources: Optional[list[str]] = None
    queries: Optional[set] = None

    @property
    def everything(self) -> bool:
        return self.resources is None and self.queries is None


def select(provider: str, resources: Optional[Sequence[str]], queries: Optional[Sequence[str]]) -> Selection:
    """Which resources to run: `resources` as given, and with `queries` only the windowed
    resources holding one of them. Unknown names fail with a did-you-mean."""
    if not resources and not queries:
        return Selection()
    names = resource_names(provider)
    chosen = list(names)
    configured = configured_queries(provider)
    if resources:
        for name in resources:
            if name not in names:
                raise ConfigError(f"{provider}: no resource {name!r}{suggest(name, names)}")
            if name in configured and not configured[name]:
                raise ConfigError(
                    f"{provider}: {name} has no queries configured - set sources.{provider}.{WINDOWED[provider][name]}"
                )
        chosen = [r for r in names if r in resources]
    if not queries:
        return Selection(chosen)
    by_resource = {r: q for r, q in configured.items() if r in chosen}
    known = sorted({q for names in by_resource.values() for q in names})
    for name in queries:
        if name not in known:
            hint = suggest(name, known) if known else " - no queries are configured"
            raise ConfigError(f"{provider}: no query {name!r}{hint}")
    chosen = [r for r in chosen if set(by_resource.get(r, ())) & set(queries)]
    return Selection(chosen, set(queries))


def provider_names(names: Sequence[str], allow_all: bool = True) -> list[str]:
    """Known provider names, in order, with `all` expanded to the configured ones (any setting
    under `sources.<provider>`); a `sources.<section>` naming no provider fails first."""

    check_sections(PROVIDERS)
    for name in names:
        if name != "all" and name not in PROVIDERS:
            raise ConfigError(f"metricsync: unknown provider {name!r}{suggest(name, [*PROVIDERS, 'all'])}")
    if "all" not in names or not allow_all:
        return list(dict.fromkeys(names))
    chosen = [p for p in PROVIDERS if is_configured(p)]
    if not chosen:
        raise ConfigError(
            "metricsync: no provider is configured - set SOURCES__<PROVIDER>__API_KEY (see docs/getting-started.md)"
        )
    return chosen
