"""The project's own modules a prepared spare imports ahead: the layer above
the libraries.

The kernel holds the libraries (torch, sklearn); the user's own code is
evicted from every test process so that the files on disk are tested. For a
project whose own package takes a second to import, that second is paid by
every run. So each run records, at its end, the user modules it imported
that are neither test modules nor conftest files (pytest imports those
itself, rewritten, at collection), and the next prepared spare imports them
from the files on disk, after pytest is configured (coverage started,
assertion rewriting installed) as in the run. The files they came from are
watched (file_watch.py): an edit drops that spare and a new one imports the
new code.

Ahead, compiled code comes from a cache in the kernel's practice directory,
keyed by each file's path and contents (never its mtime): with
PYTHONDONTWRITEBYTECODE set, a project's modules are otherwise compiled from
source on every import, and that is most of a large package's import time.
So after an edit, the next spare compiles the edited file only.

An import that would not come out the same ahead is not done ahead: one that
warns (pytest would list the warning, `-W error` would fail collection),
writes output, or fails. The spare then gives up its preparation and the
layer is forgotten for that directory, so the next spare prepares pytest
alone.
"""
import contextlib
import fnmatch
import hashlib
import importlib
import json
import marshal
import os
import sys
import tempfile
import warnings

from .. import eviction
from . import rewrite_ahead

_DEFAULT_PYTHON_FILES = ("test_*.py", "*_test.py")


def record_path(directory, cwd):
    """Where the layer of runs from cwd is kept: in the kernel's practice
    directory (owner-only, removed with the kernel)."""
    digest = hashlib.sha1(os.fsencode(cwd)).hexdigest()[:16]
    return os.path.join(directory, f"layer-{digest}.json")


def _is_test_or_conftest(name, module, python_files):
    """pytest imports these itself: test modules and conftest files (and
    plugins marked for rewriting) come through its rewriting loader."""
    if rewrite_ahead.came_through_rewriting(module):
        return True
    base = os.path.basename(getattr(module, "__file__", "") or "")
    return name.rpartition(".")[2] == "conftest" or any(fnmatch.fnmatch(base, p) for p in python_files)


def modules_to_record(before, modules, keep_roots, python_files=_DEFAULT_PYTHON_FILES):
    """[name, file] of the user's modules in modules that were not in
    before, in import order, minus test modules and conftest files."""
    new = {name: modules[name] for name in modules if name not in before}
    mine = set(eviction.modules_to_evict(new, keep_roots))
    return [[name, os.path.realpath(new[name].__file__)] for name in new
            if name in mine and not _is_test_or_conftest(name, new[name], python_files)]


def record(directory, cwd, before, keep_roots):
    """At the end of a run: what it added to the layer of runs from cwd, and
    the files pytest's rewriting loader imported (rewrite_ahead.py)."""
    if directory is None or before is None or not os.path.isdir(directory):
        return
    new = [module for name, module in list(sys.modules.items()) if name not in before]
    save(record_path(directory, cwd), modules_to_record(before, sys.modules, keep_roots),
         rewrite_ahead.rewritten_files(new))


def save(path, names, rewritten=()):
    """Writes the layer atomically (a spare may be reading the last one)."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".layer-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"modules": names, "rewritten": list(rewritten)}, f)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def load(path):
    """The layer's [name, file] pairs; [] for a missing or garbled record."""
    entries = _load(path).get("modules")
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e)]


def load_rewritten(path):
    """The files the last run's rewriting loader imported; [] if none is known."""
    entries = _load(path).get("rewritten")
    return [e for e in entries if isinstance(e, str)] if isinstance(entries, list) else []


def _load(path):
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def importable_now(entries):
    """The names of entries that an import here and now would take from the
    same file as the run did. A module the run found through a path only the
    collection added (a test directory's helpers, in pytest's prepend import
    mode), or another file of the same name, is left to the run, with the
    modules under it."""
    import importlib.util
    names, taken, skipped = [], set(), set()
    for name, path in entries:
        parent = name.rpartition(".")[0]
        if parent in taken:  # found through its parent's __path__, and the layer imports the parent first
            names.append(name)
            taken.add(name)
            continue
        if parent in skipped or (parent and parent not in sys.modules):  # finding it would import the parent
            skipped.add(name)
            continue
        try:
            origin = getattr(importlib.util.find_spec(name), "origin", None)
        except (ImportError, ValueError):
            origin = None
        if isinstance(origin, str) and os.path.realpath(origin) == path:
            names.append(name)
            taken.add(name)
        else:
            skipped.add(name)
    return names


def import_ahead(names, output_fds, code_cache=None):
    """Imports names; True if it came out as it would in the run: no warning,
    no output on output_fds (the spare's placeholder files), no exception.
    False: the process is not fit for the run (a half-imported layer).
    code_cache: a directory for the compiled code of the modules' sources."""
    sizes = [os.fstat(fd).st_size for fd in output_fds]
    before = list(warnings.filters)
    try:
        with warnings.catch_warnings(record=True) as caught, _cached_compiles(code_cache):
            warnings.simplefilter("always")
            marker = warnings.filters[0]
            for name in names:
                importlib.import_module(name)
            inside = list(warnings.filters)
    except BaseException:
        return False
    _keep_added_filters(before, inside, marker)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return not caught and sizes == [os.fstat(fd).st_size for fd in output_fds]


def _keep_added_filters(before, inside, marker):
    """catch_warnings() puts the filters back as they were; filters the
    imported modules added (at the front, or appended) stay, as without it."""
    at = inside.index(marker) if marker in inside else 0
    front = [f for f in inside[:at] if f not in before]
    end = [f for f in inside[at + 1:] if f not in before]
    if front or end:
        warnings.filters[:0] = front
        warnings.filters.extend(end)
        getattr(warnings, "_filters_mutated", lambda: None)()


@contextlib.contextmanager
def _cached_compiles(directory):
    """SourceFileLoader.source_to_code, through a cache of marshalled code
    objects in directory, for the time of the preparation's imports only."""
    from importlib.machinery import SourceFileLoader
    if directory is None:
        yield
        return
    os.makedirs(directory, mode=0o700, exist_ok=True)
    original = SourceFileLoader.source_to_code

    def source_to_code(loader, data, path, *, _optimize=-1):
        key = hashlib.sha1(os.fsencode(str(path)) + b"\0" + bytes(data)).hexdigest()
        cached = os.path.join(directory, key)
        try:
            with open(cached, "rb") as f:
                return marshal.load(f)
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = original(loader, data, path, _optimize=_optimize)
        _write_atomically(cached, marshal.dumps(code))
        return code

    SourceFileLoader.source_to_code = source_to_code
    try:
        yield
    finally:
        SourceFileLoader.source_to_code = original


def _write_atomically(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".code-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
