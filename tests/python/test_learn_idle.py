"""learn_idle.py without a kernel: which learned modules are still to
import, and that a cell executing defers the import (the kernel paths, with
a real kernel and notebook cell: tests/integration/test_warm_second_run.py)."""
import importlib
import sys

import pytest

from ltest import learned
from ltest.in_kernel import learn_idle


@pytest.fixture
def cache(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "idle_slow_mod.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(site))
    path = str(tmp_path / "cache.json")
    learned.write(path, str(tmp_path), [{"module": "idle_slow_mod", "seconds": 0.5},
                                        {"module": "idle_cheap_mod", "seconds": 0.01},
                                        {"module": "idle_broken_mod", "seconds": 0.5, "failed": "ImportError: x"}])
    monkeypatch.setattr(learned, "_file", path)
    monkeypatch.setattr(learned, "settings", {"exclude": []})
    monkeypatch.setattr(learned, "held", [])
    monkeypatch.setattr(learn_idle, "_learning", learn_idle._Learning())
    yield path
    sys.modules.pop("idle_slow_mod", None)


def test_pending_is_what_the_rules_allow_and_the_kernel_lacks(cache):
    entries = learned.read(cache)[0]
    assert learn_idle.pending(entries) == [("idle_slow_mod", ())]
    assert learn_idle.pending(entries, exclude=["idle_slow_mod"]) == []
    learn_idle._learning.tried.add(("idle_slow_mod", ()))
    assert learn_idle.pending(entries) == []


def test_a_step_imports_one_module_unless_a_cell_executes(cache):
    learn_idle._pre_execute()  # a notebook cell runs: nothing is imported
    learn_idle._step()
    assert "idle_slow_mod" not in sys.modules and learned.held == []
    learn_idle._post_execute()
    learn_idle._step()
    assert "idle_slow_mod" in sys.modules and learned.held == ["idle_slow_mod"]
    [timing] = learn_idle.imported()
    assert timing["module"] == "idle_slow_mod" and timing["source"] == "learned"
    assert learn_idle._learning.replace_spares
    status = learned.status()
    assert [m["module"] for m in status["modules"] if m["held"]] == ["idle_slow_mod"]


def test_submodules_a_run_learned_later_are_imported_with_a_held_package(cache, tmp_path):
    pkg = tmp_path / "site" / "idle_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "sub.py").write_text("X = 1\n")
    learned.save([{"module": "idle_pkg", "seconds": 0.5}])
    importlib.invalidate_caches()
    learn_idle._step()  # idle_slow_mod, first learned
    learn_idle._step()
    assert "idle_pkg" in sys.modules and "idle_pkg.sub" not in sys.modules
    try:
        # A later run (the package held) imported idle_pkg.sub: learned, then imported while idle.
        learned.save(learned.submodules_imported(set(), lambda m: True, {"idle_pkg": sys.modules["idle_pkg"],
                                                                         "idle_pkg.sub": object(),
                                                                         "idle_pkg.tests.test_x": object()}))
        [entry] = [e for e in learned.read(cache)[0] if e["module"] == "idle_pkg"]
        assert entry["submodules"] == ["idle_pkg.sub"]  # never a test module
        assert learn_idle.pending(learned.read(cache)[0]) == [("idle_pkg", ("idle_pkg.sub",))]
        learn_idle._step()
        assert "idle_pkg.sub" in sys.modules
        assert [t["module"] for t in learn_idle.imported()] == ["idle_slow_mod", "idle_pkg"]  # once each
    finally:
        for name in ("idle_pkg", "idle_pkg.sub"):
            sys.modules.pop(name, None)
