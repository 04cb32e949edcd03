"""ltest.delegate's pure parts: its import is cheap (every pytest run of an
environment with the wheel imports it), the opt-in rules, where the client
is looked for. The hand-over itself runs against real servers in
tests/integration/test_delegate.py."""
import os
import subprocess
import sys
import types
from pathlib import Path

from ltest import delegate

SHARE = str(Path(delegate.__file__).resolve().parents[1])


def test_importing_it_imports_no_kernel_runtime_and_not_pytest():
    code = ("import sys, ltest.delegate; "
            "print(sorted(m for m in sys.modules if m.startswith(('ltest.', 'pytest', '_pytest', 'IPython'))))")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=SHARE),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ltest.delegate']"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_delegate_true_in_the_nearest_pyproject_with_a_tool_ltest_table(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.ltest]\ndelegate = true\n")
    write(tmp_path / "sub" / "pyproject.toml", "[project]\nname = 'x'\n")  # no table: the search goes on up
    (tmp_path / "sub" / "deeper").mkdir()
    assert delegate.project_delegates(str(tmp_path / "sub" / "deeper"))
    write(tmp_path / "sub" / "pyproject.toml", "[tool.ltest]\nidle = 10\n")  # the nearest table says nothing
    assert not delegate.project_delegates(str(tmp_path / "sub" / "deeper"))
    write(tmp_path / "sub" / "pyproject.toml", "[tool.ltest]\ndelegate = 'yes'\n")  # only true is true
    assert not delegate.project_delegates(str(tmp_path / "sub"))
    write(tmp_path / "sub" / "pyproject.toml", "[tool.ltest\ndelegate = true\n")  # not TOML: the client says so
    assert not delegate.project_delegates(str(tmp_path / "sub"))


def config_with(args, directory="/"):
    params = types.SimpleNamespace(args=tuple(args), dir=Path(directory), plugins=None)
    return types.SimpleNamespace(invocation_params=params)


def test_the_entry_points_name_after_p_opts_in(monkeypatch):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    assert delegate._named_by_p(config_with(["-q", "-p", "ltest-delegate"]))
    assert delegate._named_by_p(config_with(["-pltest-delegate"]))
    assert not delegate._named_by_p(config_with(["-q", "-p", "no:ltest-delegate"]))
    assert not delegate._named_by_p(config_with(["-k", "ltest-delegate"]))
    monkeypatch.setenv("PYTEST_ADDOPTS", "-v -p ltest-delegate")
    assert delegate._named_by_p(config_with(["-q"]))


def test_plugin_objects_go_by_module_name_or_keep_the_run_cold(capsys):
    params = types.SimpleNamespace(args=("-q",), plugins=[os, "some_plugin"])
    assert delegate._transferable_args(params) == ["-p", "os", "-p", "some_plugin", "-q"]
    params = types.SimpleNamespace(args=("-q",), plugins=[object()])
    assert delegate._transferable_args(params) is None
    assert "cannot load; running cold" in capsys.readouterr().err


def test_the_client_beside_the_interpreter_comes_before_path(tmp_path, monkeypatch):
    venv_bin, on_path = tmp_path / "venv" / "bin", tmp_path / "path"
    for d in (venv_bin, on_path):
        d.mkdir(parents=True)
        (d / "ltest").write_text("#!/bin/sh\n")
        (d / "ltest").chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    assert delegate.find_client() == str(venv_bin / "ltest")
    (venv_bin / "ltest").chmod(0o644)  # not executable: not a client
    assert delegate.find_client() == str(on_path / "ltest")


def test_a_notebooks_pytest_main_is_not_a_program(monkeypatch):
    """ipytest's pytest.main in a kernel runs the notebook's own tests: IPython's
    __main__ is its user namespace, with neither a file nor a spec."""
    assert delegate._is_a_program()  # this pytest run: a program
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    assert not delegate._is_a_program()
