"""ltest.in_kernel.lab_channel, the Tests panel's own channel (a comm), in a
real kernel driven as JupyterLab drives it: comm_open and comm_msg on the
shell channel, the run's events back as comm_msg on iopub. A panel run
leaves the kernel free: a cell sent during a run gets its reply while the
run is still going (the run waits for a file the test writes only after the
reply came, so no timing is involved)."""
import textwrap
import uuid

from ltest_kernel_io import ANSI, execute

REGISTER = '__import__("ltest.in_kernel.lab_channel").in_kernel.lab_channel.register()'

BLOCKING = textwrap.dedent("""\
    import pathlib
    import time

    HERE = pathlib.Path(__file__).parent

    def test_first():
        pass

    def test_blocks():
        while not (HERE / "release").exists():
            time.sleep(0.02)

    def test_after():
        pass
    """)


class Panel:
    """The panel's side of the comm, over a BlockingKernelClient."""

    def __init__(self, kc):
        self.kc = kc
        self.comm_id = uuid.uuid4().hex
        self.seen = []  # every iopub message read, in order
        reply, _ = execute(kc, REGISTER)
        assert reply["status"] == "ok", reply
        self._send("comm_open", {"comm_id": self.comm_id, "target_name": "ltest.panel", "data": {}})

    def _send(self, msg_type, content):
        msg = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def send(self, data):
        return self._send("comm_msg", {"comm_id": self.comm_id, "data": data})

    def next_message(self):
        msg = self.kc.get_iopub_msg(timeout=60)
        self.seen.append(msg)
        return msg

    def event(self, msg):
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == self.comm_id:
            return msg["content"]["data"]
        return None

    def wait_event(self, match):
        """Reads iopub until an event of ours matches; returns it."""
        while True:
            event = self.event(self.next_message())
            if event is not None and match(event):
                return event

    def events(self):
        return [e for e in map(self.event, self.seen) if e is not None]


def test_a_cell_runs_while_a_panel_run_is_going(kernel, workdir):
    km, kc = kernel
    (workdir / "blocking").mkdir()
    (workdir / "blocking" / "test_block.py").write_text(BLOCKING)
    panel = Panel(kc)
    panel.send({"action": "run", "run": 7, "directory": "blocking", "nodeids": []})
    panel.wait_event(lambda e: e["event"] == "start" and e["nodeid"].endswith("::test_blocks"))

    # The run holds test_blocks; the notebook's cell runs now, in the kernel itself.
    cell = kc.execute("answer = 6 * 7; answer")
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == cell:
            break
    assert reply["content"]["status"] == "ok", reply["content"]
    assert not [e for e in panel.events() if e["event"] == "finished"], panel.events()

    (workdir / "blocking" / "release").write_text("go")
    finished = panel.wait_event(lambda e: e["event"] == "finished")
    assert finished == {"event": "finished", "exit_code": 0, "run": 7}
    results = {e["nodeid"].split("::")[1]: e["outcome"] for e in panel.events() if e["event"] == "result"}
    assert results == {"test_first": "passed", "test_blocks": "passed", "test_after": "passed"}
    assert all(e["run"] == 7 for e in panel.events())
    output = ANSI.sub("", "".join(e["text"] for e in panel.events() if e["event"] == "output"))
    assert "3 passed in" in output, output
    # The run was a fork: the kernel never imported the tests.
    reply, messages = execute(kc, "import sys; print('test_block' in sys.modules, answer)")
    assert "False 42" in "".join(m["content"].get("text", "") for m in messages)


def test_stop_interrupts_the_run_and_leaves_the_kernel_alone(kernel, workdir):
    km, kc = kernel
    (workdir / "blocking").mkdir()
    (workdir / "blocking" / "test_block.py").write_text(BLOCKING)
    panel = Panel(kc)
    panel.send({"action": "collect", "run": 1, "directory": "blocking"})
    collected = panel.wait_event(lambda e: e["event"] == "collected")
    assert [t.split("::")[1] for t in collected["tests"]] == ["test_first", "test_blocks", "test_after"]
    assert panel.wait_event(lambda e: e["event"] == "finished") == {"event": "finished", "exit_code": 0, "run": 1}

    panel.send({"action": "run", "run": 2, "directory": "blocking", "nodeids": []})
    panel.wait_event(lambda e: e["event"] == "start" and e["nodeid"].endswith("::test_blocks"))
    panel.send({"action": "stop", "run": 2})
    finished = panel.wait_event(lambda e: e["event"] == "finished")
    assert finished == {"event": "finished", "exit_code": 2, "run": 2}  # pytest's exit code for an interrupt
    results = [e["nodeid"].split("::")[1] for e in panel.events() if e["event"] == "result"]
    assert results == ["test_first"]
    reply, _ = execute(kc, "x = 1")
    assert reply["status"] == "ok"  # the kernel itself was not interrupted


def test_a_bad_request_is_refused_with_its_reason(kernel, workdir):
    km, kc = kernel
    panel = Panel(kc)
    panel.send({"action": "run", "run": 3, "directory": ".", "nodeids": "not a list"})
    refused = panel.wait_event(lambda e: e["event"] == "refused")
    assert refused["run"] == 3 and "nodeids must be a list of test ids" in refused["reason"], refused
    assert panel.wait_event(lambda e: e["event"] == "finished") == {"event": "finished", "exit_code": None, "run": 3}
    panel.send({"action": "collect", "run": 5, "directory": "-x"})
    assert "starts with '-': name it ./-x" in panel.wait_event(lambda e: e["event"] == "refused")["reason"]
    panel.send({"action": "explode", "run": 4})
    assert "unknown action 'explode'" in panel.wait_event(lambda e: e["event"] == "refused")["reason"]
