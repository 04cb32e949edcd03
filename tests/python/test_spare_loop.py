"""spare_loop.py, a spare's side of its socket to the kernel: a real fork
running spare_loop.live, with the kernel played by the test."""
import json
import os
import select
import socket

import pytest

from forked import RunPipes, run_spec
from ltest.in_test_process import spare_loop


@pytest.fixture
def start():
    """Forks spares that live on a socketpair; (pid, the kernel's end). Reaped at the end."""
    started = []

    def fork(practise=lambda: True):
        kernel_end, spare_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            kernel_end.close()
            spare_loop.live(spare_end, os.getppid(), practise, ())
        spare_end.close()
        started.append((pid, kernel_end))
        return pid, kernel_end

    yield fork
    for pid, sock in started:
        sock.close()
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def exit_code(pid):
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def answer(sock):
    assert select.select([sock], [], [], 60)[0], "the spare did not answer"
    return sock.recv(spare_loop.MAX_SPEC)


def test_it_practises_once_and_says_ready_each_time_it_is_asked(start):
    seen_r, seen_w = os.pipe()
    try:
        pid, sock = start(lambda: os.write(seen_w, b"p") == 1)
        sock.send(spare_loop.PRACTISE)
        assert answer(sock) == spare_loop.READY
        sock.send(spare_loop.PRACTISE)
        assert answer(sock) == spare_loop.READY
        sock.close()  # discarded
        assert exit_code(pid) == 0
        os.close(seen_w)
        assert os.read(seen_r, 10) == b"p"  # one practice for two requests
    finally:
        os.close(seen_r)


@pytest.mark.parametrize("message", [spare_loop.PRACTISE, spare_loop.PRACTISE + b'{"args": []}'])
def test_a_spare_whose_practice_fails_exits_without_an_answer(start, message):
    pid, sock = start(lambda: False)
    sock.send(message)
    assert answer(sock) == b""  # EOF: the kernel forks afresh
    assert exit_code(pid) == 0


def test_a_spare_with_no_practice_to_run_exits_when_asked(start):
    pid, sock = start(practise=None)
    sock.send(spare_loop.PRACTISE)
    assert answer(sock) == b"" and exit_code(pid) == 0


def test_a_preparation_that_cannot_be_exact_ends_the_spare(start, tmp_path):
    pid, sock = start()
    prediction = run_spec(tmp_path, args=["--no-such-option"])  # pytest refuses it: nothing to prepare
    sock.send(spare_loop.PRACTISE + json.dumps(prediction).encode())
    assert answer(sock) == b"" and exit_code(pid) == 0


def test_a_message_that_is_no_run_ends_the_spare(start):
    pid, sock = start()
    sock.send(b"not json")
    assert exit_code(pid) == 0


def test_a_spare_handed_a_run_becomes_its_test_process(start, tmp_path):
    (tmp_path / "test_x.py").write_text("def test_one():\n    print('from the spare')\n")
    pid, sock = start()
    sock.send(spare_loop.PRACTISE)
    assert answer(sock) == spare_loop.READY
    pipes = RunPipes()
    try:
        socket.send_fds(sock, [json.dumps(run_spec(tmp_path, args=["-s", "-p", "no:cacheprovider"])).encode()],
                        list(pipes.fds))
        out, err, ctl, status = pipes.finish(pid)
    finally:
        pipes.close()
    assert (status, ctl) == (0, b"X 0\n"), err
    assert "from the spare" in out and "1 passed" in out


def test_a_run_handed_over_with_a_request_that_is_not_json_ends_with_an_error_its_client_sees(start):
    pid, sock = start()
    sock.send(spare_loop.PRACTISE)
    assert answer(sock) == spare_loop.READY
    pipes = RunPipes()
    try:
        socket.send_fds(sock, [b"{not json"], list(pipes.fds))
        out, err, ctl, status = pipes.finish(pid)
    finally:
        pipes.close()
    assert (status, ctl) == (70, b"X 70\n"), err
    assert err.startswith("ltest: internal: the spare could not start the run") and err.count("\n") == 1, err
