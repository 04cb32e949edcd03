"""The pytest plugin of ltest's JupyterLab Tests panel (`-p ltest.in_test_process.lab_plugin`,
loaded by ltest.in_kernel.lab_channel and lab_panel into the forked test process): one event per line
on stdout, JSON after an ASCII record separator (lab_panel.MARK), which
lab_panel picks out of the output in the kernel. Events are listed there."""
import io
import json
import os
import sys

from ..in_kernel.lab_panel import MARK
from ..private_api import pytest_api


def _emit(event):
    sys.stdout.write(MARK + json.dumps(event) + "\n")  # the relay finds it mid-line too
    sys.stdout.flush()


def _ansi_text(longrepr):
    """The failure as pytest would print it, with its colours."""
    out = io.StringIO()
    tw = pytest_api.terminal_writer(out)
    if tw is not None and hasattr(longrepr, "toterminal"):
        longrepr.toterminal(tw)
    else:
        out.write(str(longrepr) + "\n")  # what tw.line writes
    return out.getvalue()


def _location(item):
    """[path relative to the test process's cwd (the kernel's), 0-based line]
    of a test's source, for the panel's jump to it; None if pytest has none."""
    try:
        path, line, _ = item.location
        full = os.path.join(str(item.session.config.rootpath), path)
        return [os.path.relpath(full), line if line is not None else 0]
    except Exception:  # an item type of some plugin without a file location
        return None


def pytest_collection_finish(session):
    locations = {item.nodeid: _location(item) for item in session.items}
    _emit({"event": "collected", "tests": [item.nodeid for item in session.items],
           "locations": {k: v for k, v in locations.items() if v is not None}})


def pytest_collectreport(report):
    if report.failed:
        _emit({"event": "collect_error", "nodeid": report.nodeid,
               "longrepr": _ansi_text(report.longrepr)})


def pytest_runtest_logstart(nodeid, location):
    _emit({"event": "start", "nodeid": nodeid})


def _outcome(report):
    """One outcome per test: the call's, or a setup/teardown error, or a skip."""
    if report.when == "call":
        return report.outcome  # an xfail is "skipped", as pytest counts it
    if report.failed:
        return "error"
    if report.skipped and report.when == "setup":
        return "skipped"
    return None


def pytest_runtest_logreport(report):
    outcome = _outcome(report)
    if outcome is None:
        return
    event = {"event": "result", "nodeid": report.nodeid, "outcome": outcome,
             "when": report.when, "duration": round(report.duration, 6)}
    if report.failed:
        event["longrepr"] = _ansi_text(report.longrepr)
    elif report.skipped and isinstance(report.longrepr, tuple):
        event["longrepr"] = report.longrepr[2]  # (path, line, reason)
    _emit(event)
