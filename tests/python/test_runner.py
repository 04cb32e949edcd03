"""runner.py outside a kernel: a run in a real fork, its output relayed to
this process's streams (the kernel path is covered by tests/integration and
tests/notebook)."""
import io
import json
import os
import socket
import sys

import pytest

from forked import RunPipes, run_spec, send_run
from ltest.in_kernel import handover, result, run_request, runner
from ltest.state import STATE


def test_run_outside_a_kernel_relays_output_and_returns_the_exit_code(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import sys\n"
        "def test_out(): print('OUT-LINE'); print('ERR-LINE', file=sys.stderr)\n"
        "def test_fail(): assert False\n")
    out, err = io.StringIO(), io.StringIO()
    code = runner.run(["-q", "-s", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=dict(os.environ),
                      stdout=out, stderr=err)
    assert code == 1
    assert "OUT-LINE" in out.getvalue() and "1 failed, 1 passed" in out.getvalue()
    assert "ERR-LINE" in err.getvalue() and "OUT-LINE" not in err.getvalue()


def test_run_leaves_this_process_untouched(tmp_path):
    (tmp_path / "test_mutate.py").write_text(
        "import os, sys\n"
        "def test_mutate():\n"
        "    os.environ['LTEST_LEAK'] = '1'\n"
        "    os.chdir('/')\n"
        "    sys.modules['ltest_leak'] = sys\n")
    before = (dict(os.environ), os.getcwd(), set(sys.modules))
    code = runner.run(["-q", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=dict(os.environ),
                      stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    assert "LTEST_LEAK" not in os.environ and os.getcwd() == before[1] and "ltest_leak" not in sys.modules


def test_run_in_a_terminal_gets_a_pty_with_the_clients_width(tmp_path):
    (tmp_path / "test_tty.py").write_text(
        "import os, shutil, sys\n"
        "def test_tty():\n"
        "    assert sys.stdout.isatty()\n"
        "    assert os.get_terminal_size(1).columns == 123\n")
    out = io.StringIO()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "PY_COLORS")}
    code = runner.run(["-s", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=env, stdout_isatty=True, columns=123,
                      stdout=out, stderr=io.StringIO())
    assert code == 0, out.getvalue()
    assert "\x1b[" in out.getvalue()  # pytest colours a terminal


@pytest.fixture
def server(monkeypatch):
    """The server's end of a real hand-over socket; the kernel's is handover.py's."""
    server_end, kernel_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    monkeypatch.setattr(STATE, "handover_socket", kernel_end)
    for name in ("prediction", "last_result", "refill"):
        monkeypatch.setattr(STATE, name, None)
    yield server_end
    server_end.close()
    handover.close()


def test_a_run_handed_over_runs_on_the_servers_fds_and_is_predicted_to_come_again(server, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_warned", set())  # a cause is told once per kernel
    (tmp_path / "test_x.py").write_text("def test_out(): print('HANDED-OVER')\n")
    pipes = RunPipes()
    try:
        wire = {**run_spec(tmp_path, args=["-s", "-p", "no:cacheprovider"]), "columns": 0}
        wire["env"]["PYTHONHASHSEED"] = "4242"  # cannot apply in a warm kernel: the client is told
        send_run(server, "run-5", wire, list(pipes.fds), handover.CHUNK)
        pipes.handed_over()
        assert handover.take_next(runner.take_run)  # outside a kernel it reaps the test process before it returns
        out, err, ctl = pipes.output()
    finally:
        pipes.close()
    answer = json.loads(server.recv(handover.MAX_ANSWER))
    reply = result.last_result()
    assert answer == {"taken": "run-5", "result": json.loads(json.dumps(reply))}
    assert reply["pid"] > 0 and reply["fork_unsafe"] == [] and reply["duration"] >= 0
    assert (reply["spare"], reply["practised"], reply["prepared"]) == (False, False, False)
    assert ctl == b"X 0\n" and "HANDED-OVER" in out and "1 passed" in out
    assert "ltest: warning: PYTHONHASHSEED=4242 cannot apply in a warm kernel" in err
    assert STATE.prediction == run_request.child_spec(wire)


def test_a_relayed_run_writes_to_this_process_and_replies_with_the_exit_code(server, tmp_path, capsys):
    (tmp_path / "test_x.py").write_text("def test_fail(): print('RELAYED'); assert 0\n")
    spec = run_spec(tmp_path, args=["-s", "-p", "no:cacheprovider"])
    reply = runner.serve(spec)
    assert reply["exit_code"] == 1 and reply["spare"] is False and result.last_result() is reply
    out = capsys.readouterr().out
    assert "RELAYED" in out and "1 failed" in out
    assert STATE.prediction == run_request.child_spec(spec)


def test_a_run_in_several_workers_is_not_predicted(server, tmp_path):
    (tmp_path / "test_x.py").write_text("def test_a(): pass\ndef test_b(): pass\n")
    reply = runner.serve(run_spec(tmp_path, workers=2))
    assert reply["exit_code"] == 0 and STATE.prediction is None
