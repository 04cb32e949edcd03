"""template.py: processes forked from a template of this process, made
before a thread took a lock, re-parented to this process. Real forks, real
threads, real prctl."""
import ctypes
import os
import threading

import pytest

from ltest.in_kernel import template
from ltest.state import STATE

LOCK = threading.Lock()


def _report(arg, fds):
    """An action: writes what the process sees to its fd, then exits arg."""
    seen = {"ppid": os.getppid(), "lock_free": LOCK.acquire(blocking=False),
            "imported": "colorsys" in __import__("sys").modules}
    os.write(fds[0], repr(seen).encode())
    os._exit(arg)


ACTIONS = {"report": _report}


@pytest.fixture
def started():
    assert template.start(ACTIONS, generation=1)
    yield
    template.stop()


def spawn_and_read(code=0):
    r, w = os.pipe()
    pid = template.spawn("report", code, [w])
    os.close(w)
    assert pid is not None
    data = b""
    while chunk := os.read(r, 4096):
        data += chunk
    os.close(r)
    return pid, eval(data.decode())


def is_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    value = ctypes.c_int(-1)
    assert libc.prctl(37, ctypes.byref(value), 0, 0, 0) == 0  # PR_GET_CHILD_SUBREAPER
    return value.value


def test_a_spawned_process_is_this_process_child_and_its_exit_code_is_ours(started):
    pid, seen = spawn_and_read(code=7)
    assert seen["ppid"] == os.getpid()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 7
    assert is_subreaper() == 0  # only for the moment of a request


def test_a_lock_a_thread_took_after_the_template_was_forked_is_free_in_its_processes(started):
    taken, release = threading.Event(), threading.Event()

    def hold():
        with LOCK:
            taken.set()
            release.wait()

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    taken.wait()
    try:
        pid, seen = spawn_and_read()
        os.waitpid(pid, 0)
        assert seen["lock_free"]  # a fork of this process would hold it, with no thread to free it
    finally:
        release.set()
        t.join()


def test_catch_up_imports_into_the_template(started):
    import sys
    sys.modules.pop("colorsys", None)
    pid, seen = spawn_and_read()
    os.waitpid(pid, 0)
    assert not seen["imported"]
    assert template.catch_up(["colorsys"], generation=2)
    pid, seen = spawn_and_read()
    os.waitpid(pid, 0)
    assert seen["imported"] and "colorsys" not in sys.modules


def test_catch_up_sends_only_what_the_template_lacks_in_messages_a_socket_takes(started):
    import sys
    sys.modules.pop("colorsys", None)
    assert template.start(ACTIONS, generation=2)  # a template without it
    names = [f"ltest_no_such_module_{i}" for i in range(5000)]  # about 150 KB of names in all
    assert template.catch_up(names, generation=3) and template.alive()
    assert template.catch_up(names + ["colorsys"], generation=4)
    pid, seen = spawn_and_read()
    os.waitpid(pid, 0)
    assert seen["imported"]


def test_a_template_of_another_generation_is_replaced_and_a_dead_one_spawns_nothing(started):
    first = STATE.template.pid
    assert template.start(ACTIONS, generation=1) and STATE.template.pid == first
    assert template.start(ACTIONS, generation=2) and STATE.template.pid != first
    template.stop()
    assert not template.alive() and template.spawn("report", 0, []) is None
