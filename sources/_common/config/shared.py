"""`metricsync_source`: `@dlt.source` with the shared settings (`spec.SHARED`) added to the
source function's signature, so each provider declares only its own parameters.

dlt builds a source's configuration spec from its signature: the shared settings become ordinary
source arguments there, resolved from every layout dlt knows (`SOURCES__WHOP__TIMEOUT`,
`metricsync.sources.whop.whop.timeout`, ...), known to strict config and listed by `describe`. The function
itself receives them range-checked in one argument, `shared`:

    @metricsync_source("statsig", windows_per_load=settings.WINDOWS_PER_LOAD)
    def statsig_source(api_version: str = settings.API_VERSION, control: Optional[RunControl] = None, *,
                       shared: SharedValues):
        setup = WindowedSetup("statsig", shared, control)  # sources/_common/source/windowed.py
        client = setup.client(shared.base_url, {"STATSIG-API-KEY": setup.key}, headers=headers)

Keyword arguments of the decorator are this provider's defaults where they differ from the shared
ones (`base_url` has none shared, so every source gives its own).
"""

import contextlib
import contextvars
import functools
import inspect
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Optional

import dlt
from dlt.common.configuration import known_sections
from dlt.common.configuration.container import Container
from dlt.common.configuration.resolve import inject_section
from dlt.common.configuration.specs.config_section_context import ConfigSectionContext
from dlt.common.pipeline import PipelineContext
from dlt.extract.source import DltSource, SourceSchemaInjectableContext
from metricsync.sources._common.config import spec

CLIENT_SETTINGS = (
    "max_concurrency",
    "requests_per_second",
    "rate_store",
    "timeout",
    "max_attempts",
    "max_retry_wait",
    "allow_insecure_http",
)

_FUNCTIONS: dict[str, Callable] = {}  # provider: the function dlt's decorator calls with the settings resolved
_SEEN: contextvars.ContextVar[Optional[dict]] = contextvars.ContextVar("metricsync_source_arguments", default=None)


@contextlib.contextmanager
def arguments_seen() -> Iterator[dict]:
    """The arguments dlt resolved for a source called inside (every parameter, as the function got
    them), for `source_again`: how accounts loaded together resolve their source's settings once per
    group, not per account."""
    seen: dict = {}
    token = _SEEN.set(seen)
    try:
        yield seen
    finally:
        _SEEN.reset(token)


def source_again(earlier: DltSource, arguments: dict) -> DltSource:
    """The source function of `earlier` (a source of this decorator) called again with `arguments`
    (every parameter, as `arguments_seen` gave them) as dlt's decorator calls it: in the source's
    config section, with `earlier`'s schema. Nothing is looked up and no schema made (a few
    milliseconds a call, which accounts loaded together pay once per group, not per account)."""
    proxy = Container()[PipelineContext]
    section = ConfigSectionContext(
        pipeline_name=proxy.pipeline().pipeline_name if proxy.is_active() else None,
        sections=(known_sections.SOURCES, earlier.section, earlier.name),
        source_state_key=earlier.schema.name,
    )
    with Container().injectable_context(SourceSchemaInjectableContext(earlier.schema)), inject_section(section):
        resources = _FUNCTIONS[earlier.name](**arguments)
    return DltSource(earlier.schema, earlier.section, resources)


class SharedValues(SimpleNamespace):
    """The shared settings of one source as resolved by dlt, each number checked against its range:
    `shared.lookback_days`; `shared.client` are the `build_client` keyword arguments."""

    @classmethod
    def checked(cls, provider: str, values: dict) -> "SharedValues":
        return cls(
            **{
                name: spec.number(provider, name, value) if spec.range_of(provider, name) else value
                for name, value in values.items()
            }
        )

    @property
    def client(self) -> dict:
        return {name: getattr(self, name) for name in CLIENT_SETTINGS}


def shared_parameters(names: list[str], defaults: dict) -> list[inspect.Parameter]:
    """The shared settings as keyword-only parameters, as dlt reads a source's signature."""
    parameters = []
    for name in names:
        entry = spec.SHARED[name]
        default = defaults.get(name, entry.default)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=entry.kind,
                default=dlt.secrets.value if default == spec.SECRET else default,
            )
        )
    return parameters


def metricsync_source(provider: str, windowed: bool = True, **defaults: Any) -> Callable:
    """`@dlt.source(name=provider, section=provider, max_table_nesting=0)` for a function taking `shared`
    (keyword-only) besides its own parameters; `windowed` sources also get those of scope `windowed`."""
    names = spec.shared_names(spec.SOURCE, *((spec.WINDOWED,) if windowed else ()))
    unknown = sorted(set(defaults) - set(names))
    if unknown:
        raise TypeError(f"{provider}: {unknown} are not shared settings of this source")

    def decorate(function: Callable) -> Any:
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(function).parameters.values()
            if p.name != "shared"
        ]
        clash = sorted({p.name for p in own} & set(names))
        if clash:
            raise TypeError(f"{provider}: {clash} are shared settings: drop them from the signature")

        @functools.wraps(function)
        def source(**arguments: Any) -> Any:
            seen = _SEEN.get()
            if seen is not None:
                seen.update(arguments)
            shared = SharedValues.checked(provider, {name: arguments.pop(name) for name in names})
            return function(shared=shared, **arguments)

        source.__signature__ = inspect.Signature(shared_parameters(names, defaults) + own)  # type: ignore[attr-defined]
        _FUNCTIONS[provider] = source
        return dlt.source(name=provider, section=provider, max_table_nesting=0)(source)

    return decorate
