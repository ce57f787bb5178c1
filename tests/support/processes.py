"""Child processes of tests: started in their own process group, and that whole group ended
however the test ends; and the check that none is left when the run ends."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from support.project import ROOT


@contextlib.contextmanager
def child_process(command: list, **popen: Any) -> Iterator[subprocess.Popen]:
    """`subprocess.Popen` in its own process group, ended with the whole group however the block ends.

    with child_process([sys.executable, "-m", "metricsync", "sandbox"], stdout=subprocess.PIPE) as child:
        ...
    """
    child = subprocess.Popen(command, start_new_session=True, **popen)
    try:
        yield child
    finally:
        end_process_group(child)


def run_command(
    command: list, timeout: float, capture_output: bool = False, **popen: Any
) -> subprocess.CompletedProcess:
    """`subprocess.run` whose whole process group is ended however it ends (a timeout included:
    `subprocess.run` kills only the child, not what the child started)."""
    if capture_output:
        popen.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with child_process(command, **popen) as child:
        out, err = child.communicate(timeout=timeout)
    return subprocess.CompletedProcess(command, child.returncode, out, err)


def user_env(env: dict, home: Path) -> dict:
    """`env` as a user's shell has it: HOME `home` and this venv's scripts (`metricsync`, `dagster`,
    `airflow`) first on PATH."""
    return {**env, "HOME": str(home), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def shell_line(script: str) -> list:
    """`script` (documented lines, one a line) for bash, stopping at the first that fails."""
    return ["bash", "-ec", script]


@contextlib.contextmanager
def shell_process(script: str, env: dict, **popen: Any) -> Iterator[subprocess.Popen]:
    """`script` with bash in the repository's root, as a user types it, left running in its own process
    group (ended with the block); `env` from `user_env`. Output as `popen` says."""
    with child_process(shell_line(script), cwd=ROOT, env=env, **popen) as child:
        yield child


def run_shell(script: str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """`script` with bash in the repository's root, as a user types it, to its end (its whole process
    group ended however it ends); `env` from `user_env`. Its stdout holds stderr too.

    done = run_shell(f"{SETUP}\\n{MIGRATE}", user_env(dict(os.environ), home))
    """
    return run_command(
        shell_line(script),
        timeout=timeout,
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def end_process_group(child: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the child's process group, SIGKILL after `grace` seconds, then reap the child."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        try:
            child.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # grandchildren left in the group
        os.killpg(child.pid, signal.SIGKILL)
    for stream in (child.stdin, child.stdout, child.stderr):
        if stream:
            stream.close()


def _started_by_a_test(process: Any) -> bool:
    """A child process a test started, not multiprocessing's resource tracker (started by the first
    process pool, e.g. `--parallel` in-process, and kept until this process exits)."""
    import psutil

    try:
        return "multiprocessing.resource_tracker" not in " ".join(process.cmdline())
    except psutil.Error:
        return True


def end_leftover_children() -> list[str]:
    """Kill every child process of this one still alive (after 5 s of grace) and describe each."""
    import psutil

    children = [p for p in psutil.Process().children(recursive=True) if _started_by_a_test(p)]
    _gone, alive = psutil.wait_procs(children, timeout=5)
    lines = []
    for process in alive:
        with contextlib.suppress(psutil.Error):
            lines.append(f"  pid {process.pid}: {' '.join(process.cmdline())[:300]}")
            process.kill()
    return lines
