"""Start and drive the replay server (`metricsync.bench.replay`) from the benchmark's parent process."""

import json
import os
import subprocess
import sys

import httpx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ReplayServer:
    """The API every contender talks to, in its own process; counts requests and 429s."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": REPO}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "metricsync.bench.replay"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        if not line.startswith("REPLAY-PORT "):
            self.process.kill()
            raise RuntimeError(f"the replay server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        self._http = httpx.Client(base_url=self.url, timeout=600)

    def configure(self, **settings) -> None:
        self._http.post("/_replay/config", json=settings).raise_for_status()

    def stats(self) -> dict:
        return self._http.get("/_replay/stats").json()

    def take(self) -> dict:
        """Requests, 429s and the seconds from the first request to the last answer, since the
        last take (and when those were, on the machine's monotonic clock)."""
        stats = self._http.post("/_replay/stats/reset").json()
        return {
            "requests": stats["requests"],
            "throttled": stats["throttled"],
            "request_span_s": max(0.0, stats["last_at"] - stats["first_at"]),
            "first_at": stats["first_at"],
            "last_at": stats["last_at"],
        }

    def clear_log(self) -> None:
        self._http.post("/_replay/log/clear").raise_for_status()

    def log(self) -> list:
        return self._http.get("/_replay/log").json()

    def save_log(self, path: str) -> int:
        log = self.log()
        with open(path, "w") as f:
            json.dump(log, f)
        return len(log)

    def stop(self) -> None:
        self._http.close()
        self.process.terminate()
        self.process.wait(timeout=10)
