"""A single-threaded template of the warm kernel, forked at warm-up: test
processes and spares descend from it once the kernel is no longer safe to
fork.

fork() copies only the calling thread. A notebook that computed in the
shared kernel leaves threads there (JAX's CPU backend after `jax.devices()`
or any array op, an OpenMP pool after a parallel torch op, TensorFlow's
inter/intra-op pools), and a fork of the kernel then inherits their locks
held and their bookkeeping without the threads: its first use of that
library hangs (JAX, TensorFlow) or waits on a pool that is not there
(torch). The template was forked while the kernel had only ipykernel's
threads and the preloads imported, and it never computes: a process forked
from it starts each library's threads afresh, as a cold run does, whatever
the notebook did since. One design for every library, no per-library
knowledge.

It is used only when forksafety.py finds the kernel unsafe; a kernel that
stayed safe forks its test processes itself, as before (the kernel's
modules imported after warm-up stay warm that way).

Parenthood: the template double-forks (template -> intermediate -> the
process), and the kernel is the child subreaper (PR_SET_CHILD_SUBREAPER)
for the moment of each request, so that when the intermediate exits the
process is re-parented to the kernel: it is the kernel's child as a fork
of its own would be (waitpid, reaping, PR_SET_PDEATHSIG, process groups
all unchanged). The process waits on a pipe until the template saw the
intermediate exit, so it sets its death signal only once its parent is the
kernel. The kernel is the subreaper only while it waits for a request's
answer (a few ms): at other times orphans go to init, as before.

Modules the kernel imported after the template was forked (a notebook's
`import torch`) are imported into the template too, before the next fork
from it (catch_up): it stays as warm as the kernel, without the kernel's
threads. The user's own modules are not: each run imports those afresh
anyway. Threads an import starts (OpenBLAS's idle pool, which handles fork
itself) are accepted as the kernel's baseline accepts the preloads': what
hangs a fork is a library that computed, and the template never computes.

Wire (SOCK_SEQPACKET, kernel <-> template): the kernel sends JSON
{"do": action, "arg": ...} with the action's fds; the template answers the
pid as ASCII digits, or b"" when it could not fork. {"do": "import", "arg":
[names]} imports them in the template itself; it answers b"0". Closing the socket ends the
template.
"""
import ctypes
import gc
import importlib
import json
import os
import signal
import socket
import sys

from ..state import STATE

_PR_SET_CHILD_SUBREAPER = 36
_MAX_MESSAGE = 1 << 20
_NAMES_PER_MESSAGE = 1000  # module names: well under a Unix socket's default 208 KiB send buffer


class _Template:
    def __init__(self, pid, sock, generation):
        self.pid = pid
        self.sock = sock
        self.generation = generation  # len(sys.modules) in the kernel when it was forked
        self.known = set(sys.modules)  # what it has imported (the kernel's view): catch_up sends the rest


def _subreaper(on):
    """The kernel's PR_SET_CHILD_SUBREAPER; False where prctl is missing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) == 0
    except Exception:
        return False


def alive():
    """Is there a template that can take requests?"""
    if STATE.template is None:
        return False
    try:
        done, _ = os.waitpid(STATE.template.pid, os.WNOHANG)
    except ChildProcessError:
        done = STATE.template.pid
    if done:
        STATE.template.sock.close()
        STATE.template = None
    return STATE.template is not None


def start(actions, generation, prepare=None):
    """Forks the template now (the kernel must be safe to fork: call it only
    when forksafety.unsafe_reasons() is empty). actions: name -> f(arg, fds),
    run in a process forked from the template, never returning. prepare():
    called in the template before each fork (the eviction plan). A template
    forked for an older generation is replaced."""
    if alive():
        if STATE.template.generation == generation:
            return True
        stop()
    # The template's lineage must know it has a subreaper above it when it
    # is forked (has_child_subreaper is inherited at fork); the kernel is
    # one only around each request.
    if not _subreaper(True):
        return False
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    gc.freeze()
    kernel = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        pid = -1
    if pid == 0:
        parent_sock.close()
        _serve(child_sock, kernel, actions, prepare)
    gc.unfreeze()
    _subreaper(False)
    child_sock.close()
    if pid < 0:
        parent_sock.close()
        return False
    STATE.template = _Template(pid, parent_sock, generation)
    return True


def stop():
    """Ends the template (its socket's EOF); the kernel reaps it."""
    if STATE.template is None:
        return
    template, STATE.template = STATE.template, None
    template.sock.close()
    try:
        os.kill(template.pid, signal.SIGKILL)
        os.waitpid(template.pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def spawn(action, arg, fds):
    """A process forked from the template that runs actions[action](arg,
    fds); its pid (a child of the kernel), or None when the template could
    not: the caller then does without it."""
    if not alive():
        return None
    if not _subreaper(True):
        return None
    try:
        socket.send_fds(STATE.template.sock, [json.dumps({"do": action, "arg": arg}).encode()], list(fds))
        answer = STATE.template.sock.recv(64)
    except OSError:
        answer = b""
    finally:
        _subreaper(False)
    if not answer.isdigit():
        stop()
        return None
    return int(answer)


def catch_up(names, generation):
    """Imports names (the kernel's modules the template lacks) into the
    template; generation: the kernel's len(sys.modules) now. False when
    there is no template (any more)."""
    if not alive():
        return False
    if STATE.template.generation == generation:
        return True
    names = [name for name in names if name not in STATE.template.known]
    for start in range(0, len(names), _NAMES_PER_MESSAGE):  # one message stays below the socket's buffer
        try:
            STATE.template.sock.send(json.dumps({"do": "import", "arg": names[start:start + _NAMES_PER_MESSAGE]}).encode())
            answer = STATE.template.sock.recv(64)
        except OSError:
            answer = b""
        if answer != b"0":
            stop()
            return False
    STATE.template.generation = generation
    STATE.template.known.update(names)
    return True


def _import_all(names):
    """The template's side of catch_up."""
    for name in names:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except BaseException:  # the kernel imported it some other way: runs import it if they need it
                pass


def _serve(sock, kernel, actions, prepare):
    """The template's life: never returns. Single-threaded, it only forks."""
    try:
        os.setpgid(0, 0)  # not in the kernel's group: ipykernel's shutdown waits for that group
        from . import handover
        handover.close()  # the kernel's socket to the server is not the template's
        from ..in_test_process import child
        child.die_with_parent(kernel)
        while True:
            msg, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 8)
            if not msg:
                os._exit(0)
            request = json.loads(msg)
            if request["do"] == "import":
                _import_all(request["arg"])
                sock.send(b"0")
                continue
            if prepare is not None:
                prepare()
            pid = _double_fork(kernel, actions[request["do"]], request["arg"], fds, sock)
            for fd in fds:
                os.close(fd)
            sock.send(str(pid).encode() if pid else b"")
    except BaseException:
        os._exit(1)


def _double_fork(kernel, action, arg, fds, sock):
    """Forks the process through an intermediate that exits at once, so the
    process becomes the kernel's child (the subreaper). Its pid, or None."""
    go_r, go_w = os.pipe()
    pid_r, pid_w = os.pipe()
    gc.freeze()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(go_w)
            os.close(pid_r)
            pid = os.fork()
            if pid == 0:
                os.close(pid_w)
                sock.close()
                os.read(go_r, 1)  # the intermediate is gone: the kernel is its parent now
                os.close(go_r)
                gc.unfreeze()
                if os.getppid() != kernel:  # no subreaper took it: it must not run unowned
                    os._exit(70)
                action(arg, fds)
                os._exit(70)
            os.setpgid(pid, pid)  # its group exists before the kernel can signal it
            os.write(pid_w, str(pid).encode())
        finally:
            os._exit(0)
    gc.unfreeze()
    os.close(go_r)
    os.close(pid_w)
    data = os.read(pid_r, 64)
    os.close(pid_r)
    os.waitpid(middle, 0)  # the process is re-parented to the kernel before this returns
    os.write(go_w, b"g")
    os.close(go_w)
    return int(data) if data.isdigit() else None
