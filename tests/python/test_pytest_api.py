"""private_api/pytest_api.py (and the package's speedups_off): probes that
say why, pytest's own main as `python -m pytest` calls it, a subtest
report's arguments as the worker sent them."""
import dataclasses
import os
import subprocess
import sys

from forked import in_fork
from ltest import private_api
from ltest.private_api import pluggy_api, pytest_api


def test_speedups_off_are_the_failed_probes_with_their_reasons():
    probes = {**pytest_api.probe_all(), **pluggy_api.probe_all()}
    assert all(why is None or (isinstance(why, str) and why) for why in probes.values())
    assert private_api.speedups_off() == [{"speedup": k, "why": v} for k, v in probes.items() if v is not None]


def test_run_main_names_the_program_as_python_m_pytest_does(tmp_path):
    """A usage error's text (its program name: `python -m pytest` from
    pytest 9, `__main__.py` before) and exit code are cold's."""
    import pytest
    args = ["--tb=full", "-p", "no:cacheprovider"]
    cold = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=tmp_path, capture_output=True, text=True)

    def body():
        os.chdir(tmp_path)
        sys.argv[:] = [os.path.join(os.path.dirname(pytest.__file__), "__main__.py"), *args]
        sys.stderr = open(tmp_path / "err.txt", "w")  # not this test's captured stream
        code = pytest_api.run_main(args, [])
        sys.stderr.flush()
        return int(code), (tmp_path / "err.txt").read_text()
    code, err = in_fork(body)
    assert (code, err) == (cold.returncode, cold.stderr)
    assert "usage: " in err


def test_a_subtest_reports_arguments_are_the_ones_sent():
    @dataclasses.dataclass(frozen=True)
    class Context:  # as pytest 9's SubtestContext: frozen, its kwargs repr()'d
        kwargs: dict

    class Report:
        context = Context(kwargs={"i": "'1'"})

    report = Report()
    pytest_api.subtest_arguments_as_sent(report, {"_subtest.context": {"msg": None, "kwargs": {"i": "1"}}})
    assert report.context.kwargs == {"i": "1"}
    plain = object()
    pytest_api.subtest_arguments_as_sent(plain, {"outcome": "passed"})  # any other report: left alone


def test_around_next_configure_wraps_one_call_then_the_class_method_is_back(tmp_path):
    def body():
        os.chdir(tmp_path)
        from _pytest.config import _prepareconfig
        config = _prepareconfig(["-p", "no:cacheprovider"], [])
        calls = []

        def around(original):
            calls.append("around")
            return original()

        wrapped = pytest_api.around_next_configure(config, around)
        config._do_configure()
        once = "_do_configure" not in vars(config)
        config._ensure_unconfigure()
        return wrapped, calls, once
    assert in_fork(body) == [True, ["around"], True]


def test_console_entry_is_what_pytests_main_module_calls():
    import pytest
    main_code = compile(open(os.path.join(os.path.dirname(pytest.__file__), "__main__.py")).read(), "m", "exec")
    name = next(n for n in ("_console_main", "console_main") if n in main_code.co_names)
    entry = pytest_api.console_entry(name)
    assert callable(entry) and entry.__name__ == name
    assert pytest_api.console_entry("no_such_entry") is None


def test_terminal_writer_writes_pytests_colours():
    import io
    out = io.StringIO()
    tw = pytest_api.terminal_writer(out)
    tw.write("failed", red=True)
    assert out.getvalue() == "\x1b[31mfailed\x1b[0m"


def test_the_built_in_plugins_modules_are_importable():
    import importlib
    modules = pytest_api.default_plugin_modules()
    assert "_pytest.fixtures" in modules and "_pytest.python_path" not in modules
    for name in modules:
        importlib.import_module(name)
