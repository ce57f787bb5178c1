"""The providers the runner knows: the one registry line a provider adds. Everything else the runner
needs of a provider lives in its folder (`sources/<provider>/settings.py`: its tables, account
parameters, placeholder arguments; `helpers.py`: the `probe` that `check` sends). Sources are
imported only when run (a bare `import dlt` is costly); `settings.py` imports nothing."""

import importlib
from types import ModuleType
from typing import Any, Callable

PROVIDERS = {
    "whop": "metricsync.sources.whop:whop_source",
    "stripe_analytics": "metricsync.sources.stripe_analytics:stripe_analytics_source",
    "posthog": "metricsync.sources.posthog:posthog_source",
    "statsig": "metricsync.sources.statsig:statsig_source",
}


def provider_module(provider: str, name: str) -> ModuleType:
    """`sources/<provider>/<name>.py` of a registered provider (e.g. its `settings`, `helpers`)."""
    return importlib.import_module(f"{PROVIDERS[provider].partition(':')[0]}.{name}")


def provider_facts(attribute: str) -> dict:
    """{provider: settings.<attribute>} over every registered provider."""
    return {provider: getattr(provider_module(provider, "settings"), attribute) for provider in PROVIDERS}


def source_factory(provider: str) -> Callable[..., Any]:
    module, _, name = PROVIDERS[provider].partition(":")
    return getattr(importlib.import_module(module), name)


def is_configured(provider: str) -> bool:
    """A provider counts as configured for `all` when anything is set under `sources.<provider>`
    (an API key, accounts or any other setting): configured means expected, so a provider whose
    key is missing or misspelt fails instead of being left out silently."""
    from metricsync.sources._common.config.strict import (  # noqa: PLC0415 - start-up time (imports dlt, pyarrow, httpx)
        set_entries,
    )

    return any(True for _entry in set_entries(provider))
