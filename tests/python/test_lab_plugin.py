"""lab_plugin.py, the Tests panel's pytest plugin, in a real pytest run (a
subprocess): the events it writes, as lab_panel reads them. The kernel side
(lab_panel.py) and the panel are tested in tests/notebook and tests/browser."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ltest.in_kernel.lab_panel import MARK

SHARE = str(Path(__file__).resolve().parents[2] / "share" / "ltest")

SUITE = """\
import pytest

@pytest.fixture
def needs_a_service():
    raise RuntimeError("setup broke")

class TestShapes:
    @pytest.mark.parametrize("n", [1])
    def test_passes(self, n):
        assert n

    def test_fails(self):
        assert 6 * 7 == 41

@pytest.mark.skip(reason="the reason shown")
def test_skipped():
    pass

def test_errors(needs_a_service):
    pass

@pytest.mark.xfail
def test_expected_to_fail():
    assert 0
"""


def events_of(directory):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = SHARE
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "ltest.in_test_process.lab_plugin", "-q",
                          "-p", "no:cacheprovider"], cwd=directory, env=env, capture_output=True, text=True,
                         timeout=120)
    lines = run.stdout.split("\n")  # not splitlines(): it splits at the mark, a record separator, too
    return [json.loads(line[line.index(MARK) + 1:]) for line in lines if MARK in line], run


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    directory = tmp_path_factory.mktemp("suite")
    (directory / "test_suite.py").write_text(SUITE)
    found, run = events_of(directory)
    assert run.returncode == 1, run.stderr
    return found


def by_test(events):
    return {e["nodeid"].split("::")[-1]: e for e in events if e["event"] == "result"}


def test_the_collected_tests_come_first_then_each_starts_before_its_result(events):
    names = ["test_passes[1]", "test_fails", "test_skipped", "test_errors", "test_expected_to_fail"]
    ids = ["TestShapes::test_passes[1]", "TestShapes::test_fails"] + names[2:]
    assert events[0]["event"] == "collected"
    assert events[0]["tests"] == [f"test_suite.py::{n}" for n in ids]
    order = [(e["event"], e["nodeid"].split("::")[-1]) for e in events[1:]]
    assert order == [pair for n in names for pair in (("start", n), ("result", n))]


def test_each_collected_test_has_its_source_location_for_the_panels_jump(events):
    # [path relative to the run's cwd, 0-based first line of the def (its decorators')], as
    # pytest's item.location has it.
    lines = SUITE.splitlines()
    locations = events[0]["locations"]
    assert set(locations) == set(events[0]["tests"])
    for nodeid, (path, line) in locations.items():
        assert path == "test_suite.py"
        name = nodeid.split("::")[-1].split("[")[0]
        below = [text.strip() for text in lines[line:line + 3]]
        assert below[0].startswith(("@", "def ")) and f"def {name}(" in "".join(below), (nodeid, below)


def test_each_test_has_one_outcome_as_pytest_counts_it(events):
    results = by_test(events)
    assert {n: (e["outcome"], e["when"]) for n, e in results.items()} == {
        "test_passes[1]": ("passed", "call"), "test_fails": ("failed", "call"), "test_skipped": ("skipped", "setup"),
        "test_errors": ("error", "setup"), "test_expected_to_fail": ("skipped", "call")}
    assert all(isinstance(e["duration"], float) and e["duration"] >= 0 for e in results.values())


def test_failures_carry_pytests_report_in_colour_and_skips_their_reason(events):
    results = by_test(events)
    assert "assert (6 * 7) == 41" in results["test_fails"]["longrepr"] and "\x1b[" in results["test_fails"]["longrepr"]
    assert "RuntimeError: setup broke" in results["test_errors"]["longrepr"]
    assert results["test_skipped"]["longrepr"] == "Skipped: the reason shown"
    assert "longrepr" not in results["test_passes[1]"]


def test_a_module_that_cannot_be_collected_is_a_collect_error(tmp_path):
    (tmp_path / "test_broken.py").write_text("import no_such_module_anywhere\n")
    found, run = events_of(tmp_path)
    assert run.returncode == 2
    [error] = [e for e in found if e["event"] == "collect_error"]
    assert error["nodeid"] == "test_broken.py" and "no_such_module_anywhere" in error["longrepr"]
    assert found[-1] == {"event": "collected", "tests": [], "locations": {}}
