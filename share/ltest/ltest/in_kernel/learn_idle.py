"""What a run learns warms the kernel it ran on, while the kernel is idle.

A test process records the third-party modules it imported that the kernel
did not hold (import_record.py, into the cache file of learned.py). Until
now only the next server imported them; so every run with other arguments
than the last (whose prepared spare imports them ahead) paid them in full.
Here the kernel reads the cache file after each test process it reaps and,
once it is idle, imports the learned modules worth it itself (the same rules
as at start: over learned.THRESHOLD_SECONDS, never failed, no threads
started, not excluded), one per event-loop turn, then replaces its spares,
so that the next run, whatever its arguments, starts from a process that
holds them.

Idle: no run waiting on the hand-over socket (it goes first) and no cell
executing (IPython's pre_execute/post_execute events: a notebook's cell, an
%%ltest cell, the server's own requests; a synchronous cell blocks the
event loop anyway, an async one awaiting would not). An import cannot be
cut short, so a cell or run that arrives during one waits for that one
import at most, never for the rest: the next import is scheduled behind
whatever arrived. The notebook's namespace is untouched (importlib, not
an import statement in a cell).

The server hears of each change over the hand-over socket ({"learned":
learned.status(), "preloaded": [...], "watch": [...]}), so `--status`
lists a module as soon as a run learned it, and as held once the kernel
imported it.
"""
import json
import select
import socket

from .. import learned
from ..state import STATE
from ..sysdirs import ipython_shell

# After a test process ended: the client may send its next run at once, and
# a run that finds the kernel importing waits for that import.
AFTER_RUN_DELAY = 0.3
# While a cell executes or a run waits, look again this much later.
BUSY_RETRY = 0.2



class _Learning:
    """This kernel's learning while idle (one instance: _learning)."""

    def __init__(self):
        self.scheduled = None  # the loop's handle of the next step, while one is due
        self.cells = 0  # cells executing now (pre_execute without its post_execute yet)
        self.hooked = False
        self.tried = set()  # (name, submodules) imported (or failed) here: never tried again by this kernel
        self.imported = []  # {"module", "seconds", "source": "learned"} of the imports done while idle
        self.last_report = None
        self.replace_spares = False  # something was imported since the spares were forked


_learning = _Learning()


def _pre_execute():
    _learning.cells += 1


def _post_execute():
    _learning.cells = max(0, _learning.cells - 1)


def _hook_cells():
    """Counts the cells executing (IPython's public events, registered once)."""
    shell = ipython_shell()
    if _learning.hooked or shell is None:
        return
    try:
        shell.events.register("pre_execute", _pre_execute)
        shell.events.register("post_execute", _post_execute)
        _learning.hooked = True
    except Exception:  # an IPython without these events: the event loop's own blocking still guards sync cells
        pass


def after_run():
    """A test process of this kernel ended (reaping.py): what it learned is
    read, reported and imported, from the event loop, once idle."""
    if learned._file is None:  # not learning (an attached kernel, no cache directory)
        return
    _hook_cells()
    _schedule(AFTER_RUN_DELAY)


def _schedule(delay):
    from .reaping import kernel_loop
    loop = kernel_loop()
    if loop is None or _learning.scheduled is not None:
        return
    _learning.scheduled = loop.call_later(delay, _step)


def _run_waiting():
    """Is a run waiting on the hand-over socket? It goes before an import."""
    sock = STATE.handover_socket
    if sock is None:
        return False
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def idle():
    return _learning.cells == 0 and not _run_waiting()


def pending(entries, exclude=()):
    """[(name, submodules)]: the learned modules worth importing that the
    kernel does not hold, or whose learned submodules it lacks, and that it
    has not tried so, in the order the tests first imported them."""
    import sys
    subs = {e["module"]: tuple(e.get("submodules", ())) for e in entries}
    out = []
    for name in learned.candidates(entries, exclude, configured=()):
        missing = tuple(m for m in subs.get(name, ()) if m not in sys.modules)
        if (name not in sys.modules or missing) and (name, missing) not in _learning.tried:
            out.append((name, missing))
    return out


def _step():
    """One event-loop turn's work: report news, import one module, or, when
    none is left, replace the spares."""
    _learning.scheduled = None
    entries = learned.read(learned._file)[0]
    _report()
    names = pending(entries, learned.settings.get("exclude", ()))
    if not names:
        if _learning.replace_spares:
            _learning.replace_spares = False
            _refill_spares()
        return
    if not idle():
        _schedule(BUSY_RETRY)
        return
    name, submodules = names[0]
    _learning.tried.add((name, submodules))
    import sys
    held_before = name in sys.modules  # then only submodules a later run learned are new
    timing = learned.import_learned(name, submodules)
    if timing is not None:
        if not held_before:
            _learning.imported.append(timing)
        _learning.replace_spares = True
    _report()
    _schedule(0)  # the next one behind whatever arrived meanwhile (call_later 0: after the ready callbacks)


def _refill_spares():
    """The spares were forked before the imports: they do not hold them.
    They are ended and forked again (a spare being prepared too: the
    prediction stays, so the new one is prepared for it)."""
    from . import runner, spare
    spare.discard()
    runner.prepare_spare()


def imported():
    """The imports made while idle ({"module", "seconds", "source"})."""
    return list(_learning.imported)


def _report():
    """Tells the server what is learned and held, when that changed."""
    from .preload import watched_files, watched_roots
    message = {"learned": learned.status(), "preloaded": imported(), "watch": watched_files(watched_roots())}
    data = json.dumps(message).encode()
    if data == _learning.last_report or STATE.handover_socket is None:
        return
    _learning.last_report = data
    from .handover import MAX_ANSWER
    if len(data) > MAX_ANSWER:  # only a huge cache file could: the held facts matter most
        message["learned"]["modules"] = [m for m in message["learned"]["modules"] if m.get("held")]
        data = json.dumps(message).encode()
    try:
        STATE.handover_socket.send(data, socket.MSG_DONTWAIT)
    except OSError:  # the server is gone or not reading
        pass
