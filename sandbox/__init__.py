"""A local emulator of the four provider APIs, written from their docs (`../shared/api-docs/`).

Deterministic data, revisions of recent periods on demand, switchable faults and a request log.
`python -m metricsync sandbox --port N` serves it; tests start it in-process (`Sandbox().start()`).
"""

from .server import Fault, Sandbox

__all__ = ["Fault", "Sandbox"]
