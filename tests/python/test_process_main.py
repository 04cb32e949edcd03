"""process_main.py: a test process's whole life in a real fork of this
process, on the pipes a server would give it."""
import os
import sys

import pytest

from forked import RunPipes, run_spec
from ltest.in_test_process import process_main


@pytest.fixture
def pipes():
    p = RunPipes()
    yield p
    p.close()


def fork(fn):
    pid = os.fork()
    if pid == 0:
        fn()  # never returns
        os._exit(99)
    return pid


def test_a_fresh_test_process_runs_pytest_and_reports_its_exit_code_last(pipes, tmp_path):
    (tmp_path / "test_x.py").write_text("import sys\n"
                                        "def test_out(): print('OUT'); print('ERR', file=sys.stderr)\n"
                                        "def test_fail(): assert False\n")
    pid = fork(lambda: process_main.fresh(run_spec(tmp_path, args=["-s", "-p", "no:cacheprovider"]), pipes.fds))
    out, err, ctl, status = pipes.finish(pid)
    assert (status, ctl) == (1, b"X 1\n")
    assert "OUT" in out and "1 failed, 1 passed" in out and "ERR" in err


def test_it_closes_the_kernels_ends_it_inherited(pipes, tmp_path):
    kernel_r, kernel_w = os.pipe()  # the kernel's end of a pipe whose reader must see EOF
    (tmp_path / "test_x.py").write_text("def test_nothing(): pass\n")
    pid = fork(lambda: process_main.fresh(run_spec(tmp_path), pipes.fds, close_fds=(kernel_w,)))
    os.close(kernel_w)
    try:
        assert os.read(kernel_r, 1) == b""  # EOF before the run ended: nobody else holds it
        assert pipes.finish(pid)[3] == 0
    finally:
        os.close(kernel_r)


def test_a_run_that_cannot_start_says_why_in_one_line_and_exits_70(pipes, tmp_path):
    missing = tmp_path / "gone"
    pid = fork(lambda: process_main.fresh(run_spec(missing), pipes.fds))
    out, err, ctl, status = pipes.finish(pid)
    assert (status, ctl) == (70, b"X 70\n")
    assert err.startswith(f"ltest: cannot run in {missing} on the kernel's host") and err.count("\n") == 1


def test_a_failure_of_ltest_itself_prints_its_traceback_and_exits_3(pipes, tmp_path):
    def body():
        raise RuntimeError("broken runtime")

    def live():
        os.dup2(pipes.err_w, 2)
        sys.stderr = open(2, "w", closefd=False)  # as the test process has it (not this test's capture)
        process_main._live(pipes.ctl_w, str(tmp_path), body)

    pid = fork(live)
    out, err, ctl, status = pipes.finish(pid)
    assert (status, ctl) == (3, b"X 3\n")
    assert "Traceback" in err and "RuntimeError: broken runtime" in err
