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
    """A provider counts as configured for `all` when its API key can be resolved, or it lists
    accounts."""
    import dlt

    try:
        return bool(dlt.secrets.get(f"sources.{provider}.api_key") or dlt.config.get(f"sources.{provider}.accounts"))
    except Exception:
        return False
