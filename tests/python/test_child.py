"""child.py: what makes a fork of the kernel the process `python -m pytest`
would be; its pure parts, then the set-up and pytest's exit in real forks."""
import os
import signal
import sys

from forked import in_fork
from ltest.in_test_process import child


def test_sys_path_is_cwd_then_pythonpath_then_the_interpreters():
    base = ["/usr/lib/python311.zip", "/usr/lib/python3.11", "/usr/lib/python3/dist-packages"]
    path = child.pytest_sys_path("/proj", {"PYTHONPATH": "src:/abs/lib"}, base=base)
    assert path == ["/proj", "/proj/src", "/abs/lib"] + base


def test_sys_path_does_not_repeat_entries():
    path = child.pytest_sys_path("/proj", {}, base=["/proj", "/usr/lib/python3.11"])
    assert path == ["/proj", "/usr/lib/python3.11"]


def test_a_request_matches_its_prediction_only_when_everything_set_up_ahead_is_equal():
    spec = {"args": ["-q"], "cwd": "/p", "env": {"A": "1"}, "stdout_isatty": True, "stderr_isatty": True,
            "stdin_isatty": True, "workers": 1}
    assert child.request_key(spec) == child.request_key(dict(spec))
    for change in ({"args": ["-q", "-x"]}, {"cwd": "/q"}, {"env": {"A": "2"}}, {"stdout_isatty": False},
                   {"umask": 0o22}):
        assert child.request_key({**spec, **change}) != child.request_key(spec), change


def test_warnoptions_are_cpythons_from_devmode_and_pythonwarnings():
    assert child.warnoptions_of({}) == []
    assert child.warnoptions_of({"PYTHONWARNINGS": "error,ignore::DeprecationWarning"}) == [
        "error", "ignore::DeprecationWarning"]
    assert child.warnoptions_of({"PYTHONDEVMODE": "1", "PYTHONWARNINGS": "error"}) == ["default", "error"]


def exit_of(main):
    """(exit code, stderr) of child.run_pytest with main instead of pytest.main, in a fork
    (it runs this process's exit handlers, as CPython at exit)."""
    def in_child():
        r, w = os.pipe()
        os.dup2(w, 2)
        os.close(w)
        sys.stderr = open(2, "w", closefd=False)
        code = child.run_pytest(["-q"], main=main)
        os.close(2)
        with os.fdopen(r) as f:
            return [code, f.read()]
    return in_fork(in_child)


def test_pytests_exit_code_is_the_processs():
    assert exit_of(lambda args, plugins: 5) == [5, ""]


def test_sys_exit_with_a_message_prints_it_and_exits_1_as_cpython_does():
    def main(args, plugins):
        raise SystemExit("a conftest gave up")
    assert exit_of(main) == [1, "a conftest gave up\n"]


def test_an_interrupt_outside_the_session_is_a_death_by_sigint():
    def main(args, plugins):
        raise KeyboardInterrupt
    code, err = exit_of(main)
    assert code == 128 + signal.SIGINT and "KeyboardInterrupt" in err


def test_an_uncaught_exception_prints_its_traceback_and_exits_1():
    def main(args, plugins):
        raise ValueError("from a plugin")
    code, err = exit_of(main)
    assert code == 1 and "ValueError: from a plugin" in err


def test_the_set_up_gives_the_fork_what_python_m_pytest_would_have(tmp_path):
    def in_child():
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        env = {"PATH": os.environ.get("PATH", ""), "LTEST_MARK": "1", "PYTHONPATH": "src"}
        spec = {"args": ["-q", "t.py"], "cwd": str(tmp_path), "env": env, "umask": 0o27}
        child.become_test_process(spec, in_r, out_w, err_w, ctl_w, keep_roots=())
        umask = os.umask(0)
        return {"cwd": os.getcwd(), "env": dict(os.environ), "umask": umask,
                "argv": sys.argv[1:], "orig_argv": sys.orig_argv[1:],
                "main": [sys.modules["__main__"].__file__, sys.modules["__main__"].__package__],
                "path": sys.path[:2], "pgid": os.getpgid(0) == os.getpid(),
                # fds 0-2 are the run's pipes (a pipe's two ends share an inode), and sys.std* use them
                "stdio": [os.fstat(fd).st_ino == os.fstat(end).st_ino and stream.fileno() == fd
                          for fd, end, stream in ((0, in_w, sys.stdin), (1, out_r, sys.stdout), (2, err_r, sys.stderr))],
                "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
                "sigpipe": signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN}

    out = in_fork(in_child)
    assert out["cwd"] == str(tmp_path) and out["env"]["LTEST_MARK"] == "1" and out["umask"] == 0o27
    assert out["argv"] == ["-q", "t.py"] and out["orig_argv"] == ["-m", "pytest", "-q", "t.py"]
    assert out["main"][0].endswith(os.path.join("pytest", "__main__.py")) and out["main"][1] == "pytest"
    assert out["path"] == [str(tmp_path), str(tmp_path / "src")]
    assert out["pgid"] and out["stdio"] == [True, True, True] and out["sigint"] and out["sigpipe"]
