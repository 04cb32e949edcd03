"""Test processes forked ahead of time, as Android's zygote keeps one ready.

After a run (and after warm-up) the kernel forks spares that wait on a
socket. The next run hands one its spec and its stdio file descriptors
(SCM_RIGHTS), so the fork is off that run's critical path. A spare is used
only if the kernel has not changed since it was forked (no new modules, no
new cell executed); otherwise it is discarded and the run forks afresh.

Two spares are kept. While one practises (warmup.py: a tiny pytest run that
makes the real one about twice as fast), the other stays as it was forked,
so that a run arriving mid-practice still finds a spare at once and no run
waits for or is slowed by a practice. States, all decided by the kernel:

  waiting     -- forked, not practised: a run is handed over at once
  practising  -- told to practise, no answer yet: skipped by runs
  ready       -- practised (it said so): preferred by runs
  unpractised -- no practice possible (no temporary directory): as waiting

A plugin that leaves a thread behind after the practice (pytest-rerunfailures
starts a server thread in every session) is no reason to give a spare up:
the spare runs its real run in that same process and never forks again.
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

_spares = []  # oldest first
MAX_SPARES = 2
_MAX_SPEC = 200_000  # bytes in one SOCK_SEQPACKET message; larger specs fork afresh
_PRACTISE = b"P"  # kernel -> spare: you are idle, warm up
_READY = b"R"  # spare -> kernel: warmed up, waiting for the run
# A practice waits this long after the spares were forked: the kernel has
# just answered a run, and its client may be about to send the next one.
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
                self.state = "ready" if self.sock.recv(16) == _READY else "dead"  # b"": its practice failed
            except OSError:
                self.state = "dead"
        return self.state not in ("practising", "dead")


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
    if len(_spares) >= MAX_SPARES or forksafety.unsafe_reasons():
        return None
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    generation = _generation()
    gc.freeze()
    kernel = os.getpid()
    pid = os.fork()
    if pid == 0:  # the spare: never returns
        try:
            # Its own process group: ipykernel's shutdown signals the children
            # in the kernel's group and waits until none is left, and a spare
            # only the kernel's event loop reaps would hold it up until killed.
            os.setpgid(0, 0)
            parent_sock.close()
            from . import handover
            handover.close()  # the kernel's socket to the server is not the spare's
            from .child import die_with_parent
            die_with_parent(kernel)  # a spare must not outlive its kernel either
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
    _spares.append(_Spare(pid, parent_sock, generation, on_discard, practise is not None))
    return pid


def wanted():
    """How many more spares the pool would take."""
    return MAX_SPARES - len(_spares)


def practise_next():
    """Tells one waiting spare to practise, if another one stays as it is for
    a run that comes meanwhile and none is practised or practising already."""
    if any(s.state in ("practising", "ready") for s in _spares):
        return
    fallback = [s for s in _spares if s.state in ("waiting", "unpractised")]
    waiting = [s for s in fallback if s.state == "waiting"]
    if not waiting or len(fallback) < 2:
        return
    spare = waiting[0]
    try:
        spare.sock.send(_PRACTISE)
        spare.state = "practising"
    except OSError:  # it died: runs find out and fork afresh
        pass


def _drop(spare):
    try:
        os.kill(spare.pid, signal.SIGKILL)  # not reaped yet, so the pid is still ours
    except ProcessLookupError:
        pass
    spare.sock.close()
    spare.on_discard(spare.pid)


def discard():
    """Ends every spare, practising or waiting: they hold nothing of their own
    to clean up (the practice directory is the kernel's)."""
    while _spares:
        _drop(_spares.pop())


def hand_over(spec, fds):
    """Gives the run to a current spare that is not in the middle of its
    practice (a practised one first); returns the spare (.pid, .state), or
    None when the caller must fork."""
    data = json.dumps(spec).encode()
    if _spares and (_spares[0].generation != _generation() or forksafety.unsafe_reasons()):
        discard()  # the kernel changed: every spare is stale
    for spare in [s for s in _spares if s.generation != _generation() or (not s.usable() and s.state == "dead")]:
        _spares.remove(spare)
        _drop(spare)
    if len(data) > _MAX_SPEC:
        return None
    usable = [s for s in _spares if s.usable()]
    usable.sort(key=lambda s: s.state != "ready")
    for spare in usable:
        _spares.remove(spare)
        try:
            socket.send_fds(spare.sock, [data], list(fds))
        except OSError:  # it died
            spare.on_discard(spare.pid)
            continue
        finally:
            spare.sock.close()
        return spare
    return None
