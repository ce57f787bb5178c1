"""`metricsync report` over the session's loaded warehouse (every provider, the marts, the run
history of `run all --transform`), written by the commands docs/report.md shows and opened in
Debian's headless Chromium: no console error, no request but the file itself, screenshots in
light and dark, and the rendered text checked against the run history and `metricsync query`'s
answers."""

import json
import re
import shlex
import struct

import pytest
from metricsync.cli import main
from support import ROOT, require
from support.browser import Chromium, available

BAD_KEY = "revoked_key_4711"


def help_examples() -> list[list[str]]:
    """`metricsync report --help`'s examples, each as its words after `metricsync`."""
    import argparse

    from metricsync.commands import report

    parser = argparse.ArgumentParser(prog="metricsync")
    report.register(parser.add_subparsers())
    epilog = parser._subparsers._group_actions[0].choices["report"].epilog
    return [line.split()[1:] for line in epilog.splitlines()[1:]]


def cli(capsys, *args):
    code = main([*args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


def last_complete_mrr(capsys) -> list[str]:
    """The headline the report must show for each series: `metricsync query`'s newest complete month."""
    code, out, err = cli(capsys, "query", "mrr", "--grain", "month", "--json")
    assert code == 0, err
    newest: dict = {}
    for row in json.loads(out):
        if row["mrr_is_complete"] == "true" and row["mrr"] != "":
            newest[(row["series"], row["currency"])] = row  # rows come sorted by month
    assert newest, out
    return [
        f"{series}: {row['mrr']} {currency.upper()} in {row['month'][:7]} (last complete)"
        for (series, currency), row in newest.items()
    ]


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def documented(fence: str) -> list[str]:
    """The lines of docs/report.md's code blocks of one kind (`sh`, `python`)."""
    text = (ROOT / "docs" / "report.md").read_text()
    return [line for block in re.findall(rf"```{fence}\n(.*?)```", text, re.S) for line in block.splitlines()]


def run_documented_commands(capsys, isolated) -> None:
    """docs/report.md's commands, as written (the same as `metricsync report --help`'s examples)."""
    commands = [shlex.split(line.split("#")[0]) for line in documented("sh")]
    assert [words[0] for words in commands] == [".venv/bin/metricsync"] * 3
    assert [words[1:] for words in commands] == help_examples()
    for words, page in zip(commands, ("report.html", "metricsync.html", "north-south.html")):
        code, out, err = cli(capsys, *words[1:])
        assert (code, out, err) == (0, f"report: wrote {isolated / page}\n", "")
    page = (isolated / "metricsync.html").read_text()
    assert "runs and periods since 2026-11-01" in page and "Monthly recurring revenue (Stripe)" in page
    page = (isolated / "north-south.html").read_text()
    assert "accounts north, south" in page and "No run recorded" in page  # the warehouse has no such account
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/", "")


@pytest.mark.timeout(400)
def test_the_documented_report_opens_offline_in_chromium_and_tells_the_history_and_the_semantic_layers_numbers(
    loaded_duckdb, isolated, monkeypatch, capsys
):
    require("METRICSYNC_REQUIRE_CHROMIUM", None if available() else "no chromium", "Debian's chromium")
    monkeypatch.setenv("SOURCES__WHOP__API_KEY", BAD_KEY)
    code, _, failed = cli(capsys, "run", "whop")  # a revoked key: recorded in the history, exit 4
    assert code == 4, failed
    run_documented_commands(capsys, isolated)  # the first writes report.html
    headlines = last_complete_mrr(capsys)
    with Chromium() as browser:
        page = browser.open(str(isolated / "report.html"))
        text = page.text
        assert page.errors == []
        assert page.requests == [(isolated / "report.html").as_uri()]  # nothing from the network, no CDN
        light = page.screenshot("light", isolated / "light.png")
        dark = page.screenshot("dark", isolated / "dark.png")
    assert png_size(light)[0] >= 1000 and png_size(light)[1] > 2000 and dark.read_bytes() != light.read_bytes()
    for headline in headlines:
        assert headline in text, text
    lines = text.splitlines()
    whop = next(line for line in lines if line.startswith("whop\t"))
    assert "exit 4 authentication or permission" in whop and failed.strip().splitlines()[-1] in whop
    for provider in ("stripe_analytics", "posthog", "statsig"):  # `run all --transform`'s runs, each ok
        assert re.search(rf"^{provider}\t.*\tok\t1\t0\t", text, re.M), provider
    assert "warehouse.duckdb" in text and "metricsync 0.1.0" in text
    freshness = [line for line in lines if line.startswith("stripe_analytics\tmetric_results / ")]
    assert freshness and all("\tfresh\t" in line for line in freshness)
    for title in ("Net revenue per month (Whop wallet)", "Active subscriptions (Stripe)", "Statsig metrics"):
        assert title in text
    (isolated / "report.html").unlink()
    namespace: dict = {}
    exec("\n".join(documented("python")), namespace)  # docs/report.md's lines for a Dagster asset
    assert namespace["written"].path == str(isolated / "report.html") and namespace["written"].problems == []
    assert "Runs over the period" in (isolated / "report.html").read_text()


def test_a_warehouse_not_transformed_yet_says_what_to_run(isolated, monkeypatch, capsys):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(isolated / "empty.duckdb"))
    code, out, err = cli(capsys, "report")
    assert code == 0
    hint = "report: Monthly recurring revenue (Stripe): the mart metrics.fct_mrr_monthly is not built - run "
    assert f"{hint}metricsync transform --destination duckdb" in err.splitlines()
    assert hint in (isolated / "report.html").read_text()


def test_an_unreachable_warehouse_fails_in_one_line_and_writes_nothing(isolated, monkeypatch, capsys):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://loader:s3cret@127.0.0.1:9/analytics")
    code, out, err = cli(capsys, "report", "--destination", "postgres")
    assert code == 5 and out == ""
    assert len(err.strip().splitlines()) == 1 and "s3cret" not in err
    assert err.startswith("metrics: ")  # the dataset it could not read, as `run` names a provider
    assert "cannot reach Postgres" in err and "check the host and port in DESTINATION__POSTGRES__CREDENTIALS" in err
    assert not (isolated / "report.html").exists()
