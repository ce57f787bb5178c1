"""Statsig emulator (placeholder until the Statsig issue)."""

from .base import Emulator
from .server import Response


class StatsigEmulator(Emulator):
    name = "statsig"
    prefix = "/console/v1/"
    api_key = "console-sandbox-statsig"

    def handle(self, request, base_url):
        return Response(404, {"error": {"message": "not emulated yet"}})
