"""Shared settings declared once (`spec.SHARED`): each source gets them by scope, a new entry is
resolved, strictly checked, range-checked and documented with no other edit, and the README table
and `.env.example` are what `python -m metricsync.reference` generates from them."""

import os
import shutil
import subprocess
import sys
from typing import Any

import dlt
import pytest
from metricsync import catalog, reference
from metricsync.providers import PROVIDERS, source_factory
from metricsync.sources._common.config import spec
from metricsync.sources._common.config.shared import SharedValues, metricsync_source
from metricsync.sources._common.config.strict import check_settings, source_parameters
from metricsync.sources._common.errors import ConfigError
from support import ROOT, configure

WINDOWED = {"whop": True, "stripe_analytics": True, "statsig": True, "posthog": False}


def test_reference_files_are_generated_from_the_settings(tmp_path):
    """The committed docs/configuration.md table and `.env.example` are up to date (else: run the command, as
    written, in the repository's root; here in a folder holding copies of both files)."""
    (tmp_path / "docs").mkdir()
    for name in ("docs/configuration.md", ".env.example"):
        shutil.copy(ROOT / name, tmp_path / name)
    done = subprocess.run(
        [sys.executable, "-m", "metricsync.reference"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for name in ("docs/configuration.md", ".env.example"):
        assert (tmp_path / name).read_text() == (ROOT / name).read_text(), (
            f"{name} is out of date: run python -m metricsync.reference"
        )


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_each_source_takes_the_shared_settings_of_its_scope(provider):
    names = set(source_parameters(source_factory(provider)))
    windowed = {"start_date", "lookback_days", "windows_per_load", "checkpoint_seconds"}
    everywhere = {
        "api_key",
        "base_url",
        "max_concurrency",
        "requests_per_second",
        "timeout",
        "max_attempts",
        "max_retry_wait",
        "allow_insecure_http",
    }
    assert everywhere <= names
    assert (windowed <= names) if WINDOWED[provider] else not (windowed & names)


def test_a_windowed_setting_given_to_posthog_is_unknown(monkeypatch):
    configure(monkeypatch, "posthog", lookback_days=3)
    with pytest.raises(ConfigError, match=r"posthog: unknown setting lookback_days \(SOURCES__POSTHOG__LOOKBACK_DAYS"):
        check_settings("posthog", source_factory("posthog"))


@pytest.fixture
def probe(monkeypatch):
    """One new shared entry, as a developer would add it to `spec.SHARED`, and a source built after."""
    entry = spec.Shared(float, 5.0, "seconds a probe waits", spec.Range(float, 1, 10))
    monkeypatch.setitem(spec.SHARED, "probe_seconds", entry)

    @metricsync_source("whop", windowed=False, base_url="http://127.0.0.1:9")
    def probe_source(control: Any = None, *, shared: SharedValues) -> Any:
        @dlt.resource(name="probe")
        def rows() -> Any:
            yield {"probe_seconds": shared.probe_seconds, "timeout": shared.timeout}

        return rows

    return probe_source


SET = [  # what is configured -> the value the source gets
    pytest.param({}, 5.0, id="default"),
    pytest.param({"SOURCES__WHOP__PROBE_SECONDS": "7"}, 7.0, id="env"),
    pytest.param({"SOURCES__WHOP__WHOP__PROBE_SECONDS": "2.5"}, 2.5, id="env-source-section"),
]


@pytest.mark.parametrize("env, expected", SET)
def test_a_new_shared_entry_reaches_the_source(probe, monkeypatch, env, expected):
    configure(monkeypatch, "whop", api_key="k")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    check_settings("whop", probe)
    assert list(probe().resources["probe"]) == [{"probe_seconds": expected, "timeout": 30.0}]


@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "probe_seconds",
            "11",
            "whop: probe_seconds '11' is out of range - set SOURCES__WHOP__PROBE_SECONDS to a number from 1 to 10",
        ),
        (
            "probe_second",
            "3",
            "whop: unknown setting probe_second (SOURCES__WHOP__PROBE_SECOND) - did you mean probe_seconds?",
        ),
    ],
    ids=["out-of-range", "misspelt"],
)
def test_a_new_shared_entry_is_checked_strictly(probe, monkeypatch, name, value, message):
    configure(monkeypatch, "whop", api_key="k", **{name: value})
    with pytest.raises(ConfigError) as failed:
        check_settings("whop", probe)
    assert str(failed.value) == message
    if name == "probe_seconds":  # a source called without the runner's check still refuses it
        with pytest.raises(ConfigError, match=r"whop: probe_seconds 11.0 is out of range - set SOURCES__WHOP__PROBE"):
            probe()


def test_a_new_shared_entry_is_documented(probe):
    assert "| `probe_seconds` | 5 | 1–10 | seconds a probe waits |" in reference.shared_table()


def test_a_new_runner_entry_is_known_and_described(monkeypatch):
    """A setting the runner reads (scope `runner`): strict config knows it, `describe` lists it."""
    monkeypatch.setitem(
        spec.SHARED,
        "lock_probe_seconds",
        spec.Shared(float, 600.0, "seconds to wait", spec.Range(float, 0, 3600), spec.RUNNER),
    )
    configure(monkeypatch, "statsig", lock_probe_seconds=30)
    check_settings("statsig", source_factory("statsig"))
    listed = {s.name: (s.default, s.value, s.env) for s in catalog.settings("statsig")}
    assert listed["lock_probe_seconds"] == (600.0, "30", "SOURCES__STATSIG__LOCK_PROBE_SECONDS")
