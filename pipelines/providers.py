"""The providers the runner knows, imported only when run (a bare `import dlt` is costly)."""

import importlib
from typing import Any, Callable

PROVIDERS = {
    "whop": "sources.whop:whop_source",
    "stripe_analytics": "sources.stripe_analytics:stripe_analytics_source",
    "posthog": "sources.posthog:posthog_source",
    "statsig": "sources.statsig:statsig_source",
}


def source_factory(provider: str) -> Callable[..., Any]:
    module, _, name = PROVIDERS[provider].partition(":")
    return getattr(importlib.import_module(module), name)


def is_configured(provider: str) -> bool:
    """A provider counts as configured for `all` when anything is set under `sources.<provider>`
    (an API key, accounts or any other setting): configured means expected, so a provider whose
    key is missing or misspelt fails instead of being left out silently."""
    from sources._common.config.strict import set_entries

    return any(True for _entry in set_entries(provider))
