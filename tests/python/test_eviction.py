"""eviction.py: which modules a test process drops (the user's own code)."""
import os
import sys
import types

from ltest import eviction
from ltest.state import STATE


def _module(name, file):
    m = types.ModuleType(name)
    if file is not None:
        m.__file__ = file
    return m


def test_user_modules_are_evicted_system_and_preloaded_ones_kept():
    modules = {
        "mine": _module("mine", "/home/u/proj/mine.py"),
        "mine.sub": _module("mine.sub", "/home/u/proj/mine/sub.py"),
        "heavy": _module("heavy", "/home/u/proj/heavy/__init__.py"),
        "heavy.core": _module("heavy.core", "/home/u/proj/heavy/core.py"),
        "json": _module("json", "/usr/lib/python3.11/json/__init__.py"),
        "builtin_like": _module("builtin_like", None),
        "ltest.runner": _module("ltest.runner", "/opt/share/ltest/ltest/runner.py"),
    }
    evict = eviction.modules_to_evict(modules, keep_roots={"heavy"}, system_dirs=("/usr/lib/",))
    assert sorted(evict) == ["mine", "mine.sub"]


def test_libraries_installed_outside_the_site_directories_are_kept(tmp_path):
    """pytest on PYTHONPATH (or `pip install --target`) is a library, not the
    user's code: its modules stay, whatever directory holds them (issue 26,
    finding 4); a plain source tree beside it is the user's."""
    lib = tmp_path / "pythonpath"
    (lib / "_fakepytest").mkdir(parents=True)
    (lib / "fakepytest-9.0.dist-info").mkdir()
    (lib / "fakepytest-9.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepytest\nVersion: 9.0\n")
    (lib / "fakepytest-9.0.dist-info" / "RECORD").write_text(
        "_fakepytest/__init__.py,,\n_fakepytest/main.py,,\nfakepytest.py,,\nfakepytest-9.0.dist-info/RECORD,,\n")
    modules = {
        "_fakepytest": _module("_fakepytest", str(lib / "_fakepytest" / "__init__.py")),
        "_fakepytest.main": _module("_fakepytest.main", str(lib / "_fakepytest" / "main.py")),
        "fakepytest": _module("fakepytest", str(lib / "fakepytest.py")),
        "mine": _module("mine", str(lib / "mine.py")),
        "mine.sub": _module("mine.sub", str(lib / "mine" / "sub.py")),
    }
    evict = eviction.modules_to_evict(modules, keep_roots=set(), system_dirs=("/usr/lib/",))
    assert sorted(evict) == ["mine", "mine.sub"]


def test_user_code_imported_after_the_plan_joins_it(tmp_path, monkeypatch):
    monkeypatch.setattr(STATE, "planned_eviction", (len(sys.modules), ["old_user_module"]))
    before = set(sys.modules)
    monkeypatch.setitem(sys.modules, "late_user_module", _module("late_user_module", str(tmp_path / "late.py")))
    eviction.plan_eviction_of_new_modules(before, keep_roots=set())
    assert STATE.planned_eviction == (len(sys.modules), ["old_user_module", "late_user_module"])


def test_a_fork_uses_the_kernels_plan_while_sys_modules_is_the_one_planned(monkeypatch):
    monkeypatch.setattr(STATE, "planned_eviction", (len(sys.modules), ["planned_name"]))
    assert eviction.planned_or_scanned(keep_roots=set()) == ["planned_name"]
    monkeypatch.setitem(sys.modules, "ltest_user_module_after_the_plan",
                        _module("ltest_user_module_after_the_plan", "/home/u/proj/after.py"))
    scanned = eviction.planned_or_scanned(keep_roots=set())  # stale: a scan of what is there
    assert "ltest_user_module_after_the_plan" in scanned and "planned_name" not in scanned


def test_a_module_replaced_under_the_same_name_is_classified_again(monkeypatch):
    monkeypatch.setattr(STATE, "module_kind", {})
    name = "ltest_reloaded_module"
    monkeypatch.setitem(sys.modules, name, _module(name, "/home/u/proj/reloaded.py"))
    assert name in eviction.modules_to_evict(sys.modules, keep_roots=set())
    monkeypatch.setitem(sys.modules, name, _module(name, os.path.join(sys.prefix, "lib", "reloaded.py")))
    assert name not in eviction.modules_to_evict(sys.modules, keep_roots=set())


def test_the_kernel_plans_the_next_forks_eviction(monkeypatch):
    monkeypatch.setattr(STATE, "planned_eviction", None)
    monkeypatch.setitem(sys.modules, "ltest_planned_user", _module("ltest_planned_user", "/home/u/proj/p.py"))
    eviction.warm_module_cache(keep_roots=set())
    size, names = STATE.planned_eviction
    assert size == len(sys.modules) and "ltest_planned_user" in names
