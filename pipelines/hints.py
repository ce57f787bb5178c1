"""dlt resolves its configuration (destination, writers, normalizers, merge strategy) some 150
times per provider run, and for every field and config provider it derives again from the
field's type hint whether the field is a secret and what its inner type is: walking `typing`
hints took about a tenth of a nightly run's CPU. Both answers depend on the hint alone, so
`remember_hint_checks` (called by the runner) keeps them per hint for the process; an unhashable
hint is derived each time, as before.

dlt also checks each table schema a resource computes against its TypedDict (`validate_dict`),
deriving the TypedDict's hints (`get_type_hints`, a few milliseconds) at every check: once per
resource and item, so a group of 50 accounts (`batched.py`) paid it some 200 times a chunk. The
hints of a class in its own module's namespace do not change, so they are kept per class too.
"""

import sys
from typing import Any, Callable

from dlt.common import validation
from dlt.common.configuration import resolve
from dlt.common.configuration.providers import environ
from dlt.common.configuration.specs import base_configuration


def _remembered(derive: Callable[..., Any]) -> Callable[..., Any]:
    answers: dict = {}

    def remembered(*key: Any) -> Any:
        try:
            return answers[key]
        except KeyError:
            answer = answers[key] = derive(*key)
            return answer
        except TypeError:  # an unhashable hint
            return derive(*key)

    return remembered


def remember_hint_checks() -> None:
    """Install the two remembered functions where dlt's resolver looks them up (once per process)."""
    if hasattr(base_configuration.is_secret_hint, "__wrapped__"):
        return
    secret = _remembered(base_configuration.is_secret_hint)
    inner = _remembered(base_configuration.extract_inner_hint)

    def is_secret_hint(hint: Any) -> bool:
        return secret(hint)

    def extract_inner_hint(
        hint: Any, preserve_new_types: bool = False, preserve_literal: bool = False, preserve_annotated: bool = False
    ) -> Any:
        return inner(hint, preserve_new_types, preserve_literal, preserve_annotated)

    is_secret_hint.__wrapped__ = base_configuration.is_secret_hint  # type: ignore[attr-defined]
    extract_inner_hint.__wrapped__ = base_configuration.extract_inner_hint  # type: ignore[attr-defined]
    for module in (base_configuration, resolve, environ):
        module.is_secret_hint = is_secret_hint  # type: ignore[attr-defined]
    for module in (base_configuration, resolve):
        module.extract_inner_hint = extract_inner_hint  # type: ignore[attr-defined]
    validation.get_type_hints = _class_hints(validation.get_type_hints)  # type: ignore[attr-defined]


def _class_hints(derive: Callable[..., Any]) -> Callable[..., Any]:
    """`get_type_hints` kept per class when asked in the class's own module's namespace (as
    `validate_dict` asks); any other call derived as before. The answer is only read by dlt."""
    remembered = _remembered(lambda obj: derive(obj, vars(sys.modules[obj.__module__])))

    def get_type_hints(obj: Any, globalns: Any = None, localns: Any = None, include_extras: bool = False) -> Any:
        module = sys.modules.get(getattr(obj, "__module__", ""))
        if localns is None and not include_extras and module is not None and globalns is vars(module):
            return remembered(obj)
        return derive(obj, globalns, localns, include_extras)

    get_type_hints.__wrapped__ = derive  # type: ignore[attr-defined]
    return get_type_hints
