"""metricsync runner: `python -m pipelines run <provider>... [--destination ...] [--from D --to D]`."""
