"""The repository's root, provider settings as env vars, and the session's shared folders (built
once under pytest-xdist)."""

import datetime as dt
import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from metricsync.sandbox import Sandbox  # noqa: E402

from support.clock import today

ROOT = Path(__file__).resolve().parents[2]


def configure(monkeypatch: pytest.MonkeyPatch, provider: str, **settings: Any) -> None:
    """Set `SOURCES__<PROVIDER>__<KEY>` env vars (lists and dicts as JSON)."""
    for key, value in settings.items():
        name = f"SOURCES__{provider.upper()}__{key.upper()}"
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value))


# -- one loaded warehouse per session, copied by read-only tests ---------------------------------
LOADED_DAYS = 40  # every provider's start_date in the shared warehouse: this many days before today (UTC)


def loaded_settings(box: Sandbox) -> dict:
    """`SOURCES__*` variables of the shared warehouse: each emulator's demo settings pointed at
    `box`, starting `LOADED_DAYS` before today."""
    start = (today() - dt.timedelta(days=LOADED_DAYS)).isoformat()
    variables = {}
    for emulator in box.emulators:
        settings = emulator.demo_settings(box.url)
        if "start_date" in settings:
            settings["start_date"] = start
        for key, value in settings.items():
            text = json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
            variables[f"SOURCES__{emulator.name.upper()}__{key.upper()}"] = text
    return variables


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that `build(folder)` fills once per run: under pytest-xdist the workers share it
    (the first to take its lock builds it; the others wait, then reuse it), else this session's own."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # the run's temporary folder, above each worker's
    folder = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder
