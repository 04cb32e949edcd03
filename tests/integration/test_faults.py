"""Tests that misbehave, peers that send garbage, many clients at once: each run
ends with the right code and the server keeps serving (issue "reliability")."""
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import SignedPeer, alive, plain_pytest, sign, summary_line, wait_for, write_files, zombies_of

zmq = pytest.importorskip("zmq")


@pytest.fixture(scope="module")
def server(shared_server):
    return shared_server


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def assert_still_serving(server, tmp_path):
    """The next run works and the kernel left no zombie behind."""
    root = write_files(tmp_path / "healthy", {"test_ok.py": "def test_ok(): pass\n"})
    r = server.run("-q", cwd=root)
    assert r.returncode == 0 and summary_line(r.stdout) == "1 passed", r.stdout + r.stderr
    assert zombies_of(server.status()["kernel_pid"]) == []


# --- tests that misbehave -------------------------------------------------------

def test_os_exit_in_a_test_is_the_exit_code(server, tmp_path):
    root = write_files(tmp_path / "s", {"test_exit.py": "import os\ndef test_exit(): os._exit(7)\n"})
    r, cold = server.run("-q", cwd=root), plain_pytest("-q", cwd=root)
    assert r.returncode == cold.returncode == 7
    assert_still_serving(server, tmp_path)


@pytest.mark.parametrize("conftest,expected", [("import sys\nsys.exit(3)\n", 3),
                                               ("import sys\nsys.exit('stopped by conftest')\n", 1),
                                               ("raise KeyboardInterrupt\n", 128 + signal.SIGINT)])
def test_sys_exit_in_a_conftest_like_plain_pytest(server, tmp_path, conftest, expected):
    root = write_files(tmp_path / "s", {"conftest.py": conftest, "test_ok.py": "def test_ok(): pass\n"})
    r, cold = server.run("-q", cwd=root), plain_pytest("-q", cwd=root)
    # A shell reports a death by signal N as 128+N; subprocess as -N.
    cold_code = 128 - cold.returncode if cold.returncode < 0 else cold.returncode
    assert r.returncode == cold_code == expected, r.stdout + r.stderr
    for text in ("stopped by conftest", "KeyboardInterrupt"):
        assert (text in r.stderr) == (text in cold.stderr), r.stderr
    assert_still_serving(server, tmp_path)


def test_twenty_megabytes_of_output_all_arrive(server, tmp_path):
    lines = 200_000
    root = write_files(tmp_path / "s", {"test_big.py": f"""
        import sys
        def test_big():
            line = "L" + "x" * 98 + "\\n"
            for i in range({lines}):
                sys.stdout.write(line)
            assert False, "after the output"
    """})
    start = time.monotonic()
    r = server.run("-q", "-s", cwd=root, timeout=180)
    elapsed = time.monotonic() - start
    assert r.returncode == 1, r.stderr
    body = [l for l in r.stdout.splitlines() if l.startswith("Lx")]
    assert len(body) == lines and set(body) == {"L" + "x" * 98}
    assert len(r.stdout.encode()) >= 100 * lines
    assert "after the output" in r.stdout and summary_line(r.stdout) == "1 failed"
    cold = plain_pytest("-q", "-s", cwd=root)
    assert len(r.stdout) - len(cold.stdout) in range(-8, 9)  # all but the timing
    assert elapsed < 60
    assert_still_serving(server, tmp_path)


FORKER = """
    import os, time

    def test_forks():
        pid = os.fork()
        if pid == 0:
            {before_sleep}
            time.sleep(60)
            os._exit(0)
        with open({pidfile!r}, "w") as f:
            f.write(str(pid))
"""


def run_forker(server, tmp_path, before_sleep):
    pidfile = tmp_path / "grandchild.pid"
    root = write_files(tmp_path / "s", {"test_fork.py": FORKER.format(before_sleep=before_sleep,
                                                                       pidfile=str(pidfile))})
    p = server.popen("--", "-q", cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    start = time.monotonic()
    try:
        out, _ = p.communicate(timeout=15)
        elapsed = time.monotonic() - start
    except subprocess.TimeoutExpired:
        elapsed = None
    grandchild = int(pidfile.read_text()) if pidfile.exists() else None
    gone = grandchild is not None and wait_for(lambda: not alive(grandchild), 5)
    if grandchild is not None and not gone:
        os.kill(grandchild, signal.SIGKILL)  # unblock the run
    if p.poll() is None:
        p.communicate(timeout=60)
    return p.returncode, elapsed, gone


def test_a_left_behind_grandchild_dies_with_the_run(server, tmp_path):
    # The grandchild closed the streams it inherited: only the process group ties it to the run.
    code, elapsed, gone = run_forker(server, tmp_path, "os.closerange(0, 4096)")
    assert code == 0
    assert elapsed is not None and elapsed < 10
    assert gone, "the grandchild outlived the run's process group"
    assert_still_serving(server, tmp_path)


# (Before the runner watched the test process's exit, this run waited for the
# grandchild's 60 s: it held inherited copies of the output and control pipes.)
def test_a_grandchild_holding_the_streams_does_not_hold_the_run(server, tmp_path):
    # pytest's saved copy of fd 1 and the runtime's control pipe live on in the grandchild.
    code, elapsed, gone = run_forker(server, tmp_path, "pass")
    assert code == 0 and elapsed is not None and elapsed < 10, f"the run took {elapsed} s"
    assert gone
    assert_still_serving(server, tmp_path)


@pytest.mark.parametrize("args", [("-q",), ("-q", "-s")], ids=["captured", "no-capture"])
def test_a_test_closing_its_standard_fds(server, tmp_path, args):
    root = write_files(tmp_path / "s", {"test_close.py": """
        import os
        def test_close():
            os.close(0)
            os.close(1)
            os.close(2)
        def test_after():
            pass
    """})
    r, cold = server.run(*args, cwd=root), plain_pytest(*args, cwd=root)
    assert r.returncode == cold.returncode, r.stdout + r.stderr
    assert summary_line(r.stdout) == summary_line(cold.stdout)
    assert_still_serving(server, tmp_path)


def test_ten_runs_leak_no_file_descriptors(server, tmp_path):
    root = write_files(tmp_path / "s", {"test_ok.py": "def test_ok(): print('x')\n",
                                        "test_no.py": "def test_no(): assert 0\n"})
    kernel = server.status()["kernel_pid"]
    server.run("-q", cwd=root)
    time.sleep(0.3)
    before = fd_count(kernel), fd_count(server.proc.pid)
    for i in range(10):
        r = server.run("-q", "-s" if i % 2 else "-q", cwd=root)
        assert r.returncode == 1
    time.sleep(0.3)
    after = fd_count(kernel), fd_count(server.proc.pid)
    assert after[0] <= before[0] + 2, f"kernel fds {before[0]} -> {after[0]}"
    assert after[1] <= before[1] + 2, f"server fds {before[1]} -> {after[1]}"
    assert zombies_of(kernel) == []


# --- garbage on the port ---------------------------------------------------------

def run_content(root, env, **changes):
    content = {"args": ["-q", "-p", "no:cacheprovider"], "cwd": str(root), "env": env, "stdin_isatty": False,
               "stdout_isatty": False, "stderr_isatty": False, "columns": 80, "lines": 24}
    content.update(changes)
    return {k: v for k, v in content.items() if v is not None}


def send_six_unreadable_messages(peer):
    # Unsigned noise: a random frame, random frames, frames without the delimiter.
    peer.send_frames([os.urandom(64)])
    peer.send_frames([os.urandom(8), os.urandom(300), os.urandom(1)])
    peer.send_frames([b"{}", b"{}", b"{}", b"{}", b"{}"])
    # A well-formed message with a wrong signature, and one with a signature for another key.
    _, frames = peer.frames_of("status_request", {})
    peer.send_frames([frames[0], b"0" * 64, *frames[2:]])
    peer.send_frames([frames[0], sign(b"not-the-key", frames[2:]), *frames[2:]])
    # Signed, but the header is not JSON.
    junk = [b"not json", b"{}", b"{}", b"{}"]
    peer.send_frames([b"<IDS|MSG>", sign(peer.key, junk), *junk])


def test_garbage_on_the_port_is_dropped_and_the_server_keeps_serving(server, tmp_path):
    counter = tmp_path / "runs.log"
    root = write_files(tmp_path / "s", {"test_count.py": f"""
        def test_count():
            with open({str(counter)!r}, "a") as f:
                f.write("ran\\n")
    """})
    log_before = server.log.read_text()
    with SignedPeer(server) as peer:
        send_six_unreadable_messages(peer)
        assert peer.recv(timeout=1.0) is None  # nothing answers an unauthenticated peer

        # Signed, unknown type: an error reply that names it.
        request, frames = peer.frames_of("frobnicate_request", {})
        peer.send_frames(frames)
        reply = peer.recv()
        assert reply is not None and reply["msg_type"] == "error_reply"
        assert "frobnicate_request" in reply["content"]["error"]
        assert reply["parent_header"]["msg_id"] == request["msg_id"]

        # A run request without cwd: a run_reply with exit code 76 naming the field.
        request, frames = peer.frames_of("run_request", run_content(root, dict(os.environ), cwd=None))
        peer.send_frames(frames)
        reply = peer.recv()
        assert reply is not None and reply["msg_type"] == "run_reply"
        assert reply["content"]["exit_code"] == 76 and "cwd" in reply["content"]["error"]
        assert reply["parent_header"]["msg_id"] == request["msg_id"]

        # A replayed run request runs once.
        env = {k: v for k, v in server.env.items() if k != "PYTEST_ADDOPTS"}
        _, frames = peer.frames_of("run_request", run_content(root, env))
        peer.send_frames(frames)
        peer.send_frames(frames)
        got = peer.recv_until("run_reply")
        assert got and got[-1]["msg_type"] == "run_reply", [m["msg_type"] for m in got]
        assert got[-1]["content"]["exit_code"] == 0, got
        assert peer.recv(timeout=1.5) is None  # no second run
        assert counter.read_text() == "ran\n"

    # Bigger than 16 MiB: dropped unread, no answer, the server carries on.
    with SignedPeer(server) as peer:
        _, frames = peer.frames_of("status_request", {"padding": "x" * (17 << 20)})
        peer.send_frames(frames)
        assert peer.recv(timeout=2.0) is None

    assert server.proc.poll() is None
    r = server.run("-q", cwd=root)
    assert r.returncode == 0 and counter.read_text() == "ran\nran\n", r.stdout + r.stderr
    log = server.log.read_text()[len(log_before):]
    assert log.count("dropped a message") >= 6, log
    assert "dropped a replayed message" in log
    assert server.status()["runs"] >= 2


# --- many clients ------------------------------------------------------------------

def test_eight_clients_at_once_each_get_their_own_run(server, tmp_path):
    clients = []
    for i in range(8):
        token = f"tok{i}-{uuid.uuid4().hex[:8]}"
        passes = i % 3 != 0
        root = write_files(tmp_path / f"c{i}", {"test_own.py": f"""
            import os, time
            def test_own():
                print("TOKEN", os.environ["LTEST_FAULT_TOKEN"])
                assert os.environ["LTEST_FAULT_TOKEN"] == {token!r}
                time.sleep(0.05)
                assert {passes!r}, "client {i} fails on purpose"
        """})
        p = server.popen("--", "-q", "-s", "-p", "no:cacheprovider", cwd=root, env={"LTEST_FAULT_TOKEN": token},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        clients.append((p, token, 0 if passes else 1))
    tokens = [t for _, t, _ in clients]
    try:
        for p, token, expected in clients:
            out, err = p.communicate(timeout=120)
            assert p.returncode == expected, out + err
            assert f"TOKEN {token}" in out
            assert [t for t in tokens if t in out + err] == [token]
    finally:
        for p, _, _ in clients:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert_still_serving(server, tmp_path)
