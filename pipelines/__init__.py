"""metricsync runner: `python -m metricsync run <provider>... [--destination ...] [--from D --to D]`."""
