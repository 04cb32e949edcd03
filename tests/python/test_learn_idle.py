"""learn_idle.py without a kernel: which learned modules are still to
import, and that a cell executing defers the import (the kernel paths, with
a real kernel and notebook cell: tests/integration/test_warm_second_run.py)."""
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
    assert learn_idle.pending(entries) == ["idle_slow_mod"]
    assert learn_idle.pending(entries, exclude=["idle_slow_mod"]) == []
    learn_idle._learning.tried.add("idle_slow_mod")
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
