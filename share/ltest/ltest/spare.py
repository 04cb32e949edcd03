"""A test process forked ahead of time, as Android's zygote keeps one ready.

After a run (and after warm-up) the kernel forks a spare that waits on a
socket. The next run hands it its spec and its stdio file descriptors
(SCM_RIGHTS), so the fork is off that run's critical path. A spare is used
only if the kernel has not changed since it was forked (no new modules, no
new cell executed); otherwise it is discarded and the run forks afresh.
"""
import gc
import json
import os
import socket
import sys

from . import forksafety
from .sysdirs import ipython_shell

_spare = None
_MAX_SPEC = 200_000  # bytes in one SOCK_SEQPACKET message; larger specs fork afresh


class _Spare:
    def __init__(self, pid, sock, generation, on_discard):
        self.pid = pid
        self.sock = sock
        self.generation = generation
        self.on_discard = on_discard  # reaps the pid of a spare not used


def _generation():
    """What would make a spare stale: a cell run in the kernel (a notebook or
    console sharing it) or a module imported since the spare was forked."""
    shell = ipython_shell()
    return (shell.execution_count if shell is not None else 0), len(sys.modules)


def prefork(child_main, on_discard):
    """Forks a spare that waits for its run: child_main(spec, fds) then runs
    in it. on_discard(pid) takes care of reaping a spare that is not used."""
    global _spare
    if _spare is not None or forksafety.unsafe_reasons():
        return
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    generation = _generation()
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the spare: never returns
        try:
            parent_sock.close()
            from .child import die_with_parent
            die_with_parent()  # a spare must not outlive its kernel either
            msg, fds, _, _ = socket.recv_fds(child_sock, _MAX_SPEC, 8)
            child_sock.close()
        except BaseException:
            os._exit(0)
        if not msg:  # discarded
            os._exit(0)
        child_main(json.loads(msg), fds)
        os._exit(3)
    gc.unfreeze()
    child_sock.close()
    _spare = _Spare(pid, parent_sock, generation, on_discard)


def discard():
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        spare.sock.close()  # the spare reads EOF and exits
        spare.on_discard(spare.pid)


def hand_over(spec, fds):
    """Gives the run to the spare if it is still current; returns its pid, or
    None when the caller must fork."""
    global _spare
    spare = _spare
    if spare is None:
        return None
    data = json.dumps(spec).encode()
    if spare.generation != _generation() or len(data) > _MAX_SPEC or forksafety.unsafe_reasons():
        discard()
        return None
    _spare = None
    try:
        socket.send_fds(spare.sock, [data], list(fds))
    except OSError:  # the spare died
        spare.on_discard(spare.pid)
        return None
    finally:
        spare.sock.close()
    return spare.pid
