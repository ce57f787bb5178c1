"""Loading a deploy recipe's module from its file, as Dagster and Airflow do."""

import importlib.util

from support import ROOT


def load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
