"""What preloading records for the test process's fidelity.

While the kernel imports the modules the user asked for, it records the
warnings they emit (replayed later: fidelity_import_warnings.py); after,
it notes which of the Jupyter stack's packages the new modules hold (those
must stay in the test process: fidelity_jupyter.py).
"""
import contextlib
import sys
import types
import warnings

from ..in_test_process import fidelity_import_warnings, fidelity_jupyter

# Libraries the Jupyter stack imports that a cold pytest does not, with
# extension modules (which a faulthandler dump lists): held out of the test
# process's sys.modules until something imports them, unless a preload
# holds them (fidelity_import_warnings serves them back at the import).
KERNEL_ONLY_LIBRARIES = ("psutil",)
fidelity_import_warnings.hold_unimported(name for name in KERNEL_ONLY_LIBRARIES if name in sys.modules)


@contextlib.contextmanager
def recording(record_warnings=True):
    """Around imports in the kernel. With record_warnings, every warning is
    recorded instead of shown. Filters the imported modules add stay, as
    without this."""
    before = set(sys.modules)
    added = []
    with warnings.catch_warnings():
        if record_warnings:
            warnings.simplefilter("always")
            warnings.showwarning = fidelity_import_warnings.showwarning_recorder
        ours = list(warnings.filters)
        try:
            yield
        finally:
            added = [f for f in warnings.filters if f not in ours]
    warnings.filters[:0] = added
    getattr(warnings, "_filters_mutated", lambda: None)()
    new = [sys.modules[name] for name in set(sys.modules) - before if name in sys.modules]
    fidelity_jupyter.note_used_by_preloads(stack_packages_held(new))
    fidelity_import_warnings.keep_imported(packages_held(new, KERNEL_ONLY_LIBRARIES))


def packages_held(modules, roots):
    """Those of the top-level names `roots` whose modules these modules hold
    as a global (a module, or a class or function defined in one)."""
    held = set()
    for module in modules:
        for value in list(getattr(module, "__dict__", {}).values()):
            name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(name, str) and name.partition(".")[0] in roots:
                held.add(name.partition(".")[0])
    return held


def stack_packages_held(modules):
    """The Jupyter stack's top-level packages if these modules hold one of
    them as a global (a module, or a class or function defined in one): all
    of them, since the held one needs the rest as one consistent copy.
    Modules that are dropped in the test process anyway do not count."""
    held = set()
    for module in modules:
        name = str(getattr(module, "__name__", ""))
        if (name.partition(".")[0] in fidelity_jupyter.JUPYTER_STACK or name in fidelity_jupyter.NOTEBOOK_CHOICES
                or name == "__main__"):  # the shell's namespace holds IPython's builtins
            continue  # the stack's own modules, imported while the kernel served meanwhile
        for value in list(getattr(module, "__dict__", {}).values()):
            # getattr with a default, for modules too: a lazy loader that is a
            # ModuleType (TensorFlow's keras one) raises AttributeError for __name__.
            try:
                name = getattr(value, "__name__" if isinstance(value, types.ModuleType) else "__module__", None)
                # An instance of a stack class, its __module__ its class's, holds no module of
                # the stack: the kernel's sys.stdout (an ipykernel OutStream) that sympy 1.14's
                # strategies.core took at import (`from sys import stdout`) kept the whole stack
                # in every test process.
                if not isinstance(value, (types.ModuleType, type)) and name == type(value).__module__:
                    name = None
            except Exception:  # a __getattr__ that raises something else: not the stack's
                name = None
            if isinstance(name, str):
                root = name.partition(".")[0]
                if root in fidelity_jupyter.JUPYTER_STACK:
                    held.add(root)
    return set(fidelity_jupyter.JUPYTER_STACK) if held else held
