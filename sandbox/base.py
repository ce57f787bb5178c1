"""What every provider emulator shares: its URL prefix, its settings and its API keys."""

import copy
import datetime as dt
from typing import Any

from .messages import Response, SandboxRequest


class Emulator:
    name = ""
    prefix = "/"
    api_key = ""
    default_settings: dict = {}

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.settings = copy.deepcopy(self.default_settings)

    def handles(self, path: str) -> bool:
        return path.startswith(self.prefix)

    def reset(self) -> None:
        self.settings = copy.deepcopy(self.default_settings)

    @property
    def today(self) -> dt.date:
        return self.sandbox.today

    def revision(self, day: dt.date) -> int:
        return self.sandbox.revisions.of(day)

    def handle(self, request: SandboxRequest, base_url: str) -> Response:
        raise NotImplementedError

    def demo_settings(self, sandbox_url: str) -> dict:
        """`sources.<name>.*` settings that point the source at this sandbox (demo, bench);
        empty while the provider has no source."""
        return {}
