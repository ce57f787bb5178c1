"""dlt resolves its configuration (destination, writers, normalizers, merge strategy) some 150
times per provider run, and for every field and config provider it derives again from the
field's type hint whether the field is a secret and what its inner type is: walking `typing`
hints took about a tenth of a nightly run's CPU. Both answers depend on the hint alone, so
`remember_hint_checks` (called by the runner) keeps them per hint for the process; an unhashable
hint is derived each time, as before.
"""

from typing import Any, Callable

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
