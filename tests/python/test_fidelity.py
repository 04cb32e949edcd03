"""fidelity.py, which applies each concern (test_fidelity_*.py test them one
by one): the refusal of another interpreter, and all of them at once in a
real fork of this process."""
import os
import sys

from forked import in_fork
from ltest.in_test_process import fidelity, fidelity_environment, fidelity_interpreter


def test_only_an_activated_virtualenv_of_another_interpreter_is_refused(tmp_path):
    assert fidelity.refusal({}) is None
    assert fidelity.refusal({"VIRTUAL_ENV": sys.prefix}) is None
    code, why = fidelity.refusal({"VIRTUAL_ENV": str(tmp_path)})
    assert code == fidelity_environment.WRONG_INTERPRETER_EXIT == 78 and str(tmp_path) in why


def test_the_kernel_is_the_forks_parent():
    assert in_fork(fidelity.kernel_pid) == os.getpid()


def test_become_fresh_applies_every_concern_and_names_what_cannot_apply(tmp_path):
    def in_child():
        r, w = os.pipe()
        os.dup2(w, 2)
        sys.stderr = open(2, "w", closefd=False)
        env = {"PYTHONOPTIMIZE": "2", "PATH": os.environ.get("PATH", "")}
        sys.setrecursionlimit(5000)  # as IPython leaves it
        fidelity.become_fresh(env, str(tmp_path), [str(tmp_path)], "C.UTF-8", os.getppid())
        os.close(w)
        os.close(2)
        with os.fdopen(r) as f:
            return {"stderr": f.read(), "recursion": sys.getrecursionlimit()}

    out = in_fork(in_child)
    assert out["recursion"] == fidelity_interpreter.FRESH_RECURSION_LIMIT
    lines = out["stderr"].splitlines()
    assert lines and all(line.startswith("ltest: warning: ") for line in lines)
    assert any("PYTHONOPTIMIZE" in line for line in lines)
