"""Every provider's settings pointed at the sandbox, as an operator's config would."""

import datetime as dt

from support import configure, today

TODAY = today()  # UTC, by the one clock (METRICSYNC_TODAY)
START = TODAY - dt.timedelta(days=20)
WALLET = [{"name": "daily", "group_by": "day"}, {"name": "weekly", "group_by": "week"}]


def point_all_at_sandbox(monkeypatch, sandbox, **overrides) -> None:
    """Every provider configured against the sandbox, as `sandbox` prints it (short history)."""
    for emulator in sandbox.emulators:
        settings = emulator.demo_settings(sandbox.url)
        if "start_date" in settings:
            settings["start_date"] = START.isoformat()
        if emulator.name == "whop":
            settings["wallet_queries"] = WALLET
        settings.update(overrides.get(emulator.name, {}))
        configure(monkeypatch, emulator.name, **settings)
