"""metricsync benchmark: `python -m metricsync.bench` (see bench/RESULTS.md)."""
