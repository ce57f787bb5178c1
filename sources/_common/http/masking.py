"""Every configured credential registered for masking (`redaction.register_secret`) when a command
starts, before anything parses it: a value that dlt, SQLAlchemy or a driver later quotes in an
error (`Could not parse SQLAlchemy URL from string '...'`) is masked wherever it is printed or logged.

What is a credential is decided from the name and shape of every value set in the environment and
in the TOML files dlt reads (`config.toml`, `secrets.toml`), without resolving anything:

* a value whose name ends in a secret word (`SOURCES__WHOP__API_KEY`, `...__CREDENTIALS__PASSWORD`,
  `PGPASSWORD`, `motherduck_token`, ...), also inside a JSON setting (each account's `api_key` in
  `SOURCES__WHOP__ACCOUNTS`);
* in any value shaped like a URL or an `md:` path: the password of `user:password@host` (the scheme
  may be missing, as in a mistyped `postgres:pw@host/db`) and query parameters named like a secret
  (`?motherduck_token=...`, `?password=...`), as written and percent-decoded.

A secret equal to a configured user name (`postgres:postgres@...`, `PGPASSWORD=postgres`) is left
alone: the user name is shown anyway, and masking it would mask every `postgres` in every message.

>>> sorted(secrets_in("destination.postgres.credentials", "postgres:s3cr%40t@db/analytics"))
[('secret', 's3cr%40t'), ('secret', 's3cr@t'), ('user', 'postgres')]
"""

import json
import os
import re
from typing import Any, Iterator
from urllib.parse import parse_qsl, unquote

from metricsync.sources._common.http.redaction import set_configured_secrets

SECRET_WORDS = (
    "password",
    "passwd",
    "token",
    "secret",
    "api_key",
    "apikey",
    "private_key",
    "access_key",
    "secret_key",
    "dsn",
)
# `user:password@` at the start of a value or after `scheme://`; the password runs to the last `@`
# before the path, as SQLAlchemy and libpq read it
USERINFO = re.compile(r"^(?:[\w+.-]+://)?(?P<user>[^:/@\s]*):(?P<password>.+)@[^@]*$")
NOT_SECRETS = {"true", "false", "none", "null"}


def is_secret_name(name: str) -> bool:
    """`SOURCES__WHOP__API_KEY`, `password`, `motherduck_token`, `PGPASSWORD`: named like a secret."""
    return name.lower().rsplit("__", 1)[-1].rsplit(".", 1)[-1].endswith(SECRET_WORDS)


def secrets_in(name: str, value: Any) -> Iterator[tuple[str, str]]:
    """("secret" or "user", text) for the secrets and user names in one configured value named
    `name` (nested lists and objects, and JSON text, walked)."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, dict):
        for key, item in value.items():
            yield from secrets_in(str(key), item)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from secrets_in(name, item)
        return
    if value is None or isinstance(value, bool):
        return
    text = str(value).strip()
    if is_secret_name(name):
        yield "secret", text
    elif name.lower().endswith(("user", "username")):
        yield "user", text
    yield from _url_secrets(text)


def _url_secrets(text: str) -> Iterator[tuple[str, str]]:
    """The user, the password and the secret query parameters of a URL-like value."""
    head, _, query = text.partition("?")
    match = USERINFO.match(head)
    if match and match.group("password"):
        yield "user", match.group("user")
        yield "secret", match.group("password")
        yield "secret", unquote(match.group("password"))
    for key, item in parse_qsl(query, keep_blank_values=False):
        if is_secret_name(key):
            yield "secret", item
            yield "secret", unquote(item)


def configured_values() -> Iterator[tuple[str, Any]]:
    """(name, value) of every environment variable and every leaf of the TOML files dlt reads."""
    yield from os.environ.items()
    from dlt.common.configuration.container import Container  # noqa: PLC0415 - start-up time (imports dlt)
    from dlt.common.configuration.providers import SettingsTomlProvider  # noqa: PLC0415 - start-up time (imports dlt)
    from dlt.common.configuration.specs.pluggable_run_context import (  # noqa: PLC0415 - start-up time (imports dlt)
        PluggableRunContext,
    )

    for provider in Container()[PluggableRunContext].providers.providers:
        if isinstance(provider, SettingsTomlProvider):
            yield from _leaves("", provider._config_doc)  # dlt keeps the parsed documents there


def _leaves(path: str, node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, item in node.items():
            yield from _leaves(f"{path}.{key}" if path else str(key), item)
    else:
        yield path, node


def register_configured_secrets() -> int:
    """Register every credential set in the environment or TOML (replacing those of a previous
    read); returns how many strings were registered (a secret and its decoded form count once each)."""
    found: dict[str, set] = {"secret": set(), "user": set()}
    for name, value in configured_values():
        for kind, text in secrets_in(name, value):
            found[kind].add(text)
    secrets = {s for s in found["secret"] - found["user"] if s.lower() not in NOT_SECRETS}
    set_configured_secrets(secrets)
    return len(secrets)
