"""eviction.py: which modules a test process drops (the user's own code)."""
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


def test_user_code_imported_after_the_plan_joins_it(tmp_path, monkeypatch):
    monkeypatch.setattr(STATE, "planned_eviction", (len(sys.modules), ["old_user_module"]))
    before = set(sys.modules)
    monkeypatch.setitem(sys.modules, "late_user_module", _module("late_user_module", str(tmp_path / "late.py")))
    eviction.plan_eviction_of_new_modules(before, keep_roots=set())
    assert STATE.planned_eviction == (len(sys.modules), ["old_user_module", "late_user_module"])
