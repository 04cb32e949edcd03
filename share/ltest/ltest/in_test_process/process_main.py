"""The test process from its first step to os._exit: forked afresh, from a
spare, or from a spare prepared for this run (prepared.py)."""
import os
import sys

from . import child, forget_request, prepared, project_layer
from ..state import STATE


def _report_exit(ctl_w, code):
    """Last words of the test process: close its output (so the reader sees
    EOF now, not after the address space is torn down) and send its exit code."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    for fd in (0, 1, 2):
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.write(ctl_w, b"X %d\n" % code)
    except OSError:
        pass


def _live(ctl_w, cwd, body):
    """Runs body() (the exit code) as the whole test process: never returns.
    Its client has the exit code before the project's layer is recorded."""
    code = 3
    try:
        code = body()
    except child.SetupError as e:
        code = e.exit_code  # 70, ltest's "internal": the run could not start (78: wrong interpreter)
        try:
            os.write(2, f"ltest: {e}\n".encode("utf-8", "surrogateescape"))  # a path as cold Python has it
        except OSError:
            pass
    except BaseException:
        try:
            import traceback
            traceback.print_exc()
        except BaseException:
            pass
    finally:
        _finalize_like_python()
        _report_exit(ctl_w, code)
        _record_layer(cwd)
        os._exit(code)


def _finalize_like_python():
    """A fresh interpreter's exit finalizes what the run's modules hold
    (fidelity_interpreter.finalize_run_modules), before its output closes."""
    try:
        from .fidelity_interpreter import finalize_run_modules
        finalize_run_modules(STATE.modules_at_start)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
    except BaseException:
        pass


def _record_layer(cwd):
    try:
        from ..in_kernel.preload import preloaded_roots
        project_layer.record(STATE.practice_directory, cwd, STATE.modules_at_start, preloaded_roots())
    except BaseException:  # a test removed the cwd, or worse: the next spare prepares pytest alone
        pass


def fresh(spec, fds, close_fds=(), wire=None):
    """A fork (or a spare) that becomes spec's test process now. fds: its
    stdin, stdout, stderr and control pipe ends; close_fds: the kernel's
    ends it inherited; wire: the request as the kernel received it, which
    its frames above still hold (forget_request.py)."""
    stdin_r, out_w, err_w, ctl_w = fds

    def body():
        from ..in_kernel import handover
        handover.close()  # the kernel's: a test process must not hold it
        for fd in close_fds:
            os.close(fd)
        from ..in_kernel.preload import preloaded_roots
        child.become_test_process(spec, stdin_r, out_w, err_w, ctl_w, preloaded_roots())
        args, workers = list(spec["args"]), spec.get("workers", 1)
        forget_request.forget(spec, wire)
        return child.run_pytest(args, workers)

    _live(ctl_w, spec.get("cwd") or os.getcwd(), body)


def from_prepared(ready, spec, fds):
    """A spare prepared for spec (prepared.py) runs it. Its control fd is
    the placeholder's number, which the run's control pipe replaced."""
    _live(ready.placeholders.ctl, spec.get("cwd") or os.getcwd(), lambda: prepared.run(ready, spec, fds))
