"""Preloads learned from the test runs.

A test process records the third-party modules it imported that the kernel
did not hold (import_record.py); this module keeps them in the user's cache
directory, one file per project root and interpreter, and imports the costly
ones into the next kernel for that project. Kept: $XDG_CACHE_HOME/ltest/
(else ~/.cache/ltest/) <sha256(root, interpreter)[:16]>.json, mode 0600,
written whole to a temporary file and renamed over the old one:

    {"version": 1, "project_root": "/abs", "python": "/usr/bin/python3",
     "modules": [{"module": "sklearn", "seconds": 0.61}, {"module": "x",
                  "seconds": 0.2, "failed": "ImportError: ..."}, ...]}

A module that failed to import in the kernel, or that started threads there
or in a test process (forking would then be unsafe), is marked and skipped.
A bad or unwritable file is one warning, never a failure.
"""
import hashlib
import importlib
import json
import os
import sys
import tempfile
import time

from .in_kernel import forksafety
from .wire_text import from_wire_text

# Learned modules that cost less than this to import are not worth a preload.
THRESHOLD_SECONDS = 0.05

_file = None      # this kernel's cache file; None: not learning (attached kernel, unwritable)
_project = None   # the project root it belongs to
settings = {}     # the server's learn settings ({"project_root", "exclude"})
warnings = []     # what went wrong with the file, for the server's log and --status
held = []         # the learned modules this kernel imported, in order


def cache_dir(env=os.environ):
    xdg = env.get("XDG_CACHE_HOME", "")
    base = xdg if os.path.isabs(xdg) else os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ltest")


def cache_file(project_root, python=sys.executable, env=os.environ):
    digest = hashlib.sha256(os.fsencode(project_root) + b"\0" + os.fsencode(python)).hexdigest()[:16]
    return os.path.join(cache_dir(env), digest + ".json")


def read(path):
    """(entries, warning): the file's module entries in order; a missing file
    is empty, a bad one is empty with a warning naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        entries = doc["modules"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("module"), str)
                                                    and isinstance(e.get("seconds", 0), (int, float))
                                                    for e in entries):
            raise ValueError("'modules' is not a list of {module, seconds}")
        return entries, None
    except (FileNotFoundError, NotADirectoryError):  # nothing learned yet (or no cache dir: see _writable)
        return [], None
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [], f"ignoring the learned preloads in {path}: {e}"


def merge(old, new):
    """Entries of `old` updated by `new` (same module: the newer facts; the
    submodules: both lists, in order), then new modules in the order the
    test process first imported them."""
    by_name = {e["module"]: dict(e) for e in old}
    order = [e["module"] for e in old]
    for e in new:
        if e["module"] not in by_name:
            order.append(e["module"])
        known = by_name.get(e["module"], {})
        merged = dict(known, **e)
        if "submodules" in known or "submodules" in e:
            subs = list(known.get("submodules", []))
            subs += [m for m in e.get("submodules", []) if m not in subs]
            merged["submodules"] = subs[:MAX_SUBMODULES]
        by_name[e["module"]] = merged
    return [by_name[name] for name in order]


# At most this many submodules are kept per learned module.
MAX_SUBMODULES = 400
_TEST_PARTS = ("tests", "test", "testing", "conftest")


def _test_like(name):
    """Test modules and their helpers: pytest imports them itself (rewritten)."""
    return any(part in _TEST_PARTS or part.startswith("test_") or part.endswith("_test")
               for part in name.split(".")[1:])


def submodules_imported(before, third_party, modules=None):
    """In a test process at its end: per third-party top-level package, the
    submodules the run imported that the kernel did not hold (not test
    modules, nor anything pytest's rewriting loader imported), as entries
    {"module": top, "submodules": [...]} for save(). The kernel imports them
    with the package (import_learned): a run that imports
    sklearn.linear_model finds it warm, not only sklearn."""
    from .in_test_process.rewrite_ahead import came_through_rewriting
    modules = sys.modules if modules is None else modules
    by_top = {}
    for name, module in list(modules.items()):
        top = name.partition(".")[0]
        if name in before or top == name or module is None or _test_like(name):
            continue
        if came_through_rewriting(module) or not third_party(module):
            continue
        by_top.setdefault(top, []).append(name)
    return [{"module": top, "submodules": names[:MAX_SUBMODULES]} for top, names in by_top.items()]


def write(path, project_root, entries):
    """Atomically (temporary file in the same directory, then rename), owner only."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".learned-", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "project_root": project_root, "python": sys.executable, "modules": entries},
                      f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def candidates(entries, exclude=(), configured=(), threshold=THRESHOLD_SECONDS):
    """Names worth preloading, in import order: costly, never failed or
    fork-unsafe, not excluded, not already asked for by the user."""
    skip = set(exclude) | {m.split(".")[0] for m in configured}
    return [e["module"] for e in entries
            if e.get("seconds", 0) > threshold and not e.get("failed") and not e.get("fork_unsafe")
            and e["module"] not in skip]


def _writable(path):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".learned-", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)


def _import_checked(name, submodules=()):
    """Imports name, then the submodules the runs imported with it (one that
    fails is left to the runs); (seconds, facts to record when it must be
    skipped next time)."""
    threads = forksafety.thread_count()
    start = time.perf_counter()
    try:
        importlib.import_module(name)
    except Exception as e:
        return None, {"failed": f"{type(e).__name__}: {e}"}
    for sub in submodules:
        try:
            importlib.import_module(sub)
        except Exception:
            pass
    seconds = round(time.perf_counter() - start, 4)
    if forksafety.thread_count() > threads:
        return seconds, {"fork_unsafe": "started threads in the kernel"}
    return seconds, {}


def preload_learned(learn_settings, configured):
    """In the kernel at start: sets up learning for settings["project_root"]
    and imports the learned modules worth it. Returns their timings
    ({"module", "seconds", "source": "learned"})."""
    global _file, _project, settings
    settings = dict(learn_settings)
    _project = settings["project_root"] = from_wire_text(settings["project_root"])  # its bytes (wire_text.py)
    path = cache_file(_project)
    entries, warning = read(path)
    try:
        _writable(path)
        _file = path
    except OSError as e:
        unwritable = f"cannot keep learned preloads in {os.path.dirname(path)}: {e.strerror or e}"
        warning = f"{warning}; {unwritable}" if warning else unwritable  # still one warning
    if warning:
        warnings.append(warning)
    timings = []
    subs = {e["module"]: e.get("submodules", []) for e in entries}
    for name in candidates(entries, settings.get("exclude", ()), configured):
        if name in sys.modules:
            continue
        timing = import_learned(name, subs.get(name, []))
        if timing is not None:
            timings.append(timing)
    return timings


def import_learned(name, submodules=()):
    """Imports a learned module into the kernel (at start, or while idle:
    in_kernel/learn_idle.py); its timing {"module", "seconds", "source"},
    or None when it failed. A failure or started threads are kept in the
    file: the module is skipped from then on."""
    from .in_kernel.fidelity_preload import recording
    with recording():  # as a configured preload: its warnings are replayed in runs
        seconds, facts = _import_checked(name, submodules)
    if facts:
        warnings.append(f"learned preload {name}: {next(iter(facts.values()))}; skipped from now on")
        if _file:
            save([dict(facts, module=name)])
    if seconds is None:
        return None
    if name not in held:
        held.append(name)
    return {"module": name, "seconds": seconds, "source": "learned"}


def status():
    """What --status shows about learning: the file, what it holds (each
    entry with "held": does the kernel hold that module now), warnings."""
    entries = read(_file)[0] if _file else []
    # The submodules as a count: the list can be long (the file has it).
    return {"file": _file, "modules": [dict(e, held=e["module"] in sys.modules,
                                            **({"submodules": len(e["submodules"])} if "submodules" in e else {}))
                                       for e in entries],
            "held": list(held), "warnings": list(warnings)}


def save(new_entries):
    """Merges new facts into this kernel's file (a bad file is replaced).
    Errors are swallowed: the kernel warned about an unusable file when it started."""
    if not _file or not new_entries:
        return
    old = read(_file)[0]
    known = {e["module"]: e for e in old}
    # A module the kernel lacks is imported again by every test process: write
    # only what is news (a new module, a new failure or fork-unsafety).
    # Submodules only add to a module already learned (or learned by this run).
    learning = {e["module"] for e in new_entries if "seconds" in e} | set(known)
    new_entries = [e for e in new_entries if "seconds" in e or e["module"] in learning]
    news = [e for e in new_entries if e["module"] not in known
            or any(k not in known[e["module"]] for k in ("failed", "fork_unsafe") if k in e)
            or any(m not in known[e["module"]].get("submodules", []) for m in e.get("submodules", []))]
    if not news:
        return
    try:
        write(_file, _project, merge(old, news))
    except OSError:
        pass
