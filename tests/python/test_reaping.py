"""reaping.py: exit statuses as a shell shows them, reaping now or from an
event loop, and what a test process left in its group killed."""
import asyncio
import os
import signal
import time

from ltest.in_kernel import reaping
from ltest.state import STATE


def test_exit_code_of_a_signal_death_is_128_plus_n():
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert reaping.exit_code_of(status) == 128 + signal.SIGKILL
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    assert reaping.exit_code_of(status) == 7


def test_reap_kills_what_the_test_process_left_in_its_group():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a test process that leaves a grandchild behind in its group
        os.setpgid(0, 0)
        if os.fork() == 0:
            os.close(r)
            time.sleep(60)
            os._exit(0)
        os._exit(3)
    os.close(w)
    assert reaping.exit_code_of(reaping.reap(pid)) == 3
    assert os.read(r, 1) == b""  # the grandchild held the write end: gone with the group
    os.close(r)


def test_reap_later_outside_a_kernel_reaps_at_once_and_inside_from_the_loop():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    reaping.reap_later(pid)  # no running loop: reaped now
    assert pid not in STATE.unreaped
    try:
        os.waitpid(pid, 0)
        raise AssertionError("not reaped")
    except ChildProcessError:
        pass

    async def in_loop():
        child = os.fork()
        if child == 0:
            os._exit(5)
        reaping.reap_later(child)
        assert child in STATE.unreaped
        while child in STATE.unreaped:
            await asyncio.sleep(0.01)
        return child

    child = asyncio.run(in_loop())
    assert child not in STATE.unreaped
