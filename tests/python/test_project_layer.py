"""project_layer.py: which of a run's modules the next prepared spare
imports ahead, and importing them only where that comes out as in the run."""
import os
import sys
import types
import warnings

import pytest

from ltest.in_test_process import project_layer


def _module(name, path, loader=None):
    module = types.ModuleType(name)
    module.__file__ = path
    if loader is not None:
        module.__loader__ = loader
    return module


class AssertionRewritingHook:  # named as pytest's loader of test modules and conftest files
    pass


def test_the_layer_is_the_users_modules_the_run_added_minus_tests_and_conftests(tmp_path):
    import sysconfig
    user, system = str(tmp_path / "project"), sysconfig.get_paths()["purelib"]  # this interpreter's site-packages
    modules = {
        "old_user": _module("old_user", f"{user}/old_user.py"),
        "mypkg": _module("mypkg", f"{user}/mypkg/__init__.py"),
        "mypkg.core": _module("mypkg.core", f"{user}/mypkg/core.py"),
        "numpy": _module("numpy", f"{system}/numpy/__init__.py"),
        "tests.conftest": _module("tests.conftest", f"{user}/tests/conftest.py"),
        "test_core": _module("test_core", f"{user}/tests/test_core.py"),
        "helpers": _module("helpers", f"{user}/tests/helpers.py", AssertionRewritingHook()),
        "heavy": _module("heavy", f"{user}/heavy.py"),
    }
    names = project_layer.modules_to_record({"old_user"}, modules, keep_roots={"heavy"})
    assert names == [["mypkg", f"{user}/mypkg/__init__.py"], ["mypkg.core", f"{user}/mypkg/core.py"]]


def test_the_record_survives_a_round_trip_and_garbage_reads_as_empty(tmp_path):
    path = project_layer.record_path(str(tmp_path), "/some/project")
    assert path != project_layer.record_path(str(tmp_path), "/other/project")
    assert project_layer.load(path) == []  # none yet
    project_layer.save(path, [["a", "/p/a/__init__.py"], ["a.b", "/p/a/b.py"]])
    assert project_layer.load(path) == [["a", "/p/a/__init__.py"], ["a.b", "/p/a/b.py"]]
    with open(path, "w") as f:
        f.write("{not json")
    assert project_layer.load(path) == []
    with open(path, "w") as f:
        f.write('{"modules": [["ok", "/p/ok.py"], "bare", 3, null, ["short"], ["x", 4]]}')
    assert project_layer.load(path) == [["ok", "/p/ok.py"]]
    assert project_layer.load_rewritten(path) == []  # a record written before the rewritten files were kept
    project_layer.save(path, [], ["/p/tests/test_a.py"])
    assert project_layer.load_rewritten(path) == ["/p/tests/test_a.py"]
    for garbage in ('[1, 2]', '{"modules": 5, "rewritten": "x"}', '{"rewritten": ["/p/t.py", 3]}'):
        with open(path, "w") as f:
            f.write(garbage)
        assert project_layer.load(path) == []
        assert project_layer.load_rewritten(path) == (["/p/t.py"] if "3]" in garbage else [])


@pytest.fixture
def package_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    added = set()
    yield tmp_path, added
    for name in [n for n in sys.modules if n.startswith("layer_probe_")]:
        del sys.modules[name]


def _write(directory, name, text):
    (directory / f"{name}.py").write_text(text)


def test_a_quiet_import_is_done_ahead_and_keeps_the_filters_it_added(package_dir, tmp_path):
    directory, _ = package_dir
    _write(directory, "layer_probe_quiet", "import warnings\n"
           "warnings.filterwarnings('ignore', message='layer probe filter')\nVALUE = 7\n")
    out = os.open(tmp_path / "out", os.O_RDWR | os.O_CREAT)
    try:
        assert project_layer.import_ahead(["layer_probe_quiet"], [out])
    finally:
        os.close(out)
    assert sys.modules["layer_probe_quiet"].VALUE == 7
    assert any(f[1] is not None and f[1].pattern == "layer probe filter" for f in warnings.filters)
    warnings.filters[:] = [f for f in warnings.filters if not (f[1] is not None and f[1].pattern == "layer probe filter")]


@pytest.mark.parametrize("body", [
    "import warnings\nwarnings.warn('old', DeprecationWarning)\n",  # pytest would list it; -W error would fail
    "import os\nos.write(int(os.environ['LAYER_PROBE_FD']), b'hello')\n",  # output of the import
    "raise RuntimeError('broken at import')\n",
])
def test_an_import_that_warns_writes_or_fails_is_not_done_ahead(package_dir, tmp_path, monkeypatch, body):
    directory, _ = package_dir
    _write(directory, "layer_probe_noisy", body)
    out = os.open(tmp_path / "out", os.O_RDWR | os.O_CREAT)
    monkeypatch.setenv("LAYER_PROBE_FD", str(out))
    try:
        assert not project_layer.import_ahead(["layer_probe_noisy"], [out])
    finally:
        os.close(out)


def test_compiled_code_is_cached_by_contents_so_an_edit_is_always_compiled(package_dir, tmp_path):
    directory, _ = package_dir
    cache = tmp_path / "code"
    out = os.open(tmp_path / "out", os.O_RDWR | os.O_CREAT)
    try:
        for value, entries in ((1, 1), (2, 2), (1, 2)):  # back to 1: the first compile is reused
            _write(directory, "layer_probe_cached", f"VALUE = {value}\n")
            sys.modules.pop("layer_probe_cached", None)
            assert project_layer.import_ahead(["layer_probe_cached"], [out], str(cache))
            assert sys.modules["layer_probe_cached"].VALUE == value
            assert len(os.listdir(cache)) == entries
    finally:
        os.close(out)
    from importlib.machinery import SourceFileLoader
    assert SourceFileLoader.source_to_code.__qualname__ == "SourceLoader.source_to_code"  # put back


def test_only_modules_found_now_in_the_file_the_run_used_are_imported_ahead(package_dir, tmp_path):
    directory, _ = package_dir
    (directory / "layer_probe_pkg").mkdir()
    (directory / "layer_probe_pkg" / "__init__.py").write_text("")
    (directory / "layer_probe_pkg" / "sub.py").write_text("")
    _write(directory, "layer_probe_other", "")
    helpers = tmp_path / "tests_dir" / "layer_probe_helpers.py"  # on sys.path only once pytest collects
    helpers.parent.mkdir()
    helpers.write_text("")
    real = lambda p: os.path.realpath(str(p))
    entries = [
        ["layer_probe_pkg", real(directory / "layer_probe_pkg" / "__init__.py")],
        ["layer_probe_pkg.sub", real(directory / "layer_probe_pkg" / "sub.py")],
        ["layer_probe_helpers", real(helpers)],
        ["layer_probe_other", real(tmp_path / "elsewhere" / "layer_probe_other.py")],  # another file of that name
        ["layer_probe_other.child", real(tmp_path / "elsewhere" / "child.py")],
        ["layer_probe_ns.mod", real(directory / "layer_probe_ns" / "mod.py")],  # its parent is not recorded
    ]
    assert project_layer.importable_now(entries) == ["layer_probe_pkg", "layer_probe_pkg.sub"]
    assert "layer_probe_pkg" not in sys.modules  # finding them imported nothing
