"""Kernels from a real Jupyter Enterprise Gateway (PyPI's 3.3, started by the
test with its local process proxy): `ltest -l --gateway URL` asks it for the
kernels, reaches them through its websocket channels, and a run gives what
cold pytest gives. The gateway's token comes from the environment and never
shows in the server's log or --status; a gateway that refuses is one line.
"""
import json
import os
import secrets
import signal
import subprocess

import pytest

from conftest import SLEEPER, Server, free_port, plain_pytest, read_until, summary_line, wait_for, write_files
from gateway_helpers import KERNELSPEC, Gateway, running_gateway

SUITE = {
    "test_mod.py": """
import socket, sys

def test_passes():
    assert sum([1, 2]) == 3

def test_fails():
    print("output of a failing test")
    assert 2 + 2 == 5

def test_not_in_jupyter():
    assert "ipykernel" not in sys.modules
""",
}


@pytest.fixture
def gateway(tmp_path):
    with running_gateway(tmp_path) as g:
        yield g


def gateway_server(tmp_path, gateway, token, kernels=1, extra=()):
    return Server(tmp_path, modules=("json",), extra_env={"LTEST_GATEWAY_TOKEN": token},
                  args=("--gateway", gateway.url, "--gateway-kernels", str(kernels), "--kernel", KERNELSPEC, *extra))


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    write_files(root, SUITE)
    return root


def test_a_run_on_a_gateway_kernel_is_a_cold_run(tmp_path, gateway, project):
    server = gateway_server(tmp_path, gateway, gateway.token, kernels=2)
    try:
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        assert len(gateway.kernel_pids()) >= 2, "the gateway started no kernels for the server"
        cold = plain_pytest("-q", "-p", "no:cacheprovider", cwd=project)
        warm = server.run("-q", "-p", "no:cacheprovider", cwd=project)
        assert warm.returncode == cold.returncode == 1, warm.stdout + warm.stderr
        assert summary_line(warm.stdout) == summary_line(cold.stdout)
        assert "output of a failing test" in warm.stdout
        assert "assert (2 + 2) == 5" in warm.stdout
        # -n runs over both kernels (test_gateway_shards.py): a helper run on the second.
        sharded = server.client("-n", "2", "--", "-q", "-p", "no:cacheprovider", cwd=project)
        assert sharded.returncode == 1, sharded.stdout + sharded.stderr
        assert summary_line(sharded.stdout) == summary_line(cold.stdout)

        status = server.status()
        kernels = status["gateway_kernels"]
        assert len(kernels) == 2
        for k in kernels:
            assert k["url"] == gateway.url and k["kernel_id"] and k["state"] == "warm"
            assert k["host"] == os.uname().nodename
            assert "json" in [p["module"] for p in k["preloaded"]]
        assert sum(k["runs"] for k in kernels) == 3
        text = server.client("--status").stdout
        assert kernels[0]["kernel_id"] in text and kernels[1]["kernel_id"] in text
        # The token: in no log, no status.
        assert gateway.token not in server.log.read_text()
        assert gateway.token not in json.dumps(status) and gateway.token not in text
    finally:
        server.stop()
    # The server shut its kernels down on the gateway.
    assert wait_for(lambda: not gateway.kernel_pids(), 30), gateway.log.read_text()


def test_gateway_kernels_that_die_are_replaced(tmp_path, gateway, project):
    server = gateway_server(tmp_path, gateway, gateway.token, kernels=2)
    try:
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        before = {k["kernel_id"] for k in server.status()["gateway_kernels"]}
        for pid in gateway.kernel_pids():
            os.kill(pid, signal.SIGKILL)
        # The gateway restarts a dead kernel, whose state (the runtime, the
        # preloads) is gone: the server replaces each with a warm one, the
        # first (where runs go first) and the pool's.
        assert wait_for(lambda: server.log.read_text().count("restarting it") >= 2, 120), server.log.read_text()

        def replaced():
            kernels = server.status()["gateway_kernels"]  # answered while they restart
            return all(k["state"] == "warm" and k["kernel_id"] not in before for k in kernels)

        assert wait_for(replaced, 300), server.log.read_text()
        warm = server.run("-q", "-p", "no:cacheprovider", "test_mod.py::test_passes", cwd=project)
        assert warm.returncode == 0, warm.stdout + warm.stderr
        assert summary_line(warm.stdout) == "1 passed"
        assert all(k["restarts"] >= 1 for k in server.status()["gateway_kernels"])
    finally:
        server.stop()
    assert wait_for(lambda: not gateway.kernel_pids(), 30), gateway.log.read_text()


# A preload that, on a kernel's warm-up, waits while the gate is closed:
# a restart held there for as long as the test wants.
GATED_PRELOAD = """
import os, time
if not os.path.exists({gate!r}):
    open({waiting!r}, "w").close()
    while not os.path.exists({gate!r}):
        time.sleep(0.02)
"""


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


@pytest.mark.parametrize("restarted", [0, 1], ids=["first", "second"])
def test_a_kernel_being_restarted_holds_up_no_other_kernels_run(tmp_path, project, restarted):
    marks = tmp_path / "marks"
    marks.mkdir()
    gate, waiting = marks / "open", marks / "waiting"
    gate.touch()
    (marks / "ltest_gated.py").write_text(GATED_PRELOAD.format(gate=str(gate), waiting=str(waiting)))
    g = Gateway(tmp_path, token=secrets.token_hex(16))
    spec = json.loads(g.spec_file.read_text())
    spec["env"] = {"PYTHONPATH": str(marks)}
    g.spec_file.write_text(json.dumps(spec))
    server = Server(tmp_path, modules=("json", "ltest_gated"), extra_env={"LTEST_GATEWAY_TOKEN": g.token},
                    args=("--gateway", g.url, "--gateway-kernels", "2", "--kernel", KERNELSPEC))
    try:
        g.start()
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        kernel_id = server.status()["gateway_kernels"][restarted]["kernel_id"]
        ours = [p for p in g.kernel_pids() if kernel_id in open(f"/proc/{p}/cmdline").read()]
        (pid,) = [p for p in ours if parent_of(p) not in ours]  # the kernel, not what it forked
        gate.unlink()
        os.kill(pid, signal.SIGKILL)

        def state():
            return server.status()["gateway_kernels"][restarted]["state"]

        # Its restart waits in the gated preload: the server answers, and runs on the other kernel.
        assert wait_for(waiting.exists, 300), server.log.read_text()
        assert wait_for(lambda: state() == "restarting", 300), server.status()
        warm = server.run("-q", "-p", "no:cacheprovider", "test_mod.py::test_passes", cwd=project)
        assert warm.returncode == 0 and summary_line(warm.stdout) == "1 passed", warm.stdout + warm.stderr
        assert state() == "restarting"  # the gate is still closed: it was never in the way
        gate.touch()
        assert wait_for(lambda: state() == "warm", 300), server.log.read_text()
        both = server.client("-n", "2", "--", "-q", "-p", "no:cacheprovider", cwd=project)
        assert both.returncode == 1 and "sharded over 2 gateway kernels" in server.log.read_text(), both.stdout
    finally:
        server.stop()
        g.stop()


def test_runs_go_to_every_kernel_and_ctrl_c_reaches_them(tmp_path, gateway):
    root = tmp_path / "sleeper"
    root.mkdir()
    write_files(root, SLEEPER)
    server = gateway_server(tmp_path, gateway, gateway.token, kernels=2)
    try:
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        p = server.popen("--", "-s", "-q", "-p", "no:cacheprovider", "-k", "sleeps", cwd=root,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            seen = read_until(p, b"SLEEPING", timeout=120)
            assert b"SLEEPING" in seen, seen
            # One kernel is busy with that run: the next run goes to the other, now.
            r = server.run("-q", "-p", "no:cacheprovider", "-k", "after", cwd=root)
            assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
            assert p.poll() is None, "the sleeper ended before it was interrupted"
            runs = sorted(k["runs"] for k in server.status()["gateway_kernels"])
            assert runs == [1, 1], server.status()["gateway_kernels"]
            p.send_signal(signal.SIGINT)  # the client asks the server, the server the gateway (REST)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
        text = seen.decode() + out.decode() + err.decode()
        assert p.returncode == 2, text
        assert "KeyboardInterrupt" in text
        r = server.run("-q", "-p", "no:cacheprovider", "-k", "after", cwd=root)
        assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    finally:
        server.stop()


def test_input_reaches_a_gateway_kernels_test(tmp_path, gateway):
    root = tmp_path / "asks"
    root.mkdir()
    write_files(root, {"test_ask.py": """
def test_asks():
    assert input("name? ") == "ltest"
"""})
    server = gateway_server(tmp_path, gateway, gateway.token)
    try:
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        r = server.run("-s", "-q", "-p", "no:cacheprovider", cwd=root, input="ltest\n")
        assert r.returncode == 0, r.stdout + r.stderr
        assert summary_line(r.stdout) == "1 passed"
    finally:
        server.stop()


def test_a_gateway_that_goes_away_is_one_line_per_run(tmp_path, gateway, project):
    server = gateway_server(tmp_path, gateway, gateway.token)
    try:
        server.start(timeout=300)
        assert server.proc.poll() is None, server.log.read_text()
        gateway.stop()  # the gateway and its kernels, killed
        assert wait_for(lambda: "restarting it" in server.log.read_text(), 120), server.log.read_text()
        r = server.run("-q", "-p", "no:cacheprovider", cwd=project)
        assert r.returncode == 78, r.stdout + r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert f"cannot connect to the gateway at {gateway.url}" in lines[0]
        assert server.proc.poll() is None, "the server should keep serving (and retry at the next run)"
    finally:
        server.stop()


def test_a_bad_token_is_one_line(tmp_path, gateway):
    server = gateway_server(tmp_path, gateway, "not-" + gateway.token)
    try:
        server.start(timeout=120)
        assert server.proc.wait(timeout=60) == 78
        lines = [l for l in server.log.read_text().splitlines() if "401" in l]
        assert len(lines) == 1, server.log.read_text()
        assert "refused to" in lines[0] and "LTEST_GATEWAY_TOKEN" in lines[0]
        assert gateway.token not in server.log.read_text()
    finally:
        server.stop()


def test_a_gateway_without_capacity_is_one_line_and_keeps_nothing(tmp_path):
    g = Gateway(tmp_path, token=secrets.token_hex(16), max_kernels=1)
    try:
        g.start()
        server = gateway_server(tmp_path, g, g.token, kernels=2)  # the second is refused
        try:
            server.start(timeout=300)
            assert server.proc.wait(timeout=120) == 78
            lines = [l for l in server.log.read_text().splitlines() if "403" in l]
            assert len(lines) == 1, server.log.read_text()
            assert "refused to start a kernel" in lines[0]
        finally:
            server.stop()
        # The first kernel, started and warmed, was shut down on the gateway.
        assert wait_for(lambda: not g.kernel_pids(), 30), g.log.read_text()
    finally:
        g.stop()


def test_no_gateway_there_is_one_line(tmp_path):
    port = free_port()  # nothing listens there
    server = Server(tmp_path, extra_env={"LTEST_GATEWAY_TOKEN": "t"},
                    args=("--gateway", f"http://127.0.0.1:{port}", "--kernel", KERNELSPEC))
    try:
        server.start(timeout=120)
        assert server.proc.wait(timeout=60) == 78
        lines = [l for l in server.log.read_text().splitlines() if "gateway" in l]
        assert any(f"cannot connect to the gateway at http://127.0.0.1:{port}" in l for l in lines), server.log.read_text()
    finally:
        server.stop()


def test_gateway_flags_are_a_servers(tmp_path):
    r = Server(tmp_path).client("--gateway", "http://127.0.0.1:1", "--", "-q")
    assert r.returncode == 64
    assert "--gateway" in r.stderr and len(r.stderr.strip().splitlines()) == 1
