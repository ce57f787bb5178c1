"""metricsync dlt sources: one package per provider, shared machinery in `_common`."""
