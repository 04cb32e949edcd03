"""handover.py over a real SOCK_SEQPACKET socketpair: the server's end is
played by the test, the kernel's end is the module's."""
import asyncio
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
    monkeypatch.setattr(STATE, "handover_loop", None)
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


class Taker:
    """A take(spec, fds) that records what it was given and closes the fds."""

    def __init__(self, fail=None):
        self.taken, self.fail = [], fail

    def __call__(self, spec, fds):
        self.taken.append((spec, fds))
        if self.fail:
            for fd in fds:
                os.close(fd)
            raise self.fail
        return {"pid": 100 + len(self.taken), "spare": True}


def answer(server):
    return json.loads(server.recv(handover.MAX_ANSWER))


def test_a_run_comes_with_its_fds_and_a_request_larger_than_one_message(server, pipes):
    sent, kept = pipes
    spec = {"args": ["-q"], "env": {"BIG": "x" * (3 * handover.CHUNK)}}
    send_run(server, "run-7", spec, sent)
    take = Taker()
    assert handover.take_next(take)
    [(got, fds)] = take.taken
    assert got == spec
    for fd, writer in zip(fds, kept):  # each received fd is the read end of the pipe sent in its place
        os.write(writer, b"%d" % writer)
        assert os.read(fd, 100) == b"%d" % writer
        os.close(fd)
    assert answer(server) == {"taken": "run-7", "result": {"pid": 101, "spare": True}}


def test_runs_are_taken_in_the_order_sent(server, pipes):
    sent, _ = pipes
    send_run(server, "first", {"n": 1}, sent)
    send_run(server, "second", {"n": 2}, sent)
    take = Taker()
    assert handover.take_next(take) and handover.take_next(take)
    assert [spec for spec, _ in take.taken] == [{"n": 1}, {"n": 2}]
    assert [answer(server)["taken"] for _ in range(2)] == ["first", "second"]
    for _, fds in take.taken:
        for fd in fds:
            os.close(fd)


def test_a_run_that_cannot_start_is_answered_with_why_and_the_kernel_goes_on(server, pipes):
    sent, _ = pipes
    before = open_fds()
    send_run(server, "r", {}, sent)
    assert handover.take_next(Taker(fail=OSError("no fork today")))
    assert answer(server) == {"taken": "r", "error": "OSError: no fork today"}
    assert open_fds() == before and handover.connected()


def test_a_run_with_the_wrong_number_of_fds_or_a_garbled_request_is_refused_and_its_fds_closed(server, pipes):
    sent, _ = pipes
    before = open_fds()
    send_run(server, "three", {}, sent[:2])
    socket.send_fds(server, [json.dumps({"run": "four", "size": 5}).encode()], sent)
    server.send(b"{nope")
    take = Taker()
    assert handover.take_next(take) and handover.take_next(take)
    assert answer(server) == {"taken": "three", "error": "run three came with 2 file descriptors, not 4"}
    garbled = answer(server)
    assert garbled["taken"] == "four" and "not JSON" in garbled["error"]
    assert take.taken == [] and open_fds() == before and handover.connected()


def test_a_closed_socket_or_a_request_cut_short_ends_the_watch(server, pipes):
    sent, _ = pipes
    socket.send_fds(server, [json.dumps({"run": "cut", "size": 100}).encode()], sent)
    server.send(b'{"args": ')
    server.shutdown(socket.SHUT_WR)
    take = Taker()
    assert not handover.take_next(take)
    assert take.taken == [] and not handover.connected()
    assert not handover.take_next(take)  # nothing to read from any more


def test_an_event_loop_takes_runs_as_they_come_and_stops_watching_a_server_that_left(server, pipes, monkeypatch):
    sent, _ = pipes
    loop = asyncio.new_event_loop()
    try:
        both, gone = loop.create_future(), loop.create_future()
        take = Taker()

        def take_and_count(spec, fds):
            reply = take(spec, fds)
            if len(take.taken) == 2:
                both.set_result(None)
            return reply

        disconnect = handover.disconnect
        monkeypatch.setattr(handover, "disconnect", lambda: (disconnect(), gone.set_result(None)))
        handover.serve(loop, take_and_count)
        watched = STATE.handover_socket.fileno()
        send_run(server, "a", {"n": 1}, sent)
        send_run(server, "b", {"n": 2}, sent)
        loop.run_until_complete(asyncio.wait_for(both, 60))
        assert [answer(server)["taken"] for _ in range(2)] == ["a", "b"]
        server.close()
        loop.run_until_complete(asyncio.wait_for(gone, 60))
        assert STATE.handover_loop is None and not handover.connected()
        assert watched not in loop._selector.get_map()  # no reader left on a closed fd
    finally:
        loop.close()
    for _, fds in take.taken:
        for fd in fds:
            os.close(fd)


def test_a_forked_process_closing_the_socket_leaves_the_kernels_watch_alone(server):
    loop = asyncio.new_event_loop()
    try:
        handover.serve(loop, Taker())
        fd = STATE.handover_socket.fileno()
        pid = os.fork()
        if pid == 0:  # as a spare does: close it, and the epoll set it shares with the kernel is untouched
            handover.close()
            os._exit(0 if STATE.handover_loop is None else 1)
        assert os.waitpid(pid, 0)[1] == 0
        assert fd in loop._selector.get_map()
    finally:
        handover.disconnect()
        loop.close()


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
    monkeypatch.setattr(STATE, "handover_loop", None)
    monkeypatch.setattr(STATE, "last_result", None)
    path = str(tmp_path / "handover.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    loop = asyncio.new_event_loop()

    async def attach(where):  # the server's call runs in a cell, inside the kernel's running loop
        return handover.attach(where)

    try:
        listener.bind(path)
        listener.listen(1)
        assert handover.attach(path) == {"handover": False}  # no running loop: nothing would take runs
        assert loop.run_until_complete(attach(path)) == {"handover": True} and handover.connected()
        watched = STATE.handover_socket.fileno()
        assert STATE.handover_loop == (loop, watched) and watched in loop._selector.get_map()
        accepted, _ = listener.accept()
        assert not os.get_inheritable(STATE.handover_socket.fileno())  # a test process must not inherit it
        handover.report_reaped(5, 1)
        assert json.loads(accepted.recv(4096)) == {"reaped": 5, "exit_code": 1}
        accepted.close()
        assert loop.run_until_complete(attach(str(tmp_path / "nobody.sock"))) == {"handover": False}
        assert not handover.connected() and STATE.last_result == {"handover": False}
        assert STATE.handover_loop is None and watched not in loop._selector.get_map()
    finally:
        listener.close()
        handover.disconnect()
        loop.close()


def test_attach_says_the_token_first_and_refuses_a_listener_that_is_not_the_server(tmp_path, monkeypatch):
    """The listener's pid (SO_PEERCRED) must be the server's that called
    attach: a socket file someone else put there would get every run's
    request. Here the test process listens, so its pid is "the server"."""
    monkeypatch.setattr(STATE, "handover_socket", None)
    monkeypatch.setattr(STATE, "handover_loop", None)
    monkeypatch.setattr(STATE, "last_result", None)
    path = str(tmp_path / "handover.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    loop = asyncio.new_event_loop()

    async def attach(where):
        return handover.attach(where)

    try:
        listener.bind(path)
        listener.listen(2)
        stranger = {"path": path, "token": "t0k3n", "server_pid": os.getpid() + 1}  # not who listens
        assert loop.run_until_complete(attach(stranger)) == {"handover": False} and not handover.connected()
        ours = {"path": path, "token": "t0k3n", "server_pid": os.getpid()}
        assert loop.run_until_complete(attach(ours)) == {"handover": True} and handover.connected()
        accepted, _ = listener.accept()  # the stranger's connection was closed before a byte was sent
        assert accepted.recv(4096) == b""
        accepted.close()
        accepted, _ = listener.accept()
        assert json.loads(accepted.recv(4096)) == {"hello": "t0k3n"}  # its first message
        accepted.close()
    finally:
        handover.disconnect()
        listener.close()
        loop.close()
