"""A test process forked ahead of time, as Android's zygote keeps one ready.

After a run (and after warm-up) the kernel forks a spare that waits on a
socket. The next run hands it its spec and its stdio file descriptors
(SCM_RIGHTS), so the fork is off that run's critical path. A spare is used
only if the kernel has not changed since it was forked (no new modules, no
new cell executed); otherwise it is discarded and the run forks afresh.

A spare left idle for a moment is then told to practise (warmup.py: a tiny
pytest run that makes the real one about twice as fast). Its states, all
decided by the kernel, so that no run ever queues behind a practice:

  waiting     -- forked, not practised: a run is handed over at once
  practising  -- told to practise, no answer yet: a run discards it and forks afresh
  ready       -- practised (it said so): a run is handed over at once
  unpractised -- no practice possible (no temporary directory): as waiting
"""
import gc
import json
import os
import select
import signal
import socket
import sys

from . import forksafety
from .sysdirs import ipython_shell

_spare = None
_MAX_SPEC = 200_000  # bytes in one SOCK_SEQPACKET message; larger specs fork afresh
_PRACTISE = b"P"  # kernel -> spare: you are idle, warm up
_READY = b"R"  # spare -> kernel: warmed up, waiting for the run
# Runs from a script come back to back (a few ms apart); a person's come
# seconds apart. Waiting this long first leaves the scripts' spares unpractised
# rather than discarded mid-practice.
PRACTICE_DELAY = 0.05


class _Spare:
    def __init__(self, pid, sock, generation, on_discard, can_practise):
        self.pid = pid
        self.sock = sock
        self.generation = generation
        self.on_discard = on_discard  # reaps the pid of a spare not used
        self.state = "waiting" if can_practise else "unpractised"

    def usable(self):
        """Can a run be handed over now, without waiting? Never blocks."""
        if self.state == "practising" and select.select([self.sock], [], [], 0)[0]:
            try:
                if self.sock.recv(16) == _READY:  # b"": it died
                    self.state = "ready"
            except OSError:
                pass
        return self.state != "practising"


def _generation():
    """What would make a spare stale: a cell run in the kernel (a notebook or
    console sharing it) or a module imported since the spare was forked."""
    shell = ipython_shell()
    return (shell.execution_count if shell is not None else 0), len(sys.modules)


def prefork(child_main, on_discard, practise=None):
    """Forks a spare that waits for its run: child_main(spec, fds) then runs
    in it. on_discard(pid) takes care of reaping a spare that is not used.
    practise() runs in the spare when start_practice() asks; if it returns
    False the spare exits (and its run forks afresh). Returns the spare's pid."""
    global _spare
    if _spare is not None or forksafety.unsafe_reasons():
        return None
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    generation = _generation()
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the spare: never returns
        try:
            # Its own process group: ipykernel's shutdown signals the children
            # in the kernel's group and waits until none is left, and a spare
            # only the kernel's event loop reaps would hold it up until killed.
            os.setpgid(0, 0)
            parent_sock.close()
            from .child import die_with_parent
            die_with_parent()  # a spare must not outlive its kernel either
            while True:
                msg, fds, _, _ = socket.recv_fds(child_sock, _MAX_SPEC, 8)
                if msg != _PRACTISE or fds:
                    break
                if practise is None or not practise():
                    os._exit(0)
                child_sock.send(_READY)
            child_sock.close()
        except BaseException:
            os._exit(0)
        if not msg:  # discarded
            os._exit(0)
        child_main(json.loads(msg), fds)
        os._exit(3)
    gc.unfreeze()
    try:
        os.setpgid(pid, pid)  # also here: whichever runs first, no window in the kernel's group
    except OSError:
        pass
    child_sock.close()
    _spare = _Spare(pid, parent_sock, generation, on_discard, practise is not None)
    return pid


def start_practice(pid):
    """Tells the spare forked as pid, if it is still the waiting one, to practise."""
    spare = _spare
    if spare is None or spare.pid != pid or spare.state != "waiting":
        return
    try:
        spare.sock.send(_PRACTISE)
        spare.state = "practising"
    except OSError:  # it died: the next run finds out and forks afresh
        pass


def discard():
    """Ends the spare, practising or waiting: it holds nothing of its own to
    clean up (its practice directory is the kernel's)."""
    global _spare
    spare, _spare = _spare, None
    if spare is not None:
        try:
            os.kill(spare.pid, signal.SIGKILL)  # not reaped yet, so the pid is still ours
        except ProcessLookupError:
            pass
        spare.sock.close()
        spare.on_discard(spare.pid)


def hand_over(spec, fds):
    """Gives the run to the spare if it is current and not in the middle of
    its practice; returns the spare (.pid, .state), or None when the caller
    must fork."""
    global _spare
    spare = _spare
    if spare is None:
        return None
    data = json.dumps(spec).encode()
    if (spare.generation != _generation() or len(data) > _MAX_SPEC or forksafety.unsafe_reasons()
            or not spare.usable()):
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
    return spare
