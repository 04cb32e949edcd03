"""The server's life: how it fails to start, how it stops, what it leaves behind.

Each test starts its own server(s) on its own port with its own
JUPYTER_RUNTIME_DIR; the start_server fixture stops and kills them all at
teardown. The "kernel" of a server is found by what ltest gives it: the
JPY_PARENT_PID=<server pid> environment variable (inherited by the kernel's
test processes too) or the runtime directory in its command line.
"""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Server, SignedPeer, alive, free_port, header, ltest_binary, wait_for, write_files

zmq = pytest.importorskip("zmq")


# --- helpers ----------------------------------------------------------------------

def processes_of(server_pid=None, runtime_dir=None):
    """Live processes ltest started for that server: the kernel and its test processes."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid() or not alive(int(d.name)):
            continue
        try:
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if server_pid is not None and f"JPY_PARENT_PID={server_pid}".encode() in environ:
            found.append(int(d.name))
        elif runtime_dir is not None and "ipykernel" in cmdline and str(runtime_dir) in cmdline:
            found.append(int(d.name))
    return found


def ltest_files(runtime_dir):
    """The files ltest keeps in a runtime directory (its own and its kernel's)."""
    return sorted(p.name for p in Path(runtime_dir).iterdir()
                  if p.name.startswith(("ltest-", "kernel-ltest-")))


def listen_once(port, runtime_dir, extra_env=None, timeout=60):
    """`ltest -l -p PORT` expected to fail at once: (returncode, stdout, stderr, pid)."""
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime_dir), OMP_NUM_THREADS="1", **(extra_env or {}))
    p = subprocess.Popen([ltest_binary(), "-l", "-p", str(port)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"`ltest -l` did not fail within {timeout} s: {out}{err}")
    return p.returncode, out, err, p.pid


def one_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"not one line: {text!r}"
    return lines[0]


def assert_serves(server, tmp_path, name="ok"):
    root = write_files(tmp_path / f"suite-{name}", {"test_ok.py": "def test_ok(): pass\n"})
    r = server.run("-q", "-p", "no:cacheprovider", cwd=root)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr


# --- failing to start ---------------------------------------------------------------

def test_port_in_use_is_one_clear_error_and_no_kernel(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, out, err, pid = listen_once(port, runtime)
    assert code == 78, (code, out, err)
    line = one_line(err)
    assert line.startswith("ltest: ") and f"127.0.0.1:{port}" in line and "in use" in line, line
    assert "-p PORT" in line  # what to do about it
    assert out == ""
    assert processes_of(pid, runtime) == []
    assert ltest_files(runtime) == []


def test_a_second_server_on_the_same_port_fails_and_the_first_keeps_serving(start_server, tmp_path):
    first = start_server()
    server_file = first.runtime_dir / f"ltest-{first.port}.json"
    info_before = server_file.read_text()
    kernel = first.status()["kernel_pid"]
    code, out, err, pid = listen_once(first.port, first.runtime_dir)
    assert code == 78, (code, out, err)
    line = one_line(err)
    assert f"127.0.0.1:{first.port}" in line and "in use" in line and "another server" in line, line
    assert processes_of(pid) == []  # the second one started no kernel
    # The first server's runtime file is untouched (same pid, same key) and it still serves.
    assert server_file.read_text() == info_before
    assert json.loads(info_before)["pid"] == first.proc.pid
    assert first.proc.poll() is None
    assert_serves(first, tmp_path)
    assert first.status()["kernel_pid"] == kernel and kernel in processes_of(first.proc.pid)


def test_runtime_dir_under_a_regular_file_is_one_clear_error_and_no_kernel(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file\n")
    runtime = blocker / "runtime"
    port = free_port()
    code, out, err, pid = listen_once(port, runtime)
    assert code == 78, (code, out, err)
    line = one_line(err)
    assert line.startswith("ltest: ") and str(blocker) in line and "Not a directory" in line, line
    assert processes_of(pid, runtime) == []


def test_a_failure_after_the_kernel_started_stops_the_kernel(tmp_path):
    # The server's own runtime file cannot be written (a directory has its
    # name): that is found out after the kernel started, which must not outlive it.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    port = free_port()
    (runtime / f"ltest-{port}.json" / "keep").mkdir(parents=True)
    code, out, err, pid = listen_once(port, runtime)
    assert code == 78, (code, out, err)
    assert err.strip().splitlines()[-1].startswith("ltest: cannot write"), err  # after the progress lines
    assert wait_for(lambda: processes_of(pid, runtime) == [], 5), processes_of(pid, runtime)
    assert not list(runtime.glob("kernel-ltest-*.json"))
    assert (runtime / f"ltest-{port}.json" / "keep").is_dir()  # not ours: left alone


# --- stopping -----------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_shuts_everything_down_cleanly(start_server, tmp_path, sig):
    server = start_server()
    assert_serves(server, tmp_path)  # a spare test process now waits in the kernel
    kernel = server.status()["kernel_pid"]
    assert kernel in processes_of(server.proc.pid)
    files = ltest_files(server.runtime_dir)
    assert f"ltest-{server.port}.json" in files and f"kernel-ltest-{server.proc.pid}.json" in files, files

    server.proc.send_signal(sig)
    try:
        code = server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop on {sig.name}")
    assert code == 0, server.log.read_text()
    assert wait_for(lambda: not alive(kernel), 5), "the kernel outlived its server"
    assert wait_for(lambda: processes_of(server.proc.pid) == [], 5), processes_of(server.proc.pid)
    assert ltest_files(server.runtime_dir) == []
    assert "stopping" in server.log.read_text()


def test_sigkill_leaves_no_orphan_and_clients_are_told_no_server(start_server, tmp_path):
    server = start_server()
    assert_serves(server, tmp_path)
    kernel = server.status()["kernel_pid"]
    pid = server.proc.pid
    assert kernel in processes_of(pid)

    server.proc.kill()
    server.proc.wait()
    assert wait_for(lambda: not alive(kernel), 5), "the kernel outlived its SIGKILLed server"
    assert wait_for(lambda: processes_of(pid) == [], 5), f"orphans: {processes_of(pid)}"

    # The runtime file stays behind, naming a dead pid: the client says so.
    server_file = server.runtime_dir / f"ltest-{server.port}.json"
    assert json.loads(server_file.read_text())["pid"] == pid
    start = time.monotonic()
    r = server.run("-q", cwd=tmp_path, timeout=30)
    assert r.returncode == 69, r.stdout + r.stderr
    assert time.monotonic() - start < 5  # it does not wait for an answer
    line = one_line(r.stderr)
    assert f"no ltest server on 127.0.0.1:{server.port}" in line and "ltest -l" in line, line
    assert r.stdout == ""


def test_a_server_killed_mid_run_is_one_clear_line(start_server, tmp_path):
    server = start_server()
    root = write_files(tmp_path / "s", {"test_slow.py": "import time\ndef test_slow(): time.sleep(30)\n"})
    client = server.popen("--", "-q", "-p", "no:cacheprovider", cwd=root, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: server.status()["run_in_flight"], 30)
    kernel = server.status()["kernel_pid"]
    info = json.loads((server.runtime_dir / f"ltest-{server.port}.json").read_text())
    server.proc.kill()
    server.proc.wait()
    out, err = client.communicate(timeout=30)  # told at once: the connection closed
    assert wait_for(lambda: not alive(kernel), 10), "the kernel outlived its SIGKILLed server"
    assert client.returncode == 69, out + err
    # What died, where its log is (a server started by hand: its own stdout), what starts a new one.
    root = info.get("project_root") or "directories without a project marker"
    assert err == (f"ltest: the ltest server for {root} (pid {info['pid']}) died during the run, and its kernel and "
                   f"the run's tests with it; its output went where it was started (no {server.runtime_dir}/"
                   f"ltest-{server.port}.log); `ltest -l -p {server.port}` starts a new one\n")


def test_something_else_on_the_servers_port_is_one_clear_line(tmp_path):
    """The runtime file names a live process and a port where something that
    is not ZeroMQ answers (here a web server's refusal)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    server_file = runtime / f"ltest-{port}.json"
    # The pid and start time of a live process (this one): a runtime file
    # naming a process that is not that server is a leftover, and removed.
    stat = Path("/proc/self/stat").read_text()
    start_time = int(stat[stat.rindex(")") + 2:].split()[22 - 3])
    server_file.write_text(json.dumps({"ip": "127.0.0.1", "port": port, "key": "k", "signature_scheme": "hmac-sha256",
                                       "pid": os.getpid(), "start_time": start_time, "kernel_connection_file": "",
                                       "version": "0"}))
    server_file.chmod(0o600)
    client = subprocess.Popen([ltest_binary(), "-p", str(port), "--status"], env=dict(os.environ,
                              JUPYTER_RUNTIME_DIR=str(runtime)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        conn, _ = listener.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + b" " * 64)
        out, err = client.communicate(timeout=30)
        conn.close()
    finally:
        listener.close()
        if client.poll() is None:
            client.kill()
    assert client.returncode == 76, out + err
    assert "does not speak ZeroMQ" in one_line(err)


# --- an authenticated peer must not be able to stop the server with a bad field -------

def run_content(root, env, **changes):
    content = {"args": ["-q", "-s", "-p", "no:cacheprovider"], "cwd": str(root), "env": env, "columns": 80,
               "lines": 24}
    content.update(changes)
    return content


def assert_survived(server, peer, tmp_path):
    time.sleep(0.5)
    assert server.proc.poll() is None, "the server exited:\n" + server.log.read_text()[-1500:]
    peer.send(header("status_request"), {})
    assert peer.recv_type("status_reply", timeout=10) is not None
    assert_serves(server, tmp_path, "after")


def test_a_signed_message_with_a_huge_number_is_dropped(start_server, tmp_path):
    server = start_server()
    with SignedPeer(server) as peer:
        peer.send(header("status_request"), b'{"padding": 1e400}')
        assert_survived(server, peer, tmp_path)


def test_a_run_request_with_a_numeric_msg_id_then_keepalive(start_server, tmp_path):
    server = start_server()
    root = write_files(tmp_path / "s", {"test_wait.py": "import time\ndef test_wait(): time.sleep(1)\n"})
    with SignedPeer(server) as peer:
        peer.send(header("run_request", msg_id=5), run_content(root, server.env))
        assert peer.recv_type("run_status") is not None
        peer.send(header("keepalive"), {}, parent=json.dumps({"msg_id": 5}).encode())
        peer.recv_type("run_reply", timeout=10)
        assert_survived(server, peer, tmp_path)


def test_an_input_reply_with_a_numeric_value(start_server, tmp_path):
    server = start_server()
    root = write_files(tmp_path / "s", {"test_input.py": "def test_input():\n    input('? ')\n"})
    with SignedPeer(server) as peer:
        request = header("run_request")
        peer.send(request, run_content(root, server.env))
        assert peer.recv_type("input_request") is not None
        peer.send(header("input_reply"), {"value": 5}, parent=json.dumps(request).encode())
        peer.recv_type("run_reply", timeout=10)
        assert_survived(server, peer, tmp_path)


def test_a_run_request_with_a_float_for_an_int_is_refused(start_server, tmp_path):
    server = start_server()
    root = write_files(tmp_path / "s", {"test_ok.py": "def test_ok(): pass\n"})
    with SignedPeer(server) as peer:
        peer.send(header("run_request"), run_content(root, server.env, columns=1e100))
        reply = peer.recv_type("run_reply", timeout=30)
        assert reply is not None
        assert reply["content"]["exit_code"] == 76 and "columns" in reply["content"].get("error", ""), reply


def test_a_notebook_output_with_a_huge_int_does_not_stop_an_attached_server(notebook_kernel, tmp_path):
    km, kc = notebook_kernel
    server = Server(tmp_path, args=("--existing", km.connection_file)).start()
    try:
        assert server.proc.poll() is None, server.log.read_text()
        assert_serves(server, tmp_path, "before")
        reply = kc.execute_interactive("from IPython.display import display\n"
                                       "display({'application/json': {'x': 10**400}}, raw=True)",
                                       timeout=30, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok"
        time.sleep(1.0)
        assert server.proc.poll() is None, "the server exited:\n" + server.log.read_text()[-1500:]
        assert_serves(server, tmp_path, "after")
    finally:
        server.stop()


def test_stop_lets_the_kernel_exit_by_itself_and_clean_up(start_server, tmp_path):
    """The spare test process waits outside the kernel's process group:
    ipykernel's shutdown waits for the children in its group, and would wait
    on the spare until the server killed the kernel (2 s later, its exit
    handlers never run). The sign that the kernel ended by itself: its exit
    handler removed the spares' practice directory."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    server = start_server(extra_env={"TMPDIR": str(tmp)})
    kernel_pid = server.status()["kernel_pid"]
    assert wait_for(lambda: list(tmp.glob(f"ltest-warmup-{kernel_pid}-*")), 30), list(tmp.iterdir())
    r = server.client("--stop")
    assert r.returncode == 0, r.stderr
    assert server.proc.wait(timeout=30) == 0
    assert not alive(kernel_pid)
    assert not list(tmp.glob("ltest-warmup-*"))
