"""The tests' own process hygiene: a child's whole process group is ended however its block ends."""

import subprocess
import time

import psutil
import pytest
from support.processes import child_process, run_command


def gone(pid: int) -> bool:
    """True once `pid` has ended (or was reaped), waiting up to 10 s."""
    try:
        _gone, alive = psutil.wait_procs([psutil.Process(pid)], timeout=10)
    except psutil.NoSuchProcess:
        return True
    return not alive


def test_the_whole_group_is_ended_when_the_block_fails():
    with pytest.raises(RuntimeError):
        with child_process(["bash", "-c", "sleep 300 & sleep 300 & wait"]) as child:
            deadline = time.monotonic() + 30
            while len(psutil.Process(child.pid).children()) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            grandchildren = [p.pid for p in psutil.Process(child.pid).children()]
            raise RuntimeError("the test failed here")
    assert len(grandchildren) == 2 and all(gone(pid) for pid in grandchildren)
    assert child.returncode is not None


def test_a_command_past_its_timeout_is_ended_with_what_it_started(isolated):
    with pytest.raises(subprocess.TimeoutExpired):
        run_command(["bash", "-c", "sleep 300 & echo $! > sleeper; wait"], timeout=2, cwd=isolated)
    assert gone(int((isolated / "sleeper").read_text()))
