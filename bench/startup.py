"""Fixed costs: how long `metricsync --help` and `metricsync status --help` (the command line parsed,
the command's module imported) take from process start to exit, against `python -c pass` (the
interpreter alone), the median of `RUNS` runs each, in turn.

Target: each within 0.3 s of wall on an idle machine (an absolute: the interpreter alone takes
about 0.02 s there, so the ratio to it says little); the ratio is reported beside it.
"""

import statistics
import subprocess
import sys
import time

RUNS = 15
TARGET_S = 0.3
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "metricsync --help": [sys.executable, "-m", "metricsync", "--help"],
    "metricsync status --help": [sys.executable, "-m", "metricsync", "status", "--help"],
}


def wall(command: list) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def scenario(quick: bool) -> dict:
    runs = 3 if quick else RUNS
    times: dict = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, command in COMMANDS.items():
            times[name].append(wall(command))
    return {name: statistics.median(found) for name, found in times.items()}


def report(result: dict) -> tuple[list, list]:
    bare = result["python -c pass"]
    lines = ["", "Start-up (median wall from process start to exit):", ""]
    lines += ["| command | wall s | / python -c pass |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {seconds:.3f} | {seconds / bare:.1f}x |" for name, seconds in result.items()]
    targets = [
        f"| `{name}` <= {TARGET_S:g} s | {result[name]:.3f} s | {'met' if result[name] <= TARGET_S else '**missed**'} |"
        for name in COMMANDS
        if name != "python -c pass"
    ]
    return lines, targets


if __name__ == "__main__":  # this scenario alone: python -m metricsync.bench.startup
    print("\n".join(sum(report(scenario("--quick" in sys.argv)), [])))
