"""Reaping test processes from the kernel: at once, or from its event loop
when they exit (off the run's critical path), and killing what they left in
their process group."""
import os
import signal
import time

from . import handover, learn_idle, spare
from ..state import STATE


def exit_code_of(status):
    """A shell's view of a wait status: exit code, or 128+N for signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def kill_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def reap(pid):
    """Waits for the test process; then kills what it left in its group."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except KeyboardInterrupt:
            kill_group(pid, signal.SIGKILL)
        except ChildProcessError:
            return 0
    kill_group(pid, signal.SIGKILL)
    return status


def reap_finished():
    """Reaps test processes that have exited; kills what they left behind."""
    for pid in list(STATE.unreaped):
        status = None
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            STATE.unreaped.discard(pid)
            kill_group(pid, signal.SIGKILL)
            handover.report_reaped(pid, exit_code_of(status) if done == pid and status is not None else 0)
            spare.run_ended(pid)  # the spares' practice deferred during the run starts
            learn_idle.after_run()  # what it learned warms this kernel once idle


def kernel_loop():
    """The kernel's running asyncio loop, or None outside a kernel."""
    import asyncio
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def reap_later(pid, stuck_after=10):
    """Reaps pid from the kernel's event loop when it exits: a child that
    reported its exit code (the reply need not wait for its teardown; killed
    if still exiting stuck_after seconds later), or a test process handed
    over to the server (stuck_after None: it runs as long as its tests)."""
    loop = kernel_loop()
    if loop is None:  # not in a kernel (tests, a plain process): reap now
        reap(pid)
        spare.run_ended(pid)  # else the spares would wait for this run for ever
        return
    STATE.unreaped.add(pid)
    deadline = None if stuck_after is None else time.monotonic() + stuck_after

    def check():
        reap_finished()
        if pid in STATE.unreaped:
            if deadline is not None and time.monotonic() > deadline:  # stuck in exit: kill it
                kill_group(pid, signal.SIGKILL)
            loop.call_later(0.02 if deadline is not None else 0.05, check)

    loop.call_later(0.01, check)
