"""ltest.lab_panel, the kernel side of the JupyterLab Tests panel: its event
relay alone, then collect and run in a real kernel, read as the panel reads
them (display_data messages of the event type)."""
import io
import json

from ltest.in_kernel import lab_panel
from ltest_kernel_io import ANSI as lab_panel_ansi, execute, results, stream_text

SUITE = """\
import pytest

def test_passes():
    pass

def test_fails():
    assert 6 * 7 == 41

@pytest.mark.skip(reason="sample suite: a skip the Tests panel must show as skipped")
def test_skipped():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_errors(broken):
    pass
"""


def test_relay_splits_events_from_output_across_chunks():
    events, rest = [], io.StringIO()
    relay = lab_panel.EventRelay(events.append, rest)
    line = lab_panel.MARK + json.dumps({"event": "start", "nodeid": "t.py::a"}) + "\n"
    text = "..F" + line + "tail\n" + lab_panel.MARK + "not json\n"
    for i in range(0, len(text), 3):  # the child's output arrives in pieces
        relay.write(text[i:i + 3])
    assert events == [{"event": "start", "nodeid": "t.py::a"}]
    assert rest.getvalue() == "..Ftail\n" + lab_panel.MARK + "not json\n"


def events_of(messages):
    return [m["content"]["data"][lab_panel.EVENT_MIME] for m in messages
            if m["msg_type"] == "display_data" and lab_panel.EVENT_MIME in m["content"]["data"]]


def test_collect_then_run_in_the_kernel(kernel, workdir):
    km, kc = kernel
    (workdir / "tests").mkdir()
    (workdir / "tests" / "test_suite.py").write_text(SUITE)
    (workdir / "tests" / "test_broken.py").write_text("import no_such_module_here\n")
    reply, messages = execute(kc, '__import__("ltest.in_kernel.lab_panel").in_kernel.lab_panel.collect("tests")')
    assert reply["status"] == "ok", reply
    events = events_of(messages)
    collected = [e for e in events if e["event"] == "collected"]
    assert collected[0]["tests"] == ["tests/test_suite.py::" + n for n in
                                     ("test_passes", "test_fails", "test_skipped", "test_errors")]
    errors = [e for e in events if e["event"] == "collect_error"]
    assert [e["nodeid"] for e in errors] == ["tests/test_broken.py"]
    assert "no_such_module_here" in errors[0]["longrepr"]
    assert events[-1] == {"event": "finished", "exit_code": 2}  # pytest: collection errors
    # Collected in a fork: the kernel imported none of it.
    reply, messages = execute(kc, "import sys; [m for m in sys.modules if 'test_suite' in m or 'no_such' in m]")
    assert results(messages) == ["[]"]

    reply, messages = execute(kc, '__import__("ltest.in_kernel.lab_panel").in_kernel.lab_panel.run("tests", '
                                  '["tests/test_suite.py"])')
    events = events_of(messages)
    starts = [e["nodeid"] for e in events if e["event"] == "start"]
    outcomes = {e["nodeid"].split("::")[1]: e for e in events if e["event"] == "result"}
    assert starts == collected[0]["tests"]
    assert {k: v["outcome"] for k, v in outcomes.items()} == {
        "test_passes": "passed", "test_fails": "failed", "test_skipped": "skipped", "test_errors": "error"}
    assert "assert (6 * 7) == 41" in lab_panel_ansi.sub("", outcomes["test_fails"]["longrepr"])
    assert "\x1b[" in outcomes["test_fails"]["longrepr"]  # coloured, for the panel's ANSI rendering
    assert "setup broke" in outcomes["test_errors"]["longrepr"]
    assert outcomes["test_skipped"]["longrepr"] == "Skipped: sample suite: a skip the Tests panel must show as skipped"
    assert events[-1] == {"event": "finished", "exit_code": 1}
    # pytest's own report is the request's stream output, not events.
    assert "1 failed, 1 passed, 1 skipped, 1 error in" in stream_text(messages), stream_text(messages)
