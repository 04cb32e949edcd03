"""Runs that do not hold the kernel: each client gets its own test process at
once, output flows straight from the test process to the server, a slow or
stopped reader slows only its own run, and a notebook sharing the kernel
executes cells during a run.

Concurrency is shown by events, not by timing: a test in one run waits for a
file that a test in another run writes, which only ends if both run at once.
"""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PYTHON, read_until, wait_for, write_files

# Each test waits for its own "go" file: the test (not a clock) decides when a run may end.
GATED = {"test_gated.py": """
    import os, pathlib, time
    def test_gated():
        gate = pathlib.Path(os.environ["GATE"])
        print("WAITING", flush=True)
        while not gate.exists():
            time.sleep(0.02)
        print("RELEASED", flush=True)
"""}


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def server_pid(server):
    return server.status()["server_pid"]


def test_two_runs_run_at_once_each_with_its_own_output_and_exit_code(shared_server, tmp_path):
    # Run A waits for B's file, B waits for A's: queued runs would never end.
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    write_files(a_dir, {"test_a.py": f"""
        import pathlib, time
        def test_a():
            pathlib.Path({str(tmp_path / 'a-started')!r}).touch()
            while not pathlib.Path({str(tmp_path / 'b-started')!r}).exists():
                time.sleep(0.02)
            print("OUTPUT-OF-A")
    """})
    write_files(b_dir, {"test_b.py": f"""
        import pathlib, time
        def test_b():
            pathlib.Path({str(tmp_path / 'b-started')!r}).touch()
            while not pathlib.Path({str(tmp_path / 'a-started')!r}).exists():
                time.sleep(0.02)
            print("OUTPUT-OF-B")
            assert False
    """})
    a = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=a_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    b = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=b_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    a_out, a_err = a.communicate(timeout=120)
    b_out, b_err = b.communicate(timeout=120)
    assert a.returncode == 0, a_out + a_err
    assert b.returncode == 1, b_out + b_err
    assert "OUTPUT-OF-A" in a_out and "OUTPUT-OF-B" not in a_out
    assert "OUTPUT-OF-B" in b_out and "OUTPUT-OF-A" not in b_out


def test_eight_concurrent_clients_with_different_tests_get_their_own_results(shared_server, tmp_path):
    procs = []
    for i in range(8):
        root = write_files(tmp_path / f"p{i}", {f"test_n{i}.py": f"""
            def test_passes_{i}():
                print("MINE-{i}")
            def test_fails_{i}():
                assert {i} < {i % 3}
        """})
        procs.append((i, shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for i, p in procs:
        out, err = p.communicate(timeout=180)
        failing = not (i < i % 3)
        assert p.returncode == (1 if failing else 0), out + err
        assert f"MINE-{i}" in out
        assert set(re.findall(r"MINE-(\d)", out)) == {str(i)}, out
        assert f"test_fails_{i}" in out if failing else "1 failed" not in out


def test_a_client_that_stops_reading_slows_only_itself(start_server, tmp_path):
    server = start_server()
    lines = 100 * 1024  # 100 MiB in 1 KiB lines
    root = write_files(tmp_path / "flood", {"test_flood.py": f"""
        import sys
        def test_flood():
            line = "x" * 1023 + "\\n"
            for _ in range({lines}):
                sys.stdout.write(line)
            sys.stdout.flush()
    """})
    other = write_files(tmp_path / "other", {"test_other.py": "def test_other(): pass\n"})
    stalled = server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        # Its first output has come (nothing is read yet): the test process is writing.
        assert wait_for(lambda: any(r["phase"] == "running" for r in server.status()["in_flight"]), 60)
        spid = server_pid(server)
        for _ in range(3):  # others are served meanwhile, and the server holds little
            t0 = time.monotonic()
            status = server.status()
            took = time.monotonic() - t0
            assert status["in_flight"], status
            r = server.run("-q", "-p", "no:cacheprovider", cwd=other)
            assert r.returncode == 0, r.stdout + r.stderr
            assert rss_kb(spid) < 40 * 1024, f"server RSS {rss_kb(spid)} kB"
        print(f"status while a client stalls: {took * 1000:.1f} ms")
        assert stalled.poll() is None  # still waiting for its reader
        out, err = stalled.communicate(timeout=300)
    finally:
        if stalled.poll() is None:
            stalled.kill()
            stalled.wait()
    assert stalled.returncode == 0, err
    assert out.count(b"x" * 1023 + b"\n") == lines


def test_a_stopped_client_pauses_its_run_which_then_finishes(shared_server, tmp_path):
    root = write_files(tmp_path, GATED)
    gate = tmp_path / "go"
    env = {"GATE": str(gate)}
    p = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert b"WAITING" in read_until(p, b"WAITING")
        p.send_signal(signal.SIGSTOP)
        # Longer than a silent client may stay silent (protocol: 5 s without a keepalive).
        time.sleep(7)
        assert shared_server.status()["in_flight"], "the stopped client's run was dropped"
        gate.touch()
        p.send_signal(signal.SIGCONT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out + err
    assert b"RELEASED" in out and b"1 passed" in out


def test_a_notebook_cell_runs_in_the_shared_kernel_during_a_run(shared_server, tmp_path):
    from jupyter_client import BlockingKernelClient
    root = write_files(tmp_path, GATED)
    gate = tmp_path / "go"
    p = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root, env={"GATE": str(gate)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kc = BlockingKernelClient(connection_file=shared_server.status()["connection_file"])
    kc.load_connection_file()
    kc.start_channels()
    try:
        assert b"WAITING" in read_until(p, b"WAITING")
        reply = kc.execute_interactive("6 * 7", timeout=60)
        assert reply["content"]["status"] == "ok"
        assert p.poll() is None and shared_server.status()["in_flight"]  # the run still runs
        gate.touch()
        out, err = p.communicate(timeout=60)
    finally:
        kc.stop_channels()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, out + err


def test_interrupt_and_input_stay_with_their_own_run(shared_server, tmp_path):
    gated = write_files(tmp_path / "gated", GATED)
    gate = tmp_path / "go"
    asking = write_files(tmp_path / "asking", {"test_two_kinds.py": """
        import time
        def test_question():
            print("GOT", input("name? "))
        def test_sleeps():
            print("SLEEPING", flush=True)
            for _ in range(12000): time.sleep(0.05)  # see conftest.py, interrupted sleeps
    """})
    a = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=gated, env={"GATE": str(gate)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert b"WAITING" in read_until(a, b"WAITING")
        r = shared_server.run("-s", "-q", "-p", "no:cacheprovider", "-k", "question", cwd=asking, input="ada\n")
        assert r.returncode == 0 and "GOT ada" in r.stdout, r.stdout + r.stderr
        b = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", "-k", "sleeps", cwd=asking,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert b"SLEEPING" in read_until(b, b"SLEEPING")
        b.send_signal(signal.SIGINT)
        b_out, _ = b.communicate(timeout=60)
        assert b.returncode == 2 and b"KeyboardInterrupt" in b_out
        assert a.poll() is None  # the other run goes on
        gate.touch()
        a_out, a_err = a.communicate(timeout=60)
    finally:
        for p in (a,):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert a.returncode == 0, a_out + a_err


def test_status_lists_the_runs_in_flight(shared_server, tmp_path):
    root = write_files(tmp_path, GATED)
    gate = tmp_path / "go"
    p = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root, env={"GATE": str(gate)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = read_until(p, b"WAITING")
        if b"WAITING" not in seen:
            out, err = p.communicate(timeout=60)
            raise AssertionError(f"exit code {p.returncode}; out: {seen + out!r}; err: {err!r}\n"
                                 + shared_server.log.read_text()[-3000:])
        (run,) = shared_server.status()["in_flight"]
        assert run["cwd"] == str(root) and run["args"][-1] == "no:cacheprovider"
        assert run["pid"] > 0 and run["age"] >= 0 and run["phase"] == "running"
        text = shared_server.client("--status").stdout
        assert str(run["pid"]) in text, text
        gate.touch()
        p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
