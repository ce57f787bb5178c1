"""Stripe Analytics emulator (placeholder until the Stripe issue)."""

from .base import Emulator
from .server import Response


class StripeEmulator(Emulator):
    name = "stripe_analytics"
    prefix = "/v2/"
    api_key = "sk_test_sandbox_stripe"

    def handle(self, request, base_url):
        return Response(404, {"error": {"message": "not emulated yet"}})
