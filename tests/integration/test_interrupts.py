"""Ctrl-C, a killed client, a killed kernel: the run ends right, the kernel stays usable."""
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import SLEEPER, children_states, read_until, write_files

def wait_for_output(proc, mark):
    seen = read_until(proc, mark)
    assert mark in seen, seen
    return seen


def where_it_waits(server):
    """For a run that does not end: the server's runs, its test processes'
    signal state and kernel wait channel, and the server log's tail."""
    status = server.status()
    lines = [f"in flight: {status['in_flight']}"]
    for run in status["in_flight"]:
        proc = Path(f"/proc/{run['pid']}")
        try:
            sig = [line for line in (proc / "status").read_text().splitlines() if line.startswith(("State", "Sig", "Shd"))]
            lines.append(f"pid {run['pid']}: {sig} wchan={(proc / 'wchan').read_text()}")
        except OSError as e:
            lines.append(f"pid {run['pid']}: {e}")
    return "\n".join(lines + ["server log:", server.log.read_text()[-3000:]])


def test_ctrl_c_interrupts_like_plain_pytest_and_the_next_run_works(shared_server, tmp_path):
    root = write_files(tmp_path, SLEEPER)
    p = shared_server.popen("--", "-s", "-q", cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_output(p, b"SLEEPING")
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the run did not end after Ctrl-C\n" + where_it_waits(shared_server)) from None
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 2
    text = out.decode() + err.decode()
    assert "KeyboardInterrupt" in text
    assert "no tests ran" in text or "interrupted" in text.lower()
    r = shared_server.run("-q", "-k", "after", cwd=root)
    assert r.returncode == 0 and "1 passed" in r.stdout


def test_killed_client_gets_its_tests_killed(shared_server, tmp_path):
    root = write_files(tmp_path, SLEEPER)
    kernel_pid = shared_server.status()["kernel_pid"]
    p = shared_server.popen("--", "-s", "-q", cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_output(p, b"SLEEPING")
    # The run's own test process (the kernel's other children are spares for the next runs).
    test_pids = [run["pid"] for run in shared_server.status()["in_flight"]]
    assert test_pids and all(pid in dict(children_states(kernel_pid)) for pid in test_pids)
    p.kill()
    p.wait()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in test_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in test_pids), "the test process outlived its client"
    r = shared_server.run("-q", "-k", "after", cwd=root)
    assert r.returncode == 0


def test_timeout_interrupts_the_run(shared_server, tmp_path):
    root = write_files(tmp_path, SLEEPER)
    r = shared_server.client("--timeout", "2", "--", "-q", "-k", "sleeps", cwd=root)
    assert r.returncode == 2
    assert "--timeout" in r.stderr


def test_kernel_killed_mid_run_is_reported_and_restarted(start_server, tmp_path):
    server = start_server()
    root = write_files(tmp_path, SLEEPER)
    kernel_pid = server.status()["kernel_pid"]
    p = server.popen("--", "-s", "-q", cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_output(p, b"SLEEPING")
    os.kill(kernel_pid, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 75
    assert "kernel" in err.decode() and "restart" in err.decode()
    r = server.run("-q", "-k", "after", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    status = server.status()
    assert status["restarts"] == 1 and status["kernel_pid"] != kernel_pid
