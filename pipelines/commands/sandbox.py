"""What `sandbox` prints on start: its URL, the keys it accepts, and the environment variables
that point all four providers at it (copy them into a shell, or into `.env`)."""

import json
import shlex
import signal
import threading
from typing import Any

from metricsync.commands._options import add_command, check_numbers
from metricsync.sandbox import Sandbox


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
    return "\n".join(
        [
            f"sandbox listening on {box.url} (Ctrl-C to stop)",
            f"API keys it accepts: {keys}",
            "point metricsync at it (then: metricsync check all; metricsync run all):",
            "",
            *export_block(box),
            "",
        ]
    )


def register(commands) -> None:
    sandbox = add_command(
        commands,
        "sandbox",
        "metricsync sandbox --port 8765",
    )
    sandbox.add_argument("--port", default=8765)
    sandbox.add_argument("--latency", default=0.0, help="seconds added to every response")
    sandbox.add_argument("--max-in-flight", help="answer 429 above this many concurrent requests")


def main(args: Any) -> int:
    from metricsync.sources._common.config.spec import Range  # noqa: PLC0415 - start-up time (imports pyarrow, httpx, rich)

    check_numbers(
        args,
        [
            ("--port", "port", Range(int, 1, 65535)),
            ("--latency", "latency", Range(float, 0, 60)),
            ("--max-in-flight", "max_in_flight", Range(int, 1, 10_000, optional=True)),
        ],
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as Ctrl-C does
    box = Sandbox(latency=args.latency, max_in_flight=args.max_in_flight).start(args.port)
    print(sandbox_banner(box), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
    return 0
