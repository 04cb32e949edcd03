"""preload.py: the kernel's warm-up, in a real fork of this process (it
imports and drops modules), and its pure parts."""
import os
import sys
import types

from forked import in_fork
from ltest.in_kernel import forksafety, preload
from ltest.state import STATE

SYSTEM = ("/usr/lib/",)


def _module(name, path):
    m = types.ModuleType(name)
    m.__file__ = path
    return m


def test_a_package_outside_the_interpreters_directories_is_the_users_own():
    modules = {"mine": _module("mine", "/home/u/proj/mine/__init__.py"),
               "numpy": _module("numpy", "/usr/lib/python3/dist-packages/numpy/__init__.py"),
               "builtin": types.ModuleType("builtin")}
    assert preload.is_own_package("mine", modules, SYSTEM)
    assert not preload.is_own_package("numpy", modules, SYSTEM)
    assert not preload.is_own_package("builtin", modules, SYSTEM)  # no file: not the user's
    assert not preload.is_own_package("absent", modules, SYSTEM)


def test_the_server_watches_the_preloaded_libraries_files_never_the_users_own():
    # An upgrade rewrites a library's top-level module: the kernel is restarted. The user's own package
    # is imported afresh by every run (and prepared ahead): its edits need no restart.
    modules = {"mine": _module("mine", "/home/u/proj/mine/__init__.py"),
               "mine.core": _module("mine.core", "/home/u/proj/mine/core.py"),
               "numpy": _module("numpy", "/usr/lib/python3/dist-packages/numpy/__init__.py"),
               "numpy.linalg": _module("numpy.linalg", "/usr/lib/python3/dist-packages/numpy/linalg/__init__.py")}
    assert preload.watched_files({"mine", "numpy"}, modules, SYSTEM) == [
        "/usr/lib/python3/dist-packages/numpy/__init__.py"]


def test_preload_imports_the_modules_then_pytest_and_says_which_are_the_users(tmp_path):
    (tmp_path / "ltest_users_pkg").mkdir()
    (tmp_path / "ltest_users_pkg" / "__init__.py").write_text("import json\n")

    def warm_up():
        sys.path.insert(0, str(tmp_path))
        reply = preload.preload(["json", "ltest_users_pkg"])
        return {"reply": reply, "roots": sorted(preload.preloaded_roots()),
                "plugins": sorted(preload.rewritable_plugins),
                "plugins_left": sorted(n for n in sys.modules if n.split(".")[0] in preload.rewritable_plugins),
                "baseline": [STATE.baseline_threads, forksafety.thread_count()]}

    out = in_fork(warm_up)
    reply = out["reply"]
    assert [(t["module"], t["source"]) for t in reply["preloaded"]] == [
        ("json", "configured"),
        ("ltest_users_pkg (your own package: each run imports it afresh, its imports stay warm)", "configured"),
        ("pytest+plugins", "pytest")]
    assert all(t["seconds"] >= 0 for t in reply["preloaded"])
    assert out["roots"] == ["json"]  # the user's own package is imported afresh in each run
    import json
    assert reply["watch"] == [os.path.realpath(json.__file__)]  # the library, not the user's package
    assert reply["learned"] is None
    assert out["plugins"] and out["plugins_left"] == []  # installed plugins: dropped, for pytest to rewrite
    assert out["baseline"][0] == out["baseline"][1]


def test_a_module_that_cannot_be_imported_stops_the_preload():
    def warm_up():
        try:
            preload.preload(["ltest_no_such_module"])
        except ImportError as e:
            return str(e)

    assert in_fork(warm_up) == "No module named 'ltest_no_such_module'"
