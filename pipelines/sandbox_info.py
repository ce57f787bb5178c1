"""What `sandbox` prints on start: its URL, the keys it accepts, and the environment variables
that point all four providers at it (copy them into a shell, or into `.env`)."""

import json
import shlex
from typing import Any


def export_block(box: Any) -> list[str]:
    """`export SOURCES__<PROVIDER>__<KEY>=...` for every provider's demo settings."""
    lines = []
    for emulator in box.emulators:
        for key, value in emulator.demo_settings(box.url).items():
            text = json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
            lines.append(f"export SOURCES__{emulator.name.upper()}__{key.upper()}={shlex.quote(text)}")
    return lines


def sandbox_banner(box: Any) -> str:
    keys = ", ".join(f"{e.name} {e.api_key}" for e in box.emulators)
    return "\n".join([
        f"sandbox listening on {box.url} (Ctrl-C to stop)",
        f"API keys it accepts: {keys}",
        "point metricsync at it (then: metricsync check all; metricsync run all):",
        "",
        *export_block(box),
        "",
    ])
