"""Operations: the run history in the warehouse, `history`, alerts through Apprise (`json://` to a
loopback HTTP server), `--metrics-file`, against the sandbox and real warehouses."""

import datetime as dt
import http.server
import json
import threading

import pytest

from conftest import configure
from pipelines.cli import main

TODAY = dt.datetime.now(dt.timezone.utc).date()
DAILY = [{"name": "daily", "group_by": "day"}]
BAD_KEY = "revoked_key_4711"


class Hooks(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    """A loopback JSON webhook; `alerts.urls` points at it; yields the list of bodies received."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ALERTS__URLS", json.dumps([f"json://127.0.0.1:{server.server_port}/hook"]))
    yield server.received
    server.shutdown()
    server.server_close()


def whop(monkeypatch, sandbox, **settings):
    configure(monkeypatch, "whop", **{"api_key": sandbox.by_name["whop"].api_key, "base_url": f"{sandbox.url}/api/v1",
                                      "start_date": (TODAY - dt.timedelta(days=3)).isoformat(),
                                      "wallet_queries": DAILY, "metric_queries": [], **settings})


def cli(capsys, *args):
    code = main([*args, "--pipelines-dir", "pipelines"])
    out, err = capsys.readouterr()
    return code, out, err


def runs(warehouse) -> list[tuple]:
    return warehouse.query("select command, provider, exit_code, outcome, message, table_rows, arguments "
                           "from metricsync_history.runs order by finished_at")


def test_failures_are_recorded_and_alerted_once_per_streak_and_the_recovery_once(sandbox, warehouse, webhook,
                                                                                  monkeypatch, capsys):
    whop(monkeypatch, sandbox, api_key=BAD_KEY)
    for night in (1, 2):
        code, out, err = cli(capsys, "run", "whop", "--destination", warehouse.name)
        assert code == 4, err
    assert len(webhook) == 1  # the streak's first failure only
    assert webhook[0]["title"] == "metricsync: whop failed (exit 4, authentication or permission)"
    assert "provider whop, account -, command run, exit 4" in webhook[0]["message"]
    assert BAD_KEY not in json.dumps(webhook)
    whop(monkeypatch, sandbox)
    code, out, err = cli(capsys, "run", "whop", "--destination", warehouse.name)
    assert code == 0, err
    assert [w["title"] for w in webhook] == ["metricsync: whop failed (exit 4, authentication or permission)",
                                             "metricsync: whop recovered"]
    assert "failing since" in webhook[1]["message"]
    stored = runs(warehouse)
    assert [r[:4] for r in stored] == [("run", "whop", 4, "authentication or permission")] * 2 + [("run", "whop", 0, "ok")]
    loaded = warehouse.query("select count(*) from whop.wallet_time_series")[0][0]
    assert stored[2][4] == out.strip() and json.loads(stored[2][5])["wallet_time_series"] == loaded > 0
    assert stored[0][4] == err.strip() or stored[0][4].startswith("whop: ")
    assert all(BAD_KEY not in " ".join(map(str, r)) for r in stored)
    assert stored[0][6] == f"run whop --destination {warehouse.name} --pipelines-dir pipelines"

    code, out, err = cli(capsys, "history", "whop", "--destination", warehouse.name)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split("  ")[1].strip() for line in lines] == ["ok", "exit 4 authentication or permission",
                                                                "exit 4 authentication or permission"]
    assert lines[0].endswith(stored[2][4])
    code, out, err = cli(capsys, "history", "--failed", "--limit", "1", "--json", "--destination", warehouse.name)
    assert code == 0, err
    assert [(r["provider"], r["exit_code"]) for r in json.loads(out)] == [("whop", 4)]
