"""learned.py's pure parts, without a kernel."""
import json
import os

from ltest import learned


def test_merge_updates_known_modules_and_appends_new_ones_in_order():
    old = [{"module": "a", "seconds": 0.1}, {"module": "b", "seconds": 0.2, "failed": "ImportError: x"}]
    new = [{"module": "c", "seconds": 0.3}, {"module": "a", "seconds": 0.4}]
    assert learned.merge(old, new) == [{"module": "a", "seconds": 0.4},
                                       {"module": "b", "seconds": 0.2, "failed": "ImportError: x"},
                                       {"module": "c", "seconds": 0.3}]


def test_candidates_are_costly_safe_and_not_excluded_or_configured():
    entries = [{"module": "slow", "seconds": 0.5}, {"module": "cheap", "seconds": 0.01},
               {"module": "broken", "seconds": 0.5, "failed": "ImportError"},
               {"module": "threads", "seconds": 0.5, "fork_unsafe": "started threads"},
               {"module": "skipme", "seconds": 0.5}, {"module": "torch", "seconds": 2.0}]
    assert learned.candidates(entries, exclude=["skipme"], configured=["torch.nn"]) == ["slow"]


def test_cache_file_is_per_project_and_interpreter_under_xdg_cache_home():
    env = {"XDG_CACHE_HOME": "/c", "HOME": "/h"}
    a = learned.cache_file("/p", "/usr/bin/python3", env)
    assert os.path.dirname(a) == "/c/ltest" and a.endswith(".json")
    assert a != learned.cache_file("/q", "/usr/bin/python3", env) != learned.cache_file("/p", "/opt/py", env)
    assert learned.cache_dir({"XDG_CACHE_HOME": "relative", "HOME": "/h"}) == "/h/.cache/ltest"


def test_write_is_private_and_a_bad_file_reads_as_empty_with_a_warning(tmp_path):
    path = str(tmp_path / "ltest" / "x.json")
    learned.write(path, "/p", [{"module": "m", "seconds": 0.2}])
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert learned.read(path) == ([{"module": "m", "seconds": 0.2}], None)
    assert os.listdir(tmp_path / "ltest") == ["x.json"]  # no temporary file left
    with open(path, "w") as f:
        f.write(json.dumps({"modules": [{"seconds": 1}]}))
    entries, warning = learned.read(path)
    assert entries == [] and path in warning
    assert learned.read(str(tmp_path / "missing.json")) == ([], None)


def test_save_writes_only_news(tmp_path, monkeypatch):
    path = str(tmp_path / "ltest" / "x.json")
    monkeypatch.setattr(learned, "_file", path)
    monkeypatch.setattr(learned, "_project", "/p")
    learned.save([{"module": "m", "seconds": 0.2}])
    first = os.stat(path).st_mtime_ns, os.stat(path).st_ino
    learned.save([{"module": "m", "seconds": 0.3}])  # the same module again: nothing new
    assert (os.stat(path).st_mtime_ns, os.stat(path).st_ino) == first
    learned.save([{"module": "m", "seconds": 0.3, "fork_unsafe": "threads"}, {"module": "n", "seconds": 0.1}])
    assert [(e["module"], "fork_unsafe" in e) for e in learned.read(path)[0]] == [("m", True), ("n", False)]
