"""Warnings that preloaded modules emitted when the kernel imported them,
replayed in the test process at the import that would have run them.

Cold, `import legacy` in a test module runs legacy's top level during
collection, under pytest's warning filters: a DeprecationWarning it emits is
in the warnings summary, and `-W error::DeprecationWarning` makes that
collection fail. In the kernel the import happened long before, under
CPython's default filters (DeprecationWarning ignored). So preloading
records every warning (all categories, "always") with the chain of modules
whose top level was running (`importers`: [mypkg, mypkg.legacy]).

In the test process the chain's first module and the modules below it are
*held*: out of sys.modules (and the first one out of its parent's
attributes), as in a fresh process before anything imported them. A finder
first in sys.meta_path serves the first import of a held module: it puts
the held modules back (the kernel's objects: nothing runs again), and the
loader re-emits each warning (warnings.warn_explicit: same category,
message, file and line; one that pointed at the import statement, the usual
stacklevel=2, at the statement now importing it) before that import
returns, once. No frame of ours stands between an importer and a module it
imports (a builtins.__import__ hook did), and `"legacy" in sys.modules` is
False until something imports it, as cold. Chosen over evicting such
modules: the kernel stays warm (a warning in torch's import would otherwise
cost the whole import in every run), and the warning appears in the same
phase (collection) of the same test module. A module the test process
imports afresh anyway (the user's own package, evicted) warns itself: its
recorded warnings are not replayed.
"""
import functools
import importlib.machinery
import itertools
import sys
import warnings

# (category, message text, filename, lineno, importers, module, at_importer,
# source) in emission order. at_importer: the warning points at the import
# statement (stacklevel=2 in a module's top level, the usual "this module is
# deprecated"): replayed at the test process's import statement instead.
# source: (file, line, positions) of the module's own statement that warned,
# where a traceback shows the warning raised (under -W error); positions:
# (line, end line, column, end column) of its call, or None.
_recorded = []


# Top-level packages held although nothing warned: the kernel's own imports
# that a cold pytest does not make and no preload holds (fidelity_preload).
_unimported = set()


def hold_unimported(names):
    _unimported.update(names)


def keep_imported(names):
    _unimported.difference_update(names)


def record(category, message, filename, lineno, importers, module=None, at_importer=False, source=None):
    _recorded.append((category, str(message), filename, lineno, tuple(importers), module, at_importer,
                      source or (filename, lineno)))


def module_of(filename, modules):
    """The name warnings.warn would match filters against: the module of the
    warning's file (None: warn_explicit derives it from the file name)."""
    for name, module in list(modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return None


def recorded():
    return list(_recorded)


def importing_modules(frame):
    """Names of the modules whose top level is running, outermost first: the
    chain of imports that led to this frame (ltest's own frames skipped)."""
    names = []
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            name = frame.f_globals.get("__name__")
            if isinstance(name, str) and name != "__main__" and not name.startswith("ltest"):
                names.append(name)
        frame = frame.f_back
    return names[::-1]


def held_trees(roots, names):
    """{root: the names under it (itself included)}, each name in the tree of
    its nearest held root (a root below another is held on its own)."""
    trees = {root: [] for root in roots}
    for name in names:
        best = None
        for root in roots:
            if (name == root or name.startswith(root + ".")) and (best is None or len(root) > len(best)):
                best = root
        if best is not None:
            trees[best].append(name)
    return trees


# {"size": len(sys.modules), "names": names under any chain's module} as the
# kernel computed it before the fork.
_planned = {}


def _chain_names():
    return sorted({name for w in _recorded for name in w[4]} | _unimported)


def under(names, candidates):
    """The names that are one of candidates or below one."""
    prefixes = tuple(c + "." for c in candidates)
    wanted = set(candidates)
    return [n for n in names if n in wanted or n.startswith(prefixes)]


def plan():
    """In the kernel before a fork: the modules that may be held (scanning
    sys.modules in the child would write every key's reference count)."""
    if (_recorded or _unimported) and _planned.get("size") != len(sys.modules):
        _planned.update(size=len(sys.modules), names=under(list(sys.modules), _chain_names()))


def _is_importlib(frame):
    filename = frame.f_code.co_filename
    return "importlib" in filename and "_bootstrap" in filename  # as warnings skips them


def importer_frame(frame):
    """The first frame outside importlib from frame outwards: the import
    statement's (warnings.warn's stacklevel skips importlib's frames too)."""
    while frame is not None and _is_importlib(frame):
        frame = frame.f_back
    return frame


def warn_at(frame, message, category):
    """warnings.warn_explicit's arguments for warnings.warn(message, category)
    as if called by the code running in frame: its file, line, module name
    and registry."""
    globals_ = frame.f_globals
    registry = globals_.setdefault("__warningregistry__", {})
    return functools.partial(warnings.warn_explicit, message, category, frame.f_code.co_filename, frame.f_lineno,
                             module=globals_.get("__name__", "<string>"), registry=registry,
                             module_globals=globals_)


def _raised_at(source, module_name):
    """A code object that, run, calls its `warn` at the line of source (file,
    line, positions): a traceback (a warning turned error) shows the module's
    own statement, as cold, with no frame of ours (warn is a C partial)."""
    filename, lineno = source[:2]
    return compile(_call_spanning(lineno, source[2] if len(source) > 2 else None), filename, "exec"), \
        {"__name__": module_name}


def _call_spanning(lineno, positions):
    """Source of a `warn(...)` call at lineno spanning positions (line, end
    line, column, end column), the warning call's own: Python 3.11's positions
    in a traceback (pytest 9 underlines them with ^ unless they cover the
    whole line) are then cold's. A bare `warn()` where they are unknown."""
    line, end_line, col, end_col = positions if positions and None not in positions else (lineno, lineno, 0, 6)
    if line != lineno or end_line < line or (end_line == line and end_col - col < 6):
        line, end_line, col, end_col = lineno, lineno, 0, 6
    # A statement indented in the module's top level (under an if or a try)
    # is compiled under an `if 1:` of the line before.
    head = "\n" * (line - 2) + "if 1:\n" + " " * col if col and line > 1 else "\n" * (line - 1)
    if end_line == line:
        return head + "warn(" + " " * (end_col - col - 6) + ")"
    return head + "warn(" + "\n" * (end_line - line) + " " * max(0, end_col - 1) + ")"


def _call_with_frames_removed(f, *args, **kwds):
    """importlib's own marker: CPython cuts an import's traceback of the
    importlib frames up to and including a function of this name."""
    return f(*args, **kwds)


class HeldLoader:
    """Gives back a held module (create_module) and replays its tree's
    warnings (exec_module): nothing of the module runs again."""

    def __init__(self, finder, root):
        self.finder, self.root = finder, root

    def create_module(self, spec):
        return self.finder.release(self.root)

    def exec_module(self, module):
        held = self.finder.original_specs.pop(self.root, None)
        if held is not None:
            module.__spec__ = held  # module_from_spec gave it ours
        frame = importer_frame(sys._getframe(1))
        for category, message, filename, lineno, importers, name, at_importer, source in \
                self.finder.warnings.pop(self.root, ()):
            if at_importer and frame is not None:
                warn = warn_at(frame, message, category)
            else:
                warn = functools.partial(warnings.warn_explicit, message, category, filename, lineno, module=name)
            code, globals_ = _raised_at(source, importers[-1])
            globals_["warn"] = warn
            _call_with_frames_removed(exec, code, globals_)


# Our loader's frames are import machinery: named as importlib's, warnings'
# stacklevel skips them and CPython trims them from an import's traceback,
# as it does importlib's own (a warning turned error shows the test's import
# statement, then the module's line that warned, as cold).
for _function in (HeldLoader.exec_module, _call_with_frames_removed):
    _function.__code__ = _function.__code__.replace(co_filename="<frozen importlib._bootstrap_external>")


class HeldFinder:
    """First in sys.meta_path while modules are held: finds a held root
    (its first import), nothing else; removes itself when none is left."""

    def __init__(self, trees, pending, modules):
        self.modules = modules
        self.held = {}           # root: {name: module}
        self.parents = {}        # root: (parent module, attribute name, value)
        self.original_specs = {}
        self.warnings = {}       # root: its chains' warnings, in emission order
        for root, names in trees.items():
            module = modules.get(root)
            if module is None:
                continue
            self.held[root] = {name: modules.pop(name) for name in names if name in modules}
            self.original_specs[root] = getattr(module, "__spec__", None)
            parent, _, attribute = root.rpartition(".")
            if parent and getattr(modules.get(parent), attribute, None) is module:
                self.parents[root] = (modules[parent], attribute)
                delattr(modules[parent], attribute)  # importlib sets it again when the root is imported
        for w in pending:
            if w[4] and w[4][0] in self.held:
                self.warnings.setdefault(w[4][0], []).append(w)

    def find_spec(self, name, path=None, target=None):
        if name not in self.held:
            return None
        original = self.original_specs.get(name)
        return importlib.machinery.ModuleSpec(
            name, HeldLoader(self, name), origin=getattr(original, "origin", None),
            is_package=getattr(original, "submodule_search_locations", None) is not None)

    def release(self, root):
        """The held tree back in sys.modules, but its root, which importlib
        puts there itself; the root module."""
        tree = self.held.pop(root)
        self.parents.pop(root, None)
        module = tree.pop(root)
        for name, held in tree.items():
            self.modules.setdefault(name, held)
        if not self.held:
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
        return module


def still_held(pending, modules):
    """The warnings worth replaying, each with the first module of its chain
    that the test process holds (its root: the import that would run it).
    A module it dropped (the user's own, a checkout's) is imported afresh and
    warns itself; its warning replayed as well would be counted twice; one
    that such a module imports is the root of the rest of the chain."""
    kept = []
    for w in pending:
        if w[4] and w[4][-1] in modules:
            root = next(name for name in w[4] if name in modules)
            kept.append(w[:4] + ((root,) + w[4][w[4].index(root) + 1:],) + w[5:])
    return kept


def install_replay(modules=None):
    """In the test process: holds the modules whose import warned, and the
    kernel's own imports a cold run would not have, if any."""
    modules = sys.modules if modules is None else modules
    pending = still_held(_recorded, modules)
    roots = sorted({w[4][0] for w in pending} | {name for name in _unimported if name in modules})
    if not roots:
        return None
    names = _planned["names"] if "names" in _planned else list(modules)  # planned before our fork
    trees = held_trees(roots, under(names, roots))
    finder = HeldFinder(trees, pending, modules)
    if finder.held:
        sys.meta_path.insert(0, finder)
    return finder


def kernel_only(importers):
    """A warning raised while a module of the Jupyter stack, or one choosing
    between notebook and terminal (tqdm.autonotebook), was importing: it is
    there because of the kernel, and a cold run would not see it."""
    from .fidelity_jupyter import JUPYTER_STACK, NOTEBOOK_CHOICES
    return any(m.partition(".")[0] in JUPYTER_STACK or m in NOTEBOOK_CHOICES for m in importers)


def showwarning_recorder(message, category, filename, lineno, file=None, line=None):
    """warnings.showwarning while preloading: record instead of printing."""
    importers = importing_modules(sys._getframe(1))
    if importers and not kernel_only(importers):  # a warning from a thread or a callback is no import's
        own_file = getattr(sys.modules.get(importers[-1]), "__file__", None)
        record(category, message, filename, lineno, importers, module_of(filename, sys.modules),
               at_importer=filename != own_file, source=_statement_of(sys._getframe(1), importers[-1]))


def _statement_of(frame, name):
    """(file, line, positions) that the top level of module `name` is running."""
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == name:
            return frame.f_code.co_filename, frame.f_lineno, _positions(frame)
        frame = frame.f_back
    return None


def _positions(frame):
    """(line, end line, column, end column) of the instruction frame runs
    (Python 3.11 on: one entry per 2-byte code unit), or None."""
    try:
        return next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None))
    except (AttributeError, StopIteration):
        return None
