"""The client trusts nothing a server says: fake servers (real
ZeroMQ, correctly signed, hostile content) and the client's answers: exit codes
outside 0-255 or of the wrong type are a protocol error (76), never a pass;
ltest's own lines carry no escape sequences while test output keeps its
colours; an input request with no usable stdin gets EOF at once; --timeout
bounds the whole wait; a request over the size limit is refused before it is
sent; runtime files someone else could have planted are refused."""
import os
import subprocess
import time

import pytest

from conftest import ltest_binary, wait_for
from fake_server import FakeServer

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\x1bPdcs\x1b\\"


def run_reply(**content):
    return [("run_status", {"state": "starting", "ahead": 0}), ("run_reply", {"status": "ok", **content})]


def answering(replies):
    """A fake server that answers a run_request with `replies`, and nothing else."""
    return lambda msg_type, content: replies if msg_type == "run_request" else []


@pytest.fixture
def runtime(tmp_path):
    d = tmp_path / "runtime"
    d.mkdir(mode=0o700)
    return d


def client(fake, *args, stdin=subprocess.DEVNULL, timeout=60):
    return subprocess.run(fake.cmd(*args), env=fake.env(), stdin=stdin, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("code", [256, 300, -1, "0", None, 1.5, [0]])
def test_an_exit_code_outside_0_255_or_of_the_wrong_type_is_a_protocol_error(runtime, code):
    with FakeServer(runtime, answering(run_reply(exit_code=code))) as fake:
        r = client(fake, "--", "-q")
    assert r.returncode == 76, (r.returncode, r.stderr)
    assert len(r.stderr.splitlines()) == 1 and "exit code" in r.stderr, r.stderr


def test_an_exit_code_in_range_passes_through(runtime):
    with FakeServer(runtime, answering(run_reply(exit_code=3))) as fake:
        r = client(fake, "--", "-q")
    assert r.returncode == 3, r.stderr


@pytest.mark.parametrize("bad", [{"name": 1, "text": "x"}, {"text": ["x"]}, "not an object"])
def test_a_stream_of_the_wrong_shape_is_a_protocol_error_not_an_internal_one(runtime, bad):
    with FakeServer(runtime, answering([("stream", bad)] + run_reply(exit_code=0))) as fake:
        r = client(fake, "--", "-q")
    assert r.returncode == 76, (r.returncode, r.stderr)
    assert "internal error" not in r.stderr


def test_ltest_own_lines_lose_escapes_while_test_output_keeps_its_colours(runtime):
    coloured = "\x1b[31mred\x1b[0m\n"
    replies = [("run_status", {"state": "restarting", "reason": ESCAPES + "mod.py changed"}),
               ("stream", {"name": "stdout", "text": coloured}),
               ("run_reply", {"status": "error", "exit_code": 1, "error": ESCAPES + "it broke\nsecond line"})]
    with FakeServer(runtime, answering(replies)) as fake:
        r = client(fake, "--", "-q")
    assert r.returncode == 1
    assert r.stdout == coloured  # the test's bytes, as they are
    assert "\x1b" not in r.stderr and "\x9b" not in r.stderr and "\x07" not in r.stderr, repr(r.stderr)
    assert "it broke second line" in r.stderr and "mod.py changed" in r.stderr
    assert len(r.stderr.splitlines()) == 2  # each notice one line


def test_status_text_is_cleaned_and_a_malformed_status_reply_is_a_protocol_error(runtime):
    status = {"address": ESCAPES + "tcp://x", "server_pid": 1, "version": "v", "kernel_name": "k" + ESCAPES,
              "preloaded": [{"module": ESCAPES, "seconds": 0.1}], "fork_unsafe": [ESCAPES]}
    with FakeServer(runtime, lambda t, c: [("status_reply", status)] if t == "status_request" else []) as fake:
        r = client(fake, "--status")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x9b" not in r.stdout and "tcp://x" in r.stdout
    status["server_pid"] = "1"
    with FakeServer(runtime, lambda t, c: [("status_reply", status)] if t == "status_request" else []) as fake:
        r = client(fake, "--status")
    assert r.returncode == 76 and "server_pid" in r.stderr and "internal" not in r.stderr, r.stderr


def input_then_echo(msg_type, content):
    """Asks for input; answers the input_reply with a run_reply whose exit code says what came back."""
    if msg_type == "run_request":
        return [("input_request", {"prompt": "name? ", "password": False})]
    if msg_type == "input_reply":
        return run_reply(exit_code=4 if content.get("value") == "\x04" else 5)
    return []


@pytest.mark.parametrize("stdin", ["devnull", "closed"])
def test_input_with_no_usable_stdin_is_answered_with_eof_at_once(runtime, stdin):
    with FakeServer(runtime, input_then_echo) as fake:
        cmd = " ".join(fake.cmd("--", "-q")) + (" </dev/null" if stdin == "devnull" else " <&-")
        r = subprocess.run(["sh", "-c", cmd], env=fake.env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert r.stdout == "name? "


def test_timeout_bounds_the_wait_for_a_server_that_never_answers(runtime):
    with FakeServer(runtime, answering([("run_status", {"state": "starting", "ahead": 0})])) as fake:
        t0 = time.monotonic()
        r = client(fake, "--timeout", "1", "--", "-q")
        took = time.monotonic() - t0
        received = fake.types_received()
    assert r.returncode == 124, (r.returncode, r.stderr)
    assert received.count("interrupt_request") == 2  # the interrupt, then the kill
    assert "giving up" in r.stderr.splitlines()[-1]
    assert took < 30  # 1 s + 3 s + 2.5 s by design; wide margin for a loaded machine


@pytest.mark.parametrize("value", ["-5", "nan", "inf", "-inf", "1e999", "soon"])
def test_a_timeout_that_is_not_a_finite_number_of_seconds_is_a_usage_error(value):
    r = subprocess.run([ltest_binary(), "--timeout", value, "--", "-q"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 64
    assert len(r.stderr.splitlines()) == 1 and value in r.stderr and len(r.stderr) < 200, r.stderr


def test_a_request_over_the_limit_is_refused_before_it_is_sent(runtime):
    # execve allows at most 6 MiB of arguments and environment, but JSON writes
    # a control character as 6 bytes (\u0001): 5 MB of them is a 30 MB request.
    import resource
    big = {f"BIG_{i}": "\x01" * 120_000 for i in range(36)}

    def roomy_stack():  # the 6 MiB needs a stack limit of 24 MiB or more (a quarter goes to execve)
        resource.setrlimit(resource.RLIMIT_STACK, (64 << 20, resource.RLIM_INFINITY))

    with FakeServer(runtime, answering(run_reply(exit_code=0))) as fake:
        r = subprocess.run(fake.cmd("--", "-q"), env=dict(fake.env(), **big), preexec_fn=roomy_stack,
                           capture_output=True, text=True, timeout=60)
        received = fake.types_received()
    assert r.returncode == 64, (r.returncode, r.stderr[:300])
    assert "16 MiB" in r.stderr and len(r.stderr.splitlines()) == 1
    assert "run_request" not in received


def test_a_runtime_file_that_is_a_symlink_or_readable_by_others_is_refused(runtime, tmp_path):
    with FakeServer(runtime, answering(run_reply(exit_code=0))) as fake:
        fake.runtime_file.chmod(0o644)
        r = client(fake, "--", "-q")
        assert r.returncode == 69 and str(fake.runtime_file) in r.stderr and "0644" in r.stderr, r.stderr
        planted = tmp_path / "planted.json"
        fake.runtime_file.chmod(0o600)
        fake.runtime_file.rename(planted)
        fake.runtime_file.symlink_to(planted)
        r = client(fake, "--", "-q")
        assert r.returncode == 69 and "symbolic link" in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1
        assert fake.types_received() == []  # nothing, not even the environment, went to that server


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_runtime_file_of_another_user_is_refused(runtime):
    with FakeServer(runtime, answering(run_reply(exit_code=0))) as fake:
        os.chown(fake.runtime_file, 65534, 65534)
        # The client runs as another user (nobody) for whom the file is not its own.
        r = client(fake, "--", "-q")
    assert r.returncode == 69 and "owned by uid 65534" in r.stderr, r.stderr


def test_a_port_that_answers_without_a_runtime_file_is_not_called_no_server(runtime):
    import socket
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        r = subprocess.run([ltest_binary(), "-p", str(port), "--status"], capture_output=True, text=True,
                           env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime)), timeout=30)
    assert r.returncode == 69
    assert "answers" in r.stderr and "runtime file" in r.stderr and "no ltest server" not in r.stderr, r.stderr


def test_a_password_prompt_is_read_from_the_terminal_without_echo(runtime):
    import pty
    import select
    import termios

    def ask_password(msg_type, content):
        if msg_type == "run_request":
            return [("input_request", {"prompt": "Password: ", "password": True})]
        if msg_type == "input_reply":
            return run_reply(exit_code=0 if content.get("value") == "hunter2" else 5)
        return []

    master, slave = pty.openpty()
    with FakeServer(runtime, ask_password) as fake:
        p = subprocess.Popen(fake.cmd("--", "-q"), env=fake.env(), stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        seen = b""
        try:
            while b"Password: " not in seen:
                assert select.select([master], [], [], 30)[0], seen
                seen += os.read(master, 1024)
            assert wait_for(lambda: not termios.tcgetattr(master)[3] & termios.ECHO, 10), "echo still on"
            os.write(master, b"hunter2\n")
            assert p.wait(timeout=30) == 0
            while select.select([master], [], [], 0.5)[0]:
                try:
                    seen += os.read(master, 1024)
                except OSError:  # the client closed the terminal's other side
                    break
        finally:
            if p.poll() is None:
                p.kill()
            os.close(master)
    assert b"hunter2" not in seen, seen
