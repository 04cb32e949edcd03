"""handover.py over a real SOCK_SEQPACKET socketpair: the server's end is
played by the test, the kernel's end is the module's."""
import json
import os
import socket

import pytest

import forked
from ltest.in_kernel import handover
from ltest.state import STATE


@pytest.fixture
def server(monkeypatch):
    """The server's end; the kernel's end is the module's socket."""
    server_end, kernel_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    monkeypatch.setattr(STATE, "handover_socket", kernel_end)
    monkeypatch.setattr(STATE, "handover_waiting", {})
    yield server_end
    server_end.close()
    handover.close()


@pytest.fixture
def pipes():
    """Four pipes: (ends to send, ends this test keeps), to see the fds received are the ones sent."""
    made = [os.pipe() for _ in range(4)]
    sent, kept = [r for r, _ in made], [w for _, w in made]
    yield sent, kept
    for fd in sent + kept:
        try:
            os.close(fd)
        except OSError:
            pass


def send_run(sock, run_id, spec, fds):
    forked.send_run(sock, run_id, spec, fds, handover.CHUNK)


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_a_run_comes_with_its_fds_and_a_request_larger_than_one_message(server, pipes):
    sent, kept = pipes
    spec = {"args": ["-q"], "env": {"BIG": "x" * (3 * handover.CHUNK)}}
    send_run(server, 7, spec, sent)
    got, fds = handover.receive(7)
    assert got == spec
    for fd, writer in zip(fds, kept):  # each received fd is the read end of the pipe sent in its place
        os.write(writer, b"%d" % writer)
        assert os.read(fd, 100) == b"%d" % writer
        os.close(fd)


def test_runs_asked_for_in_another_order_than_sent_wait_for_their_turn(server, pipes):
    sent, _ = pipes
    send_run(server, 1, {"run": "first"}, sent)
    send_run(server, 2, {"run": "second"}, sent)
    second, fds2 = handover.receive(2)
    assert second == {"run": "second"} and list(STATE.handover_waiting) == [1]
    first, fds1 = handover.receive(1)
    assert first == {"run": "first"} and STATE.handover_waiting == {}
    for fd in fds1 + fds2:
        os.close(fd)


def test_a_run_with_the_wrong_number_of_fds_is_refused_and_its_fds_closed(server, pipes):
    sent, _ = pipes
    before = open_fds()
    send_run(server, 3, {}, sent[:2])
    with pytest.raises(ValueError, match="run 3 came with 2 file descriptors, not 4"):
        handover.receive(3)
    assert open_fds() == before


def test_a_closed_socket_or_none_is_a_connection_error(server, monkeypatch):
    server.close()
    with pytest.raises(ConnectionError, match="closed the hand-over socket"):
        handover.receive(1)
    monkeypatch.setattr(STATE, "handover_socket", None)
    with pytest.raises(ConnectionError, match="no hand-over socket"):
        handover.receive(1)


def test_a_request_cut_short_is_a_connection_error(server, pipes):
    sent, _ = pipes
    socket.send_fds(server, [json.dumps({"run": 4, "size": 100}).encode()], sent)
    server.send(b'{"args": ')
    server.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionError):
        handover.receive(4)


def test_a_reaped_test_process_is_reported_to_the_server(server):
    handover.report_reaped(1234, 137)
    assert json.loads(server.recv(4096)) == {"reaped": 1234, "exit_code": 137}


def test_reporting_to_a_server_that_is_gone_or_never_came_is_silent(server, monkeypatch):
    server.close()
    handover.report_reaped(1, 0)  # no exception: nothing to tell
    monkeypatch.setattr(STATE, "handover_socket", None)
    handover.report_reaped(1, 0)


def test_attach_connects_to_a_listening_socket_and_says_whether_it_could(tmp_path, monkeypatch):
    monkeypatch.setattr(STATE, "handover_socket", None)
    monkeypatch.setattr(STATE, "last_result", None)
    path = str(tmp_path / "handover.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        listener.bind(path)
        listener.listen(1)
        assert handover.attach(path) == {"handover": True} and handover.connected()
        accepted, _ = listener.accept()
        assert not os.get_inheritable(STATE.handover_socket.fileno())  # a test process must not inherit it
        handover.report_reaped(5, 1)
        assert json.loads(accepted.recv(4096)) == {"reaped": 5, "exit_code": 1}
        accepted.close()
        assert handover.attach(str(tmp_path / "nobody.sock")) == {"handover": False}
        assert not handover.connected() and STATE.last_result == {"handover": False}
    finally:
        listener.close()
        handover.close()
