"""In a test process: which third-party modules it imports that the kernel
did not hold, and what each cost (learned.py keeps them).

builtins.__import__ is wrapped for the test process only: the first import
of a top-level name absent from sys.modules is timed (its own imports
included, as `python -X importtime` counts them cumulatively), and kept when
the module's file is under the interpreter's prefix or a site directory
(sysdirs.system_dirs), never the user's own code. Imports through
importlib.import_module (pytest's own, plugins) are not seen.
"""
import builtins
import os
import sys
import time

from ..in_kernel import forksafety
from .. import learned, sysdirs
from ..state import STATE

_records = []
_seen = set()
_original_import = None
# Names never worth learning: the runtime, and what the kernel drops on purpose
# (pytest plugins, so that pytest rewrites their asserts: preload.py).
_NEVER = {"ltest", "pytest", "_pytest", "py", "pluggy", "conftest"}


def _third_party(module):
    path = getattr(module, "__file__", None)
    return isinstance(path, str) and os.path.realpath(path).startswith(sysdirs.system_dirs())


def _recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    __tracebackhide__ = True  # pytest's tracebacks (a test module's failing import) show no ltest frame
    top = name.partition(".")[0]
    if level != 0 or top in sys.modules or top in _seen:
        return _original_import(name, globals, locals, fromlist, level)
    _seen.add(top)
    record = {"module": top}
    _records.append(record)  # in the order imports start: a package before what it imports
    threads = forksafety.thread_count()
    start = time.perf_counter()
    try:
        return _original_import(name, globals, locals, fromlist, level)
    finally:
        record["seconds"] = round(time.perf_counter() - start, 4)
        if forksafety.thread_count() > threads:
            record["fork_unsafe"] = "started threads when imported"


# A generated-code file name: pytest's filter of import errors' tracebacks
# (filter_traceback) drops such frames, as __tracebackhide__ does elsewhere.
_recording_import.__code__ = _recording_import.__code__.replace(co_filename="<ltest import record>")


def start(skip=()):
    """Called as the fork becomes the test process. skip: top-level names
    that must never be preloaded (the rewritable pytest plugins)."""
    global _original_import
    if learned._file is None or _original_import is not None:
        return
    _seen.update(_NEVER, skip)
    _original_import = builtins.__import__
    builtins.__import__ = _recording_import


def finish():
    """At the end of the test process: the third-party records go to the cache."""
    if _original_import is None:
        return
    builtins.__import__ = _original_import
    keep = [r for r in _records if "seconds" in r and r["module"] in sys.modules
            and _third_party(sys.modules[r["module"]])]
    before = STATE.modules_at_start  # None: not a test process child.py set up
    learned.save(keep + (learned.submodules_imported(before, _third_party) if before is not None else []))
