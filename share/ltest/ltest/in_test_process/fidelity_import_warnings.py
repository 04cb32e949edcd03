"""Warnings that preloaded modules emitted when the kernel imported them,
replayed in the test process at the moment plain pytest would have seen them.

Cold, `import legacy` in a test module runs legacy's top level during
collection, under pytest's warning filters: a DeprecationWarning it emits is
in the warnings summary, and `-W error::DeprecationWarning` makes that
collection fail. In the kernel the import happened long before, under
CPython's default filters (DeprecationWarning ignored). So preloading
records every warning (all categories, "always") with the chain of modules
whose top level was running (`importers`: [mypkg, mypkg.legacy]); the test
process re-emits each one (warnings.warn_explicit: same category, message,
file and line) on the first import statement that names one of those
modules or a submodule of one, before that import returns, through an
`__import__` hook that removes itself once nothing is left to replay.
Chosen over evicting such modules: the kernel stays warm (a warning in
torch's import would otherwise cost the whole import in every run), and
the warning appears in the same phase (collection) of the same test module.
"""
import builtins
import sys
import warnings

# (category, message text, filename, lineno, importers, module, at_importer)
# in emission order. at_importer: the warning points at the import statement
# (stacklevel=2 in a module's top level, the usual "this module is
# deprecated"): replayed at the test process's import statement instead.
_recorded = []


def record(category, message, filename, lineno, importers, module=None, at_importer=False):
    _recorded.append((category, str(message), filename, lineno, tuple(importers), module, at_importer))


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


def resolve(name, globals_, level):
    """The absolute module name an import statement asks for."""
    if level <= 0 or not globals_:
        return name
    package = globals_.get("__package__") or globals_.get("__name__", "")
    if level > 1:
        package = package.rsplit(".", level - 1)[0]
    return f"{package}.{name}" if name else package


def triggered_by(names, importers):
    """Would importing `names` in a fresh process run the top level of one of
    importers? Yes if one names one of them or a module below one (its
    parents run first, and each ran the next, as recorded)."""
    return any(name == module or name.startswith(module + ".") for name in names for module in importers)


def imported_names(name, globals_, fromlist, level):
    """What an import statement may import: the module and, for
    `from pkg import x`, pkg.x (a submodule, perhaps)."""
    base = resolve(name, globals_, level)
    return [base] + [f"{base}.{item}" for item in (fromlist or ()) if isinstance(item, str) and item != "*"]


class Replayer:
    """The builtins.__import__ hook of the test process."""

    def __init__(self, pending, original):
        self.pending = list(pending)
        self.original = original

    def __call__(self, name, globals=None, locals=None, fromlist=(), level=0):
        if self.pending:
            wanted = imported_names(name, globals, fromlist, level)
            due = [w for w in self.pending if triggered_by(wanted, w[4])]
            if due:
                self.pending = [w for w in self.pending if w not in due]
                if not self.pending:
                    builtins.__import__ = self.original
                for category, message, filename, lineno, _, module, at_importer in due:
                    if at_importer:  # stacklevel 2: the frame running this import statement
                        warnings.warn(message, category, stacklevel=2)
                    else:
                        warnings.warn_explicit(message, category, filename, lineno, module=module)
        return self.original(name, globals, locals, fromlist, level)


def install_replay():
    """In the test process: replay what preloading recorded, if anything."""
    if _recorded:
        builtins.__import__ = Replayer(_recorded, builtins.__import__)


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
               at_importer=filename != own_file)
