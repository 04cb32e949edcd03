"""A spare's life, from its fork until it is a test process (or discarded).

The kernel (in_kernel/spare.py) talks to the spare over a socketpair:
  kernel -> spare: b"P"              practise (warmup.py), then say b"R"
                   b"P" + prediction practise if not yet, then prepare for
                                     that request (prepared.py), then say
                                     b"D" + {"kinds": watch kinds,
                                     "layer_first": bool}, with the inotify
                                     fd (or say b"E" and exit: a file it
                                     read was edited while it read)
                   b"L" + prediction practise if not yet, then import the
                                     project's layer for that request's cwd
                                     and environment (layered.py), then say
                                     b"Y" + watch kinds, with the inotify fd
                                     (b"R" when there is no layer to import;
                                     b"E" and exit as above)
                   a run's spec      (JSON) with its 4 fds: become it
                   nothing (closed)  discarded: exit
A spare that cannot practise or prepare exits: its socket's EOF tells the
kernel, and runs go to another spare or a fresh fork.
"""
import json
import os
import socket

from . import child, layered, prepared, process_main, project_layer
from ..state import STATE

PRACTISE = b"P"
READY = b"R"
PREPARED = b"D"
LAYER = b"L"
LAYERED = b"Y"
EDITED = b"E"
MAX_SPEC = 200_000  # bytes in one SOCK_SEQPACKET message; larger runs fork afresh


def live(sock, kernel, practise, keep_roots):
    """Never returns. practise(): the practice run, True if the process is
    fit for a real run after it."""
    fds = []
    try:
        # Its own process group: ipykernel's shutdown signals the children
        # in the kernel's group and waits until none is left, and a spare
        # only the kernel's event loop reaps would hold it up until killed.
        os.setpgid(0, 0)
        from ..in_kernel import handover
        handover.close()  # the kernel's socket to the server is not the spare's
        child.die_with_parent(kernel)  # a spare must not outlive its kernel either
        ready, spec, fds = _until_run(sock, practise, keep_roots, fds)
    except BaseException as e:
        _refuse_run(fds, e)
        os._exit(0)
    # This frame stays below the run's: it holds the request (emptied by
    # forget_request.py), never the bytes it came in.
    if isinstance(ready, layered.Layered):
        process_main.from_layered(ready, spec, fds)
    if ready is not None:
        process_main.from_prepared(ready, spec, fds)
    process_main.fresh(spec, fds)


def _until_run(sock, practise, keep_roots, fds):
    """Practises and prepares as the kernel asks; (the prepared state or
    None, the run's spec, its fds) once a run comes. fds: filled with what
    came with the last message, for _refuse_run."""
    ready, practised = None, False
    while True:
        msg, got, _, _ = socket.recv_fds(sock, MAX_SPEC, 8)
        fds[:] = got
        if not msg.startswith((PRACTISE, LAYER)) or fds or ready is not None:
            break
        if not practised:
            if practise is None or not practise():
                os._exit(0)
            practised = True
        if len(msg) == 1:
            sock.send(READY)
            continue
        if msg.startswith(LAYER):
            ready = _import_layer(json.loads(msg[1:]), keep_roots, sock)
            if ready is None:  # no layer to import: a practised plain spare
                sock.send(READY)
                continue
            socket.send_fds(sock, [LAYERED + json.dumps(ready.kinds).encode()], [ready.watch_fd])
        else:
            ready = _prepare(json.loads(msg[1:]), keep_roots, sock)
            answer = {"kinds": ready.kinds, "layer_first": ready.layer_first}
            socket.send_fds(sock, [PREPARED + json.dumps(answer).encode()], [ready.watch_fd])
        os.close(ready.watch_fd)  # the kernel's copy is the one read
    sock.close()
    if not msg:  # discarded
        os._exit(0)
    return ready, json.loads(msg), list(fds)


def _refuse_run(fds, error):
    """A spare that failed after it received a run's fds (stdin, stdout,
    stderr, control) ends that run with ltest's "internal" exit code and a
    line on its stderr: its client must not read the spare's end as a pass."""
    if len(fds) != 4:
        return
    for fd, line in ((fds[2], f"ltest: internal: the spare could not start the run: {error!r}\n"),
                     (fds[3], "X 70\n")):
        try:
            os.write(fd, line.encode())
        except OSError:
            pass
    os._exit(70)


def _prepare(prediction, keep_roots, sock):
    directory = STATE.practice_directory
    cwd = prediction.get("cwd") or os.getcwd()
    try:
        ready = prepared.prepare(prediction, keep_roots,
                                 project_layer.record_path(directory, cwd) if directory else None)
    except prepared.EditedWhileReading:  # the kernel prepares another, with the edit
        sock.send(EDITED)
        os._exit(0)
    if ready is None:  # no longer a plain spare, not prepared either
        os._exit(0)
    return ready


def _import_layer(prediction, keep_roots, sock):
    """layered.prepare for prediction: the Layered, or None when there is no
    layer to import (still a plain spare); ends the process otherwise."""
    directory = STATE.practice_directory
    cwd = prediction.get("cwd") or os.getcwd()
    try:
        ready, plain = layered.prepare(prediction, keep_roots,
                                       project_layer.record_path(directory, cwd) if directory else None)
    except prepared.EditedWhileReading:
        sock.send(EDITED)
        os._exit(0)
    if ready is None and not plain:  # half way to a test process: neither plain nor layered
        os._exit(0)
    return ready
