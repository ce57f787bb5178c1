"""PostHog emulator (placeholder until the PostHog issue)."""

from .base import Emulator
from .server import Response


class PostHogEmulator(Emulator):
    name = "posthog"
    prefix = "/api/projects/"
    api_key = "phx_sandbox_posthog"

    def handle(self, request, base_url):
        return Response(404, {"error": {"message": "not emulated yet"}})
