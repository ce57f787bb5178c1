"""Alerts through [Apprise](https://github.com/caronc/apprise) URLs: Slack, email, Teams, Discord,
PagerDuty, a JSON webhook (`json://host/path`) and the rest, configured as

    [alerts]
    urls = ["slack://T000/B000/XXXX", "json://alerts.example.com/metricsync"]
    on_success = false   # true: also one message per successful provider

or `ALERTS__URLS='["json://..."]'`. One alert when a provider's streak of failures starts (per
provider, account and command: a second failing night says nothing more), one when it recovers,
and, with `on_success`, one per success. A message names provider, account, command, exit code and
its meaning, the one line (what to do), host and run id; the URLs (which hold tokens) are secrets.
An alert that cannot be delivered is logged as a WARNING and changes no exit code.
"""

import json
import logging
from typing import Any, Optional

import dlt
from metricsync.sources._common.errors import ConfigError
from metricsync.sources._common.http.redaction import register_secret

from . import evolution, vanishing
from .history import previous, streak_start

logger = logging.getLogger("metricsync.alerts")
STALE = 8  # `status --stale`


def urls() -> list[str]:
    """`alerts.urls`: a list (TOML, or JSON in `ALERTS__URLS`), or one URL; registered as secrets."""

    value = dlt.config.get("alerts.urls")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [text] if text else []
        except json.JSONDecodeError:
            raise ConfigError(
                'alerts: alerts.urls (ALERTS__URLS) is not valid JSON - write it as a list, ["json://host/path", ...]'
            ) from None
    found = [str(url).strip() for url in value or [] if str(url).strip()]
    for url in found:
        register_secret(url)
    return found


def on_success() -> bool:
    return str(dlt.config.get("alerts.on_success") or "").strip().lower() in ("true", "1", "yes")


def kind_of(row: dict, before: Optional[dict], every_success: bool) -> Optional[str]:
    """ "failure" when a streak starts, "recovery" when it ends, "success" when asked, else None."""
    failed_before = before is not None and before["exit_code"] != 0
    if row["exit_code"] != 0:
        return None if failed_before else "failure"
    if failed_before:
        return "recovery"
    return "success" if every_success else None


def message(row: dict, kind: str, since: Optional[dict] = None) -> tuple[str, str]:
    """(title, body) of an alert on a history row (`since`: the first failure a recovery ends)."""
    who = row["provider"] + (f" (account {row['account']})" if row["account"] else "")
    code = f"exit {row['exit_code']}, {row['outcome']}"
    failed = "is stale" if row["exit_code"] == STALE else "failed"
    title = {
        "failure": f"metricsync: {who} {failed} ({code})",
        "recovery": f"metricsync: {who} recovered",
        "success": f"metricsync: {who} ok",
    }[kind]
    lines = [row["message"]]
    if kind == "recovery" and since:
        lines.append(
            f"failing since {since['finished_at']:%Y-%m-%d %H:%M} UTC (exit {since['exit_code']}, {since['outcome']})"
        )
    lines.append(f"provider {row['provider']}, account {row['account'] or '-'}, command {row['command']}, {code}")
    lines.append(f"host {row['host']}, run id {row['run_id']}")
    return title, "\n".join(lines)


def told_message(row: dict, column: str) -> tuple[str, str]:
    """(title, body) of the alert on what a successful run told: the tables and columns it added
    (`schema_changes`), or the tables whose rows fell and the windows that came back empty (`vanished`)."""

    who = row["provider"] + (f" (account {row['account']})" if row["account"] else "")
    items = json.loads(row[column])
    said = map(evolution.describe, items) if column == "schema_changes" else map(vanishing.item, items)
    what = "schema changed" if column == "schema_changes" else vanishing.headline(items)
    return (
        f"metricsync: {who} {what}",
        "\n".join(said) + f"\nprovider {row['provider']}, account {row['account'] or '-'}, command "
        f"{row['command']}\nhost {row['host']}, run id {row['run_id']}",
    )


def send(title: str, body: str, kind: str = "failure", targets: Optional[list] = None) -> bool:
    """One message to every configured URL; False (and a WARNING) when one could not be delivered."""
    import apprise  # noqa: PLC0415 - start-up time (imports apprise)

    targets = urls() if targets is None else targets
    if not targets:
        return False
    app = apprise.Apprise()
    for url in targets:
        if not app.add(url):
            logger.warning("alerts: one of alerts.urls is not an Apprise URL Apprise understands - check it")
    notify_type = {
        "failure": apprise.NotifyType.FAILURE,
        "recovery": apprise.NotifyType.SUCCESS,
        "success": apprise.NotifyType.SUCCESS,
    }.get(kind, apprise.NotifyType.INFO)
    delivered = bool(len(app)) and bool(app.notify(title=title, body=body, notify_type=notify_type))
    if not delivered:
        logger.warning(
            "alerts: %r could not be delivered to every alerts.urls target - check them with "
            "`metricsync alerts --test`",
            title,
        )
    return delivered


def send_for(rows: list[dict], earlier: list[dict]) -> None:
    """The alerts `rows` call for, given the rows stored before them (newest first)."""
    try:
        targets = urls()
    except ConfigError as exc:
        logger.warning("%s", exc)
        return
    if not targets:
        return
    every_success = on_success()
    for row in rows:
        kind = kind_of(row, previous(earlier, row), every_success)
        if kind:
            send(*message(row, kind, streak_start(earlier, row)), kind=kind, targets=targets)
        for column in ("schema_changes", "vanished"):
            if row.get(column) not in (None, "", "[]"):
                send(*told_message(row, column), kind="info", targets=targets)


def test_message(host: str) -> tuple[str, str]:
    return "metricsync: test alert", f"a test message from metricsync on {host} (metricsync alerts --test)"


def describe(value: Any) -> str:
    return "1 URL" if len(value) == 1 else f"{len(value)} URLs"
