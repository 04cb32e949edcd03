"""The pytest plugin of ltest's JupyterLab Tests panel (`-p ltest.in_test_process.lab_plugin`,
loaded by ltest.in_kernel.lab_panel into the forked test process): one event per line
on stdout, JSON after an ASCII record separator (lab_panel.MARK), which
lab_panel picks out of the output in the kernel. Events are listed there."""
import io
import json
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


def pytest_collection_finish(session):
    _emit({"event": "collected", "tests": [item.nodeid for item in session.items]})


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
