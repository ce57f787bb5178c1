"""Fixed costs: how long `metricsync --help` and `metricsync status --help` (the command line parsed,
the command's module imported) take from process start to exit, against `python -c pass` (the
interpreter alone), the median of `RUNS` runs each, in turn, with the CPU time of each beside it.

Target: each within 0.3 s of wall on an idle machine (an absolute: the interpreter alone takes
about 0.02 s there, so the ratio to it says little); the ratio is reported beside it.
"""

import resource
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


def timed(command: list) -> tuple[float, float]:
    """(wall, CPU user + system) seconds of one run of `command`: the CPU is what a busy machine
    leaves least changed."""
    before, started = cpu_of_children(), time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started, cpu_of_children() - before


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def scenario(quick: bool) -> dict:
    runs = 3 if quick else RUNS
    times: dict = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, command in COMMANDS.items():
            times[name].append(timed(command))
    return {
        name: {"seconds": statistics.median(w for w, _ in found), "cpu_s": statistics.median(c for _, c in found)}
        for name, found in times.items()
    }


def report(result: dict) -> tuple[list, list]:
    bare = result["python -c pass"]["seconds"]
    lines = ["", "Start-up (medians, from process start to exit):", ""]
    lines += ["| command | wall s | / python -c pass | CPU s |", "|---|---:|---:|---:|"]
    lines += [
        f"| `{name}` | {found['seconds']:.3f} | {found['seconds'] / bare:.1f}x | {found['cpu_s']:.3f} |"
        for name, found in result.items()
    ]
    targets = [
        f"| `{name}` <= {TARGET_S:g} s | {result[name]['seconds']:.3f} s | "
        f"{'met' if result[name]['seconds'] <= TARGET_S else '**missed**'} |"
        for name in COMMANDS
        if name != "python -c pass"
    ]
    return lines, targets


if __name__ == "__main__":  # this scenario alone: python -m metricsync.bench.startup
    print("\n".join(sum(report(scenario("--quick" in sys.argv)), [])))
