"""The warehouse's own errors: a Postgres server that goes away mid-run (a proxy in front of it is
shut) is exit 5 in one line naming the destination, and the re-run completes the data exactly; a
missing MariaDB database is exit 2 saying what to do. No traceback, no password."""

import socket
import threading
import time

import pytest
from support.statsig import days, expected_values, warehouse_values
from support.statsig import setup as setup_statsig


class Proxy:
    """A TCP forwarder to `upstream` on a free loopback port; `close()` drops every connection and
    refuses new ones, as a server that went away."""

    def __init__(self, upstream: tuple) -> None:
        self.upstream, self.sockets = upstream, []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_going_away_mid_run_is_exit_5_and_the_rerun_is_exact(sandbox, warehouse, run, monkeypatch):
    from sqlalchemy.engine import make_url

    first = setup_statsig(monkeypatch, sandbox, 30, windows_per_load=3, max_concurrency=1)
    url = make_url(warehouse.credentials)
    proxy = Proxy((url.host, url.port or 5432))
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", str(url.set(port=proxy.port).render_as_string(False)))
    sandbox.latency = 0.05

    def pull_the_plug():
        while len(sandbox.seen("/console/v1/metrics/values")) < 12:
            time.sleep(0.02)
        proxy.close()

    threading.Thread(target=pull_the_plug, daemon=True).start()
    result = run("statsig", warehouse)
    assert result.exit_code == 5, result.message
    assert result.message.startswith("statsig: lost the postgres destination (")
    assert result.message.endswith(
        "- check that the server is up and reachable and re-run; loads already committed stay"
    )
    assert "\n" not in result.message
    sandbox.latency = 0.0
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", warehouse.credentials)
    again = run("statsig", warehouse)
    assert again.ok, again.message
    assert warehouse_values(warehouse) == expected_values(sandbox.by_name["statsig"], days(first))


@pytest.mark.parametrize("sql_warehouse", ["mariadb"], indirect=True)
def test_a_missing_mariadb_database_is_exit_2_saying_what_to_do(sandbox, sql_warehouse, run, monkeypatch):
    setup_statsig(monkeypatch, sandbox, 3)
    monkeypatch.setenv("DESTINATION__SQLALCHEMY__CREDENTIALS", sql_warehouse.credentials + "_missing")
    result = run("statsig", sql_warehouse)
    assert result.exit_code == 2, result.message
    assert result.message.startswith("statsig: the sqlalchemy destination refused the run (")
    assert "Unknown database" in result.message
    assert result.message.endswith(
        "check the database, user and rights in DESTINATION__SQLALCHEMY__CREDENTIALS "
        "(create the database if it is missing)"
    )
    assert not sandbox.seen("/console/v1/metrics/values")
