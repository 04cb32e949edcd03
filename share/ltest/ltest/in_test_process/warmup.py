"""A practice run in the spare test process, before its real run arrives.

The first pytest.main() in a fresh fork is slow: it copies on write the pages
of the thousands of objects it touches (code, classes, caches) and fills
pytest's lazy state; a second pytest.main() in the same process costs about
half. The spare has time to spare (it waits for the next run), so it runs a
tiny suite of its own first, with output to /dev/null, then puts back what
that run changed in the process: sys.path, sys.modules (the practice test
module), sys.last_*, stdio, cwd, environment.
Measured on the torch suite (bench/): pytest.main in the child 58 -> 32 ms;
a suite with a failing assert 79 -> 29 ms.
"""
import os
import shutil
import sys
import tempfile
import threading

from .. import eviction
from ..state import STATE

# Passing, parametrized, fixture-using and failing tests: the failure warms
# assertion rewriting's explanations and the traceback report as well.
_SUITE = '''\
import pytest


@pytest.fixture
def pair():
    return [1, 2]


@pytest.mark.parametrize("n", [1, 2])
def test_pass(pair, n):
    assert n in pair


def test_fail(pair):
    assert {"pair": pair} == {"pair": [1, 3]}
'''
_MODULE = "ltest_spare_practice"  # not test_*.py: no user's module of that name; collected as named
_EXPECTED_CODE = 1  # pytest's "tests failed": the suite ran as written
_SAVED_SYS = ("last_type", "last_value", "last_traceback", "stdin", "stdout", "stderr")
_UNSET_ENV = ("PYTEST_ADDOPTS",)  # the kernel's own options must not change the practice run


def practice_args(directory):
    return ["-q", "-c", os.path.join(directory, "pytest.ini"), "--rootdir", directory,
            "-p", "no:cacheprovider", os.path.join(directory, _MODULE + ".py")]


_PREFIX = "ltest-warmup-"


def _remove_orphans():
    """Practice directories of this user's kernels that died without their
    exit handlers (killed): named after the kernel's pid, which is gone."""
    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        pid = name[len(_PREFIX):].split("-")[0]
        if not name.startswith(_PREFIX) or not pid.isdigit() or int(pid) == os.getpid():
            continue
        path = os.path.join(base, name)
        try:
            if os.lstat(path).st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive under another user, or already gone
            pass


def _remove_directory():
    if STATE.practice_directory is not None:
        shutil.rmtree(STATE.practice_directory, ignore_errors=True)


def practice_directory():
    """The practice suite's directory, made by the kernel once (again if
    something removed it) and removed at its exit, or, if it is killed, by
    the next kernel's first call. Spares only read it (pytest writes its .pyc
    files atomically and the cache is off), so one that is killed
    mid-practice leaves nothing."""
    if STATE.practice_directory is None:  # this kernel's first call
        _remove_orphans()
        import atexit
        atexit.register(_remove_directory)
    current = STATE.practice_directory
    if current is None or not os.path.isfile(os.path.join(current, _MODULE + ".py")):
        directory = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")
        with open(os.path.join(directory, "pytest.ini"), "w") as f:
            f.write("[pytest]\n")  # given with -c: no other ini file applies, nor a conftest.py above
        with open(os.path.join(directory, _MODULE + ".py"), "w") as f:
            f.write(_SUITE)
        STATE.practice_directory = directory
    return STATE.practice_directory


def warm_up(directory, keep_roots):
    """Runs the practice suite in directory; True if the process is as it
    was, warmer. False: the caller must not run tests in this process (a
    failed practice run may have left pytest half configured)."""
    missing = object()
    saved_sys = {name: getattr(sys, name, missing) for name in _SAVED_SYS}
    saved_path = list(sys.path)
    saved_env = dict(os.environ)  # pytest sets and unsets PYTEST_CURRENT_TEST, whatever was there
    for name in _UNSET_ENV:
        os.environ.pop(name, None)
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    cwd = os.open(".", os.O_RDONLY)
    modules_before = set(sys.modules)
    threads_before, fds_before = set(threading.enumerate()), _open_fds()
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.chdir(directory)
        import pytest
        code = pytest.main(practice_args(directory))
        _stop_servers_left(threads_before, fds_before)  # their last words go to /dev/null too
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os.fchdir(cwd)
        os.close(cwd)
        for fd, saved in zip((0, 1, 2), saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
        for name, value in saved_sys.items():
            if value is missing:
                sys.__dict__.pop(name, None)
            else:
                setattr(sys, name, value)
        sys.path[:] = saved_path  # the same list object: importers hold it
        os.environ.clear()
        os.environ.update(saved_env)
        sys.modules.pop(_MODULE, None)
    eviction.plan_eviction_of_new_modules(modules_before, keep_roots)
    # A thread a plugin left running that _stop_servers_left could not end
    # is in this process's real run as it would be in a second session of
    # plain pytest: no reason to give the spare up (it never forks again).
    return code == _EXPECTED_CODE


def _open_fds():
    try:
        return set(os.listdir("/proc/self/fd"))
    except OSError:
        return set()


def _stop_servers_left(threads_before, fds_before, wait=2.0):
    """A plugin's server thread the practice session started (pytest-
    rerunfailures': a socket it listens on, in every session) would be a
    second one in the run, where a fresh process has one: the sockets the
    practice opened and left open are shut down and closed, which ends a
    thread blocked in accept() (or about to listen), and each new thread is
    waited for (up to `wait` s; one still alive then stays, as before)."""
    new_threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    if not new_threads:
        return
    import gc
    import socket
    new_fds = {int(fd) for fd in _open_fds() - fds_before}
    for sock in [o for o in gc.get_objects() if isinstance(o, socket.socket)]:
        try:
            fd = sock.fileno()
        except OSError:
            continue
        if fd in new_fds:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # not listening yet: closing it fails its listen()
                pass
            sock.close()
    for thread in new_threads:
        thread.join(wait)
