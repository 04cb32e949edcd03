"""In a test process: which third-party modules it imports that the kernel
did not hold, and what each cost (learned.py keeps them).

No frame of ours may stand between a module and its importer while the
module runs: `warnings.warn(..., stacklevel=2)` in a module's body, a
`-W error::Category:importer` filter, `sys._getframe` walks and tracebacks
must find the importer as in a fresh process. So nothing wraps the import
(a builtins.__import__ wrapper did, and showed as a frame of its own).
Instead, a finder first in sys.meta_path sees the first search for a
top-level name absent from sys.modules (whoever imports it: an import
statement or importlib.import_module), asks the finders after it for the
spec, notes the start, and gives the spec a class whose `_initializing`
setter notes the end: importlib sets `spec._initializing` to True before
it runs the module and to False once it ran (importlib._bootstrap.
_load_unlocked, CPython 3.4 on), each from its own code, so our setter runs
before and after the module's execution, never under it. The module's time
is cumulative (its own imports included, as `python -X importtime`
counts), and it is kept when the module's file is under the interpreter's
prefix or a site directory (sysdirs.system_dirs), or is part of a
distribution installed elsewhere (sysdirs.is_installed_library), never the
user's own code. An interpreter whose importlib did not set `_initializing` would time
nothing, so nothing would be learned (test_import_record checks this one).
"""
import os
import sys
import time

from ..in_kernel import forksafety
from .. import learned, sysdirs
from . import fidelity_import_warnings
from ..state import STATE

_records = []
_seen = set()
_finder = []  # the finder while recording (one at most)
_timing = {}  # id(spec): (record, start, threads) while its module runs
# Names never worth learning: the runtime, and what the kernel drops on purpose
# (pytest plugins, so that pytest rewrites their asserts: preload.py).
_NEVER = {"ltest", "pytest", "_pytest", "py", "pluggy", "conftest"}


def _third_party(module):
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return False
    if os.path.realpath(path).startswith(sysdirs.system_dirs()):
        return True
    # A library installed outside the site directories (its dist-info beside it:
    # `pip install --target` on PYTHONPATH) is third-party too, as preload.py and
    # eviction.py take it: without this, the libraries of a stack with no user
    # site that live there were preloaded on request but never learned.
    name = getattr(module, "__name__", None)
    return isinstance(name, str) and sysdirs.is_installed_library(name, path)


def _importing():
    """Is the search an import's (importlib._bootstrap._find_and_load_unlocked
    calling _find_spec, which calls us), not importlib.util.find_spec asking
    whether a module exists? Only an import runs the module."""
    caller = sys._getframe(3)  # us <- _RecordingFinder.find_spec <- _find_spec <- _find_and_load_unlocked
    return caller is not None and caller.f_code.co_name == "_find_and_load_unlocked"


class _RecordingFinder:
    """First in sys.meta_path while the test process records; finds nothing
    itself (the finders after it do)."""

    def find_spec(self, name, path=None, target=None):
        if path is not None or name in _seen or not _importing():
            return None  # a submodule, a name seen before, or a question
        _seen.add(name)
        threads = forksafety.thread_count()
        start = time.perf_counter()
        spec = _spec_from_the_others(self, name, target)
        if spec is None or isinstance(spec.loader, fidelity_import_warnings.HeldLoader):
            return spec  # not found (importlib says so), a legacy finder's, or the kernel's: not timed
        record = {"module": name}
        _records.append(record)  # in the order imports start: a package before what it imports
        try:
            spec.__class__ = _timed_class(type(spec))
        except TypeError:  # a spec type that cannot take our subclass: not timed
            return spec
        _timing[id(spec)] = (record, start, threads)
        return spec


def _spec_from_the_others(finder, name, target):
    try:
        after = sys.meta_path[sys.meta_path.index(finder) + 1:]
    except ValueError:
        return None
    for other in after:
        find_spec = getattr(other, "find_spec", None)
        if find_spec is None:
            return None  # a legacy finder: importlib asks it itself, in order
        spec = find_spec(name, None, target)
        if spec is not None:
            return spec
    return None


_timed_classes = {}


def _timed_class(cls):
    """cls (ModuleSpec, usually) with an `_initializing` that notes the end of
    the module's execution, and then gives the spec its own class back."""
    timed = _timed_classes.get(cls)
    if timed is None:
        def get(spec):
            return spec.__dict__.get("_initializing", False)

        def set_(spec, value):
            spec.__dict__["_initializing"] = value
            if not value:
                spec.__class__ = cls
                _finished(spec)

        timed = type(cls.__name__, (cls,), {"_initializing": property(get, set_), "__module__": cls.__module__,
                                            "__qualname__": cls.__qualname__, "__slots__": ()})
        _timed_classes[cls] = timed
    return timed


def _finished(spec):
    record, start, threads = _timing.pop(id(spec), (None, 0, 0))
    if record is None:
        return
    record["seconds"] = round(time.perf_counter() - start, 4)
    if forksafety.thread_count() > threads:
        record["fork_unsafe"] = "started threads when imported"


def start(skip=()):
    """Called as the fork becomes the test process. skip: top-level names
    that must never be preloaded (the rewritable pytest plugins)."""
    if learned._file is None or _finder:
        return
    _seen.update(_NEVER, skip)
    _finder.append(_RecordingFinder())
    sys.meta_path.insert(0, _finder[0])


def finish():
    """At the end of the test process: the third-party records go to the cache."""
    if not _finder:
        return
    try:
        sys.meta_path.remove(_finder.pop())
    except ValueError:  # a test replaced sys.meta_path: ours went with it
        pass
    keep = [r for r in _records if "seconds" in r and r["module"] in sys.modules
            and _third_party(sys.modules[r["module"]])]
    before = STATE.modules_at_start  # None: not a test process child.py set up
    learned.save(keep + (learned.submodules_imported(before, _third_party) if before is not None else []))
