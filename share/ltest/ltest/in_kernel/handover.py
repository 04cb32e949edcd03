"""Runs handed to the kernel by a server on the same host (kernel side).

The server owns each run's stdio: it makes the pty or pipes, keeps its ends
and sends the test process's ends (stdin, stdout, stderr, control) to the
kernel over one Unix socket, with the run request. The kernel's event loop
watches that socket and takes each run as it comes (no execute request: a
Jupyter request's dispatch and IPython's cell machinery would cost more than
the hand-over itself). It hands the run to the spare or a fork and is free
again: the test process and the server then talk through those fds alone,
with no relay in the kernel and nothing on iopub. A run that comes while a
cell runs waits for the cell, as an execute request would.

Wire (SOCK_SEQPACKET, one message each):
  server -> kernel: {"run": ID, "size": N} with 4 fds, then N bytes of the
                    run request as JSON in messages of at most CHUNK bytes
  kernel -> server: {"taken": ID, "result": {...}} once the run's test process
                    has it (the result says whether it had a spare), or
                    {"taken": ID, "error": "..."} when it could not start;
                    {"reaped": PID, "exit_code": N} for each test process it reaps
"""
import json
import os
import socket
import struct

from ..state import STATE

CHUNK = 32768
MAX_ANSWER = 65536  # the server's read buffer
_FDS = 4  # stdin (read end), stdout, stderr (write ends), control (write end)


class RefusedRun(ValueError):
    """A run the kernel cannot take as sent (its fds were closed here)."""

    def __init__(self, run_id, why):
        super().__init__(why)
        self.run_id = run_id


def listener_is(sock, server_pid):
    """Whether the process listening on sock's other end is the server that
    called attach (SO_PEERCRED: its pid and our uid). A socket file another
    process put in its place would get each run's request, the client's
    environment included, and could answer for the tests."""
    pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid == os.getuid() and (server_pid is None or pid == server_pid)


def connect(path, token=None, server_pid=None):
    """Connects to the server's hand-over socket and says the server's token
    (its first message); False if it cannot (the kernel is on another host:
    runs then go through the Jupyter relay), or if the listener is not the
    server (its pid and uid)."""
    disconnect()
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.connect(path)
        if not listener_is(sock, server_pid):
            sock.close()
            return False
        if token is not None:
            sock.send(json.dumps({"hello": token}).encode())
    except OSError:
        return False
    os.set_inheritable(sock.fileno(), False)
    STATE.handover_socket = sock
    return True


def connected():
    return STATE.handover_socket is not None


def disconnect():
    """The kernel stops taking runs and closes the socket."""
    stop_serving()
    close()


def close():
    """Closes the socket (also what a spare or test process does: it must
    not hold it). The event loop's watch is forgotten, not removed: a forked
    process shares the kernel's epoll set, and removing it there would stop
    the kernel's watch."""
    STATE.handover_loop = None
    sock, STATE.handover_socket = STATE.handover_socket, None
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass


def _receive_one():
    """(run id, spec, fds) of the next run the server sent; blocks."""
    sock = STATE.handover_socket
    header, fds, _, _ = socket.recv_fds(sock, 4096, _FDS)
    if not header:
        raise ConnectionError("the ltest server closed the hand-over socket")
    meta = json.loads(header)
    data = b""
    while len(data) < meta["size"]:
        part = sock.recv(CHUNK)
        if not part:
            raise ConnectionError("the ltest server closed the hand-over socket")
        data += part
    if len(fds) != _FDS:
        for fd in fds:
            os.close(fd)
        raise RefusedRun(meta["run"], f"run {meta['run']} came with {len(fds)} file descriptors, not {_FDS}")
    try:
        spec = json.loads(data)
    except ValueError as e:
        for fd in fds:
            os.close(fd)
        raise RefusedRun(meta["run"], f"run {meta['run']}'s request is not JSON: {e}") from None
    return meta["run"], spec, fds


def take_next(take):
    """Takes the next run the server sent: take(spec, fds) starts its test
    process (and closes the fds) and returns its result; the server is told
    either way. False once the server is gone (the socket is closed)."""
    if STATE.handover_socket is None:
        return False
    try:
        run_id, spec, fds = _receive_one()
    except RefusedRun as e:
        _answer({"taken": e.run_id, "error": str(e)})
        return True
    except (ConnectionError, OSError, ValueError, KeyError, TypeError):  # the server left, or a message no server sends
        disconnect()
        return False
    try:
        answer = {"taken": run_id, "result": dict(take(spec, fds))}
    except Exception as e:  # the run cannot start: its client says why; the kernel goes on
        answer = {"taken": run_id, "error": f"{type(e).__name__}: {e}"}
    _answer(answer)
    return True


def _answer(message):
    data = json.dumps(message).encode()
    if len(data) > MAX_ANSWER and "result" in message:  # only the fork warnings can be that long
        message["result"].pop("fork_unsafe", None)
        data = json.dumps(message).encode()
    _send(data)


def _send(data):
    """One message to the server, never blocking the kernel."""
    if STATE.handover_socket is None:
        return
    try:
        STATE.handover_socket.send(data, socket.MSG_DONTWAIT)
    except OSError:  # the server is gone or not reading: its runs end with it
        pass


def serve(loop, take):
    """Takes runs from the kernel's event loop as they come (take_next)."""
    stop_serving()
    sock = STATE.handover_socket

    def readable():
        take_next(take)  # a server gone: it stopped the watch

    loop.add_reader(sock.fileno(), readable)
    STATE.handover_loop = (loop, sock.fileno())


def stop_serving():
    served, STATE.handover_loop = STATE.handover_loop, None
    if served is not None:
        loop, fd = served
        try:
            loop.remove_reader(fd)
        except (ValueError, RuntimeError, OSError):  # a loop already closed
            pass


def report_reaped(pid, exit_code):
    """Tells the server how a test process ended (it uses it when the process
    died without a word: a signal, os._exit in a test)."""
    _send(json.dumps({"reaped": pid, "exit_code": exit_code}).encode())


def attach(where):
    """The server's call at warm-up: connect to its hand-over socket and take
    runs from it in the kernel's event loop (the Reply says whether runs can
    be handed over: not without a running loop, nor across hosts, nor when
    the socket's listener is not the server). `where`: {"path", "token",
    "server_pid"} (or a path alone, from a server before tokens)."""
    from . import reaping, runner
    from .result import Reply, remember
    if isinstance(where, str):
        where = {"path": where}
    loop = reaping.kernel_loop()
    connected = loop is not None and connect(where["path"], where.get("token"), where.get("server_pid"))
    if connected:
        serve(loop, runner.take_run)
    return remember(Reply(handover=connected))
