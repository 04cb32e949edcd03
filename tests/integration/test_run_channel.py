"""The run's own channel (server <-> test process, no relay in the kernel):
output of any size arrives whole and in order, the kernel gains no threads
from a run, the run request never shows in a test's stack, and nothing a
run started outlives it when its client or its kernel is killed.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import alive, read_until, wait_for, write_files


def test_a_gibibyte_of_output_arrives_whole(shared_server, tmp_path):
    mib = 1024
    root = write_files(tmp_path, {"test_big.py": f"""
        import os
        def test_big():
            block = (b"0123456789abcdef" * 4096)[:-1] + b"\\n"  # 64 KiB
            for _ in range({mib} * 16):
                os.write(1, block)
    """})
    p = shared_server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    total = lines = 0
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
        lines += chunk.count(b"\n")
    p.wait(timeout=600)
    assert p.returncode == 0, p.stderr.read()
    assert lines >= mib * 16 and total >= mib << 20


def test_a_big_write_starts_no_thread_in_the_kernel_and_the_spare_stays(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_mib.py": """
        import sys
        def test_mib():
            sys.stdout.write("y" * (1 << 20) + "\\n")
    """})
    kernel = shared_server.status()["kernel_pid"]
    threads_before = len(os.listdir(f"/proc/{kernel}/task"))
    for _ in range(2):
        r = shared_server.client("--json", "--", "-s", "-q", "-p", "no:cacheprovider", cwd=root)
        assert r.returncode == 0 and "y" * 1000 in r.stdout, r.stderr
        assert "thread" not in r.stderr, r.stderr
    assert '"prestarted":true' in r.stdout.replace(" ", ""), r.stdout[-300:]
    assert len(os.listdir(f"/proc/{kernel}/task")) == threads_before


def test_the_run_request_is_not_in_a_tests_stack(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_stack.py": """
        import traceback
        def test_stack():
            print("".join(traceback.format_stack()))
    """})
    r = shared_server.run("-s", "-q", "-p", "no:cacheprovider", cwd=root, env={"LTEST_SECRET_TOKEN": "s3cr3t-v4lue"})
    assert r.returncode == 0, r.stderr
    assert "test_stack" in r.stdout
    assert "s3cr3t-v4lue" not in r.stdout + r.stderr


LEAVER = {"test_leaver.py": """
    import os, pathlib, subprocess, sys, time
    def test_leaves_a_process():
        child = subprocess.Popen(["sleep", "600"])
        pathlib.Path(os.environ["PID_FILE"]).write_text(str(child.pid))
        print("STARTED", flush=True)
        time.sleep(600)
"""}


def _start_leaver(server, tmp_path):
    root = write_files(tmp_path, LEAVER)
    pid_file = tmp_path / "sleep.pid"
    p = server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root, env={"PID_FILE": str(pid_file)},
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"STARTED" in read_until(p, b"STARTED")
    return p, int(pid_file.read_text())


def test_a_killed_clients_processes_are_all_killed(shared_server, tmp_path):
    p, sleeper = _start_leaver(shared_server, tmp_path)
    assert alive(sleeper)
    p.kill()
    p.wait()
    assert wait_for(lambda: not alive(sleeper), 30), "a process the tests started outlived its client"


def test_a_killed_kernels_runs_leave_no_process(start_server, tmp_path):
    server = start_server()
    kernel = server.status()["kernel_pid"]
    p, sleeper = _start_leaver(server, tmp_path)
    os.kill(kernel, signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 75, err
    assert wait_for(lambda: not alive(sleeper), 30), "a process the tests started outlived its kernel"
    assert server.run("-q", "-p", "no:cacheprovider", "--co", cwd=tmp_path).returncode in (0, 5)


def test_stop_during_a_run_gives_its_client_pytests_summary(start_server, tmp_path):
    server = start_server()
    root = write_files(tmp_path, {"test_long.py": """
        import time
        def test_long():
            print("LONG", flush=True)
            for _ in range(12000): time.sleep(0.05)  # see conftest.py, interrupted sleeps
    """})
    p = server.popen("--", "-s", "-q", "-p", "no:cacheprovider", cwd=root, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    assert b"LONG" in read_until(p, b"LONG")
    assert server.client("--stop").returncode == 0
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2, out + err  # interrupted, as Ctrl-C in a terminal
    assert b"KeyboardInterrupt" in out + err
    assert server.proc.wait(timeout=60) == 0
