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
  prepared    -- practised, then prepared for the predicted next run
                 (in_test_process/prepared.py): only a run equal to the
                 prediction, with nothing the preparation read changed, goes there
  layered     -- practised, then holding the project's layer for the
                 prediction's cwd and environment (in_test_process/layered.py):
                 a run equal to the prediction but in arguments that only
                 select tests or shape the report, nothing it read changed

Once a run came, the next one is predicted to be the same (cwd, arguments,
environment, terminals), and of the two spares one is prepared for it while
the other stays as it was forked, for a run that differs; once the first is
prepared, the other practises too, and imports the project's layer when the
prepared one saw that the plugins and conftests leave the environment alone,
so that a run with other arguments finds pytest warm and the project's
modules imported (a run during that practice forks afresh). A run that arrives
while a spare is being prepared for it waits for that spare
(_await_preparation). An edit to a file
the prepared spare read drops it (file_watch.py, from the kernel's event
loop) and a new one is prepared in the background, so that the usual loop
(edit, save, switch to the terminal, run) finds the new code prepared.

Practices and preparations wait while a run's test process is under way
(run_began, run_ended): on a loaded or small machine they would take the
CPU from the very run they get ready after, and a run's tests should cost
what they cost cold. Only the fork of the spares is not deferred (it is
quick), so a run right after still finds one, as it would mid-practice.

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
import time

from . import forksafety, template
from .. import file_watch
from ..in_test_process import child, layered, spare_loop
from ..in_test_process.spare_loop import EDITED, LAYER, LAYERED, MAX_SPEC, PRACTISE, PREPARED, READY
from ..state import STATE
from ..sysdirs import ipython_shell

_spares = []  # oldest first
MAX_SPARES = 2
# A practice waits this long after the spares were forked: the kernel has
# just answered a run, and its client may be about to send the next one.
PRACTICE_DELAY = 0.05
# After an edit drops the prepared spare, the next one is prepared this much
# later: an editor's save is several writes and renames.
REPREPARE_DELAY = 0.1
# A run that finds a spare being prepared for it (this very request) waits
# for that spare's answer rather than start over in a plain one: the
# preparation is ahead of where a plain spare would start, so it is sooner
# by construction. Bounded, for a preparation stuck in a conftest: then the
# run takes a plain spare as before.
PREPARATION_WAIT = 5.0
_waited = {"seconds": 0.0}  # how long the last hand-over waited for a preparation
_runs = set()  # pids of the test processes handed over and not reaped yet (run_began)
_deferred = {"loop": None}  # a practice asked for while a run was under way: the loop to ask again on


class _Spare:
    def __init__(self, pid, sock, generation, on_discard, can_practise):
        self.pid = pid
        self.sock = sock
        self.generation = generation
        self.on_discard = on_discard  # reaps the pid of a spare not used
        self.state = "waiting" if can_practise else "unpractised"
        self.prediction = None  # the request key it is (being) prepared for (layered: without args)
        self.layer_first = False  # prepared: its plugins and conftests left the environment alone (layered.py)
        self.watch_fd = None  # prepared: its inotify fd (file_watch.py)
        self.kinds = {}
        self.loop = None  # the event loop that watches it, while it does
        self.edited = False  # it died because a file was edited while it prepared

    def usable(self):
        """Can a run be handed over now, without waiting? Never blocks."""
        if self.state == "practising" and select.select([self.sock], [], [], 0)[0]:
            self._answer()
        return self.state not in ("practising", "dead")

    def _answer(self):
        try:
            msg, fds, _, _ = socket.recv_fds(self.sock, 65536, 1)
        except OSError:
            msg, fds = b"", []
        if msg == READY and not fds:
            self.state = "ready"
        elif msg.startswith(PREPARED) and len(fds) == 1 and self.prediction is not None:
            self.state = "prepared"
            self.watch_fd = fds[0]
            answer = json.loads(msg[1:])
            self.kinds = {int(wd): kind for wd, kind in answer["kinds"].items()}
            self.layer_first = answer.get("layer_first") is True
        elif msg.startswith(LAYERED) and len(fds) == 1 and self.prediction is not None:
            self.state = "layered"
            self.watch_fd = fds[0]
            self.kinds = {int(wd): kind for wd, kind in json.loads(msg[1:]).items()}
        else:  # b"E" or b"": its preparation was cut short by an edit, or failed; it exited
            self.state = "dead"
            self.edited = msg == EDITED and not fds
            for fd in fds:
                os.close(fd)
        if self.loop is not None:  # it was watched for this answer
            self.loop.remove_reader(self.sock)
            if self.state in ("prepared", "layered"):
                self.loop.add_reader(self.watch_fd, lambda: _on_change(self))
            else:
                self.loop = None

    def changed(self):
        """Prepared: has a file its preparation read changed since?"""
        if self.watch_fd is not None and file_watch.changed(self.watch_fd, self.kinds):
            self.state = "dead"
        return self.state == "dead"

    def serves(self, key):
        """Could it take a run whose request key is key? First reads an
        answer that came meanwhile: a spare may have become prepared (for
        another request) since the kernel last looked."""
        if not self.usable():
            return False
        if self.state == "prepared":
            return self.prediction == key and not self.changed()
        if self.state == "layered":
            return layered.serves(self.prediction, key) and not self.changed()
        return True

    def meant_for_another(self, key):
        """(Being) prepared or layered for a request that is not key's."""
        if self.prediction is None:
            return False
        if self.state == "layered" or (self.state == "practising" and "args" not in self.prediction):
            return self.prediction != layered.key_but_args(key)
        return self.prediction != key

    def unwatch(self):
        if self.loop is not None:
            for fd in (self.sock, self.watch_fd):
                if fd is not None:
                    self.loop.remove_reader(fd)
            self.loop = None

    def close(self):
        self.unwatch()
        self.sock.close()
        if self.watch_fd is not None:
            os.close(self.watch_fd)
            self.watch_fd = None


def _generation():
    """What would make a spare stale: a cell run in the kernel (a notebook or
    console sharing it) or a module imported since the spare was forked."""
    shell = ipython_shell()
    return (shell.execution_count if shell is not None else 0), len(sys.modules)


def prefork(on_discard, practise=None, keep_roots=()):
    """Forks a spare that waits for its run (spare_loop.py). on_discard(pid)
    takes care of reaping a spare that is not used. practise() runs in the
    spare when practise_next() asks; if it returns False the spare exits
    (and its run forks afresh). Returns the spare's pid."""
    unsafe = forksafety.unsafe_reasons()
    if len(_spares) >= MAX_SPARES or (unsafe and not template.alive()):
        return None
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    generation = _generation()
    if unsafe:  # a notebook computed in the kernel: the spare descends from the template (template.py)
        directory = STATE.practice_directory if practise is not None else None  # the kernel's, now
        pid = template.spawn("spare", directory, [child_sock.fileno()])
        child_sock.close()
        if pid is None:
            parent_sock.close()
            return None
        _spares.append(_Spare(pid, parent_sock, generation, on_discard, practise is not None))
        return pid
    gc.freeze()
    kernel = os.getpid()
    pid = os.fork()
    if pid == 0:  # the spare: never returns
        parent_sock.close()
        spare_loop.live(child_sock, kernel, practise, keep_roots)
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


def practise_next(loop=None):
    """Tells one waiting spare to practise (and, once a run predicts the
    next, to prepare for it), if another one stays as it is for a run that
    comes meanwhile and none is practised, prepared or practising already."""
    if _runs:  # after the run (run_ended)
        _deferred["loop"] = loop or _deferred["loop"]
        return
    prediction = STATE.prediction
    key = child.request_key(prediction) if prediction is not None else None
    if any(s.state == "prepared" for s in _spares) and not any(s.state == "practising" for s in _spares):
        _practise_plain(key, loop)
        return
    if any(s.state in ("practising", "prepared") or (s.state == "ready" and key is None) for s in _spares):
        return
    # A layered spare (kept after the prepared one ran) takes runs with other arguments meanwhile.
    fallback = [s for s in _spares if s.state in ("waiting", "unpractised", "ready", "layered")]
    candidates = [s for s in fallback if s.state in ("waiting", "ready")]
    if not candidates or len(fallback) < 2:
        return
    candidates.sort(key=lambda s: s.state != "ready")  # a practised one prepares at once
    spare = candidates[0]
    message = PRACTISE + (json.dumps(prediction).encode() if key is not None else b"")
    if len(message) > MAX_SPEC:
        message, key = PRACTISE, None
    if spare.state == "ready" and key is None:
        return
    try:
        spare.sock.send(message)
    except OSError:  # it died: runs find out and fork afresh
        return
    spare.state, spare.prediction = "practising", key
    if key is not None and loop is not None:
        spare.loop = loop
        loop.add_reader(spare.sock, lambda: _on_answer(spare))


def run_began(pid):
    """A run's test process started (runner.take_run): practices and
    preparations wait until it ended (run_ended), as the module's docstring
    says."""
    _runs.add(pid)


def run_ended(pid):
    """pid was reaped (reaping.reap_finished): once no run is under way, the
    practice deferred meanwhile starts, PRACTICE_DELAY later as after a run."""
    if pid not in _runs:
        return
    _runs.discard(pid)
    loop = _deferred["loop"]
    if not _runs and loop is not None:
        _deferred["loop"] = None
        loop.call_later(PRACTICE_DELAY, lambda: practise_next(loop))


def _practise_plain(key, loop):
    """Once a spare is prepared for the predicted run, the one kept as forked
    practises too, and imports the project's layer for the prediction's cwd
    and environment where the prepared one saw the plugins and conftests
    leave them alone (in_test_process/layered.py): a run with other
    arguments then finds pytest warm and the project's modules imported
    (issue 28: the likely next run, not only the last one). A run that
    comes meanwhile waits only for a layer meant for it
    (_await_preparation); any other forks afresh. Its answer is watched:
    if an edit drops the prepared one meanwhile, this one, once practised,
    is the one prepared next (_on_answer)."""
    prepared = next((s for s in _spares if s.state == "prepared"), None)
    for spare in _spares:
        if spare.state == "waiting":
            message, plain = PRACTISE, None
            if prepared is not None and prepared.layer_first and key is not None and prepared.prediction == key:
                layer = LAYER + json.dumps(STATE.prediction).encode()
                if len(layer) <= MAX_SPEC:
                    message, plain = layer, layered.key_but_args(key)
            try:
                spare.sock.send(message)
            except OSError:  # it died: runs find out and fork afresh
                return
            spare.state, spare.prediction = "practising", plain
            if loop is not None:  # its answer may be the moment to prepare another (_on_answer)
                spare.loop = loop
                loop.add_reader(spare.sock, lambda: _on_answer(spare))
            return


def _on_answer(spare):
    """The spare said it is ready or prepared (or died: its preparation could
    not be exact). A dead one is reaped now, not at the next run: it would
    stay a zombie until then. One that an edit cut short is prepared again,
    as after an edit to a prepared spare (_on_change), so that the run after
    the edit finds the new code prepared. For any other failure none is
    forked in its place (a preparation that cannot be exact would fail
    again): the next run refills the pool."""
    if spare.state != "practising":
        return
    loop = spare.loop
    spare._answer()
    if spare.state == "ready":  # it had no layer to import: a plain practised spare
        spare.unwatch()
        spare.prediction = None
    if spare.state in ("prepared", "layered", "ready"):
        # Prepared: the other spare practises now (_practise_plain). Ready or
        # layered: if the prepared one was taken by a run or dropped by an
        # edit meanwhile, a spare prepares for the prediction now; nothing
        # else would until the next run.
        practise_next(loop)
    if spare.state == "dead" and spare in _spares:
        _spares.remove(spare)
        _drop(spare)
        if spare.edited and STATE.refill is not None and loop is not None:
            loop.call_later(REPREPARE_DELAY, STATE.refill)


def _on_change(spare):
    """A file the prepared spare read changed: drop it, prepare another."""
    if not spare.changed():
        return
    loop = spare.loop
    if spare in _spares:
        _spares.remove(spare)
        _drop(spare)
    else:
        spare.unwatch()
    if STATE.refill is not None:
        loop.call_later(REPREPARE_DELAY, STATE.refill)


def _drop(spare):
    try:
        os.kill(spare.pid, signal.SIGKILL)  # not reaped yet, so the pid is still ours
    except ProcessLookupError:
        pass
    spare.close()
    spare.on_discard(spare.pid)


def discard():
    """Ends every spare, practising or waiting: they hold nothing of their own
    to clean up (the practice directory is the kernel's)."""
    while _spares:
        _drop(_spares.pop())


def _await_preparation(key, generation):
    """Waits for the answer of a spare being prepared for this very request,
    or importing the project's layer for a run like it (layered.py), at most
    PREPARATION_WAIT; the seconds waited, 0 when there is none."""
    if key is None or any(s.state == "prepared" and s.generation == generation and s.serves(key) for s in _spares):
        return 0.0  # one is prepared for it already
    for spare in _spares:
        if spare.state != "practising" or spare.prediction is None or spare.generation != generation:
            continue
        meant = spare.prediction == key if "args" in spare.prediction else layered.serves(spare.prediction, key)
        if meant:
            start = time.perf_counter()
            if select.select([spare.sock], [], [], PREPARATION_WAIT)[0]:
                spare._answer()
            return time.perf_counter() - start
    return 0.0


def waited():
    """Seconds the last hand-over waited for a spare being prepared for it."""
    return _waited["seconds"]


def hand_over(spec, fds):
    """Gives the run to a current spare that is not in the middle of its
    practice (one prepared for it first, then a practised one); returns the
    spare (.pid, .state), or None when the caller must fork. A spare being
    prepared for this very request is waited for (_await_preparation)."""
    data = json.dumps(spec).encode()
    if _spares and _spares[0].generation != _generation():
        discard()  # the kernel changed: every spare is stale (each was forked while the kernel was safe)
    key, generation = child.request_key(spec), _generation()
    _waited["seconds"] = _await_preparation(key, generation)
    usable = []
    for spare in list(_spares):
        if spare.generation == generation and spare.serves(key):
            usable.append(spare)
            continue
        other = spare.meant_for_another(key)  # (being) prepared for another request
        if spare.state == "dead" or other or spare.generation != generation:
            _spares.remove(spare)  # the next prediction is this run's
            _drop(spare)
    if len(data) > MAX_SPEC:
        return None
    usable.sort(key=lambda s: {"prepared": 0, "layered": 1, "ready": 2}.get(s.state, 3))
    for spare in usable:
        _spares.remove(spare)
        spare.unwatch()
        try:
            socket.send_fds(spare.sock, [data], list(fds))
        except OSError:  # it died
            spare.on_discard(spare.pid)
            continue
        finally:
            spare.close()
        return spare
    return None
