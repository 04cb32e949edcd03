"""Runs handed to the kernel by a server on the same host (kernel side).

The server owns each run's stdio: it makes the pty or pipes, keeps its ends
and sends the test process's ends (stdin, stdout, stderr, control) to the
kernel over one Unix socket, with the run request, before it asks the kernel
(one short execute request) to take that run. The kernel hands them to the
spare or a fork and is free again: the test process and the server then talk
through those fds alone, with no relay in the kernel and nothing on iopub.
The kernel writes back one line per test process it reaps (its exit status),
for a test process that died without reporting its exit code.

Wire (SOCK_SEQPACKET, one direction each):
  server -> kernel: {"run": ID, "size": N} with 4 fds, then N bytes of the
                    run request as JSON in messages of at most CHUNK bytes
  kernel -> server: {"reaped": PID, "exit_code": N}
"""
import json
import os
import socket

from ..state import STATE

CHUNK = 32768
_FDS = 4  # stdin (read end), stdout, stderr (write ends), control (write end)



def connect(path):
    """Connects to the server's hand-over socket; False if it cannot (the
    kernel is on another host: runs then go through the Jupyter relay)."""
    close()
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.connect(path)
    except OSError:
        return False
    os.set_inheritable(sock.fileno(), False)
    STATE.handover_socket = sock
    return True


def connected():
    return STATE.handover_socket is not None


def close():
    """Closes the socket (also what a test process does: it must not hold it)."""
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
        raise ValueError(f"run {meta['run']} came with {len(fds)} file descriptors, not {_FDS}")
    return meta["run"], json.loads(data), fds


def receive(run_id):
    """The spec and fds of run run_id, which the server sent before asking
    for it (runs of several clients may come in any order of asking)."""
    if STATE.handover_socket is None:
        raise ConnectionError("no hand-over socket (the server did not connect one)")
    waiting = STATE.handover_waiting
    while run_id not in waiting:
        rid, spec, fds = _receive_one()
        waiting[rid] = (spec, fds)
    return waiting.pop(run_id)


def report_reaped(pid, exit_code):
    """Tells the server how a test process ended (it uses it when the process
    died without a word: a signal, os._exit in a test)."""
    if STATE.handover_socket is None:
        return
    try:
        STATE.handover_socket.send(json.dumps({"reaped": pid, "exit_code": exit_code}).encode(), socket.MSG_DONTWAIT)
    except OSError:  # the server is gone or not reading: nothing to tell
        pass


def attach(path):
    """The server's call at warm-up: connect to its hand-over socket (the
    Reply says whether runs can be handed over)."""
    from .result import Reply, remember
    return remember(Reply(handover=connect(path)))
