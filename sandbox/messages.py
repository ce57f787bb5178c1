"""A request as the sandbox saw it and the response an emulator gives back (the emulators and
the server share these; the server imports the emulators, so these live apart from it)."""

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass
class SandboxRequest:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    started: float = 0.0
    status: int = 0
    fault: Optional[str] = None
    client_port: int = 0  # the client's end of the connection (tests: which process sent it)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: Any = None) -> Any:
        values = self.query.get(name) or self.query.get(name + "[]")
        return values[-1] if values else default

    def args(self, name: str) -> list:
        return list(self.query.get(name + "[]", [])) + list(self.query.get(name, []))

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def log_entry(self) -> dict:
        entry = asdict(self)
        entry["body"] = self.body.decode("utf-8", "replace")
        return entry


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)
    raw: Optional[bytes] = None

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body, default=str).encode()
