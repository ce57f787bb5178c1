"""The dbt project metricsync ships (package data of `metricsync.transform`; see setup.py)."""
