"""The events of ltest's JupyterLab Tests panel (lab/extension), and a run
that publishes them in the current request.

The panel's runs go through its own channel (lab_channel.py: a comm; the
kernel stays free during a run). Both that channel and the functions here
run pytest in a fork of the kernel (nothing a collection or a test does
reaches the notebook) with ltest.in_test_process.lab_plugin loaded into that
pytest as a plugin (`-p ltest.in_test_process.lab_plugin`). The plugin
writes one event per line, JSON after an ASCII record separator, among
pytest's own output; EventRelay picks the events out of the child's output
as it arrives, the rest is pytest's output.

`collect` and `run` below hold the request that calls them until the run
ends and publish each event as a `display_data` message of type EVENT_MIME
(for a script or a frontend other than the panel):

    __import__("ltest.in_kernel.lab_panel").in_kernel.lab_panel.collect(".")
    __import__("ltest.in_kernel.lab_panel").in_kernel.lab_panel.run(".", ["test_x.py::test_a"])

Events: {"event": "collected", "tests": [nodeid, ...], "locations": {nodeid:
[path relative to the kernel's cwd, 0-based line]}}; {"event": "start",
"nodeid"}; {"event": "result", "nodeid", "outcome": passed|failed|skipped|
error, "duration", "longrepr": the failure's text with ANSI colours};
{"event": "collect_error", "nodeid", "longrepr"}; then the kernel side's
{"event": "finished", "exit_code"}.
"""
import json
import os
import sys

EVENT_MIME = "application/vnd.ltest.event+json"
MARK = "\x1e"  # starts an event line in the child's stdout
PLUGIN = "ltest.in_test_process.lab_plugin"  # its own module: the kernel never imports it, so pytest can load it fresh


class EventRelay:
    """A text stream for ltest.run's stdout: event lines become display_data
    messages (`publish`), everything else goes to `rest`."""

    def __init__(self, publish, rest):
        self.publish = publish
        self.rest = rest
        self.pending = ""  # an event line not yet complete

    def write(self, text):
        data = self.pending + text
        self.pending = ""
        while data:
            start = data.find(MARK)
            if start < 0:
                self.rest.write(data)
                break
            if start:
                self.rest.write(data[:start])
            end = data.find("\n", start)
            if end < 0:
                self.pending = data[start:]
                break
            self._event(data[start + 1:end])
            data = data[end + 1:]
        return len(text)

    def _event(self, line):
        try:
            self.publish(json.loads(line))
        except ValueError:
            self.rest.write(MARK + line + "\n")  # not one of ours: pass it on unchanged

    def flush(self):
        self.rest.flush()


def _display(event):
    from IPython.display import display
    display({EVENT_MIME: event}, raw=True)


def _pytest(args, publish=_display):
    import ltest
    relay = EventRelay(publish, sys.stdout)
    code = ltest.run(["-p", PLUGIN] + list(args), cwd=os.getcwd(), stdout=relay, stderr=sys.stderr)
    relay.flush()
    publish({"event": "finished", "exit_code": code})
    return code


def collect(directory=".", publish=_display):
    """Lists the tests under `directory` (relative to the kernel's cwd)."""
    return _pytest(["--collect-only", "-q", directory], publish)


def run(directory=".", nodeids=(), publish=_display):
    """Runs the tests `nodeids` (all of `directory` if none)."""
    return _pytest(["-q"] + (list(nodeids) or [directory]), publish)
