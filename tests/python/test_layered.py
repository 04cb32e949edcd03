"""Which runs a spare that holds the project's layer may take (layered.py):
the prediction's cwd and environment, arguments that only select tests or
shape the report."""
import pytest

from ltest.in_test_process import layered


@pytest.mark.parametrize("args", [
    [], ["-q"], ["-vx"], ["-k", "mlp and not slow"], ["-m", "slow"], ["-rA"], ["--tb=short"], ["--tb", "line"],
    ["tests/test_a.py::test_b[1]"], ["tests"], ["/proj/tests/test_a.py"], ["--lf"], ["--co"], ["-x", "--maxfail=2"],
    ["--deselect", "tests/test_a.py::test_c"], ["--", "tests"],
])
def test_arguments_that_only_select_or_shape_the_report(args):
    assert layered.only_selects(args, "/proj")


@pytest.mark.parametrize("args", [
    ["-p", "no:cacheprovider"], ["-pno:randomly"], ["-c", "other.ini"], ["--rootdir=/elsewhere"],
    ["-o", "python_files=*.py"], ["--cov=mypkg"], ["--import-mode=importlib"], ["--noconftest"],
    ["/elsewhere/tests"], ["../sibling"], ["-W", "error"], ["--pythonpath=src"], ["-n", "2"], ["--confcutdir=."],
])
def test_arguments_that_may_load_other_plugins_files_or_code(args):
    assert not layered.only_selects(args, "/proj")


def key(**changes):
    base = {"args": ["-q"], "cwd": "/proj", "env": {"A": "1"}, "stdout_isatty": False, "stderr_isatty": False,
            "stdin_isatty": False, "stdin_direct": True, "workers": 1, "umask": 18, "rlimits": {}, "nice": 0}
    base.update(changes)
    return base


def test_a_layered_spare_serves_the_prediction_with_other_selecting_arguments():
    held = layered.key_but_args(key())
    assert "args" not in held
    assert layered.serves(held, key(args=["-k", "x"]))
    assert layered.serves(held, key())


@pytest.mark.parametrize("changes", [{"cwd": "/other"}, {"env": {"A": "2"}}, {"stdout_isatty": True},
                                     {"umask": 0}, {"args": ["-p", "xdist"]}])
def test_but_no_run_from_elsewhere_in_another_environment_or_loading_more(changes):
    assert not layered.serves(layered.key_but_args(key()), key(**changes))


def test_none_held_serves_nothing():
    assert not layered.serves(None, key())
