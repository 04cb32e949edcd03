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

from . import fidelity_import_warnings, fidelity_jupyter


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


def stack_packages_held(modules):
    """Top-level packages of the Jupyter stack that these modules hold as
    globals: a module, or a class or function defined in one."""
    held = set()
    for module in modules:
        if str(getattr(module, "__name__", "")).partition(".")[0] in fidelity_jupyter.JUPYTER_STACK:
            continue  # the stack's own modules, imported while the kernel served meanwhile
        for value in list(getattr(module, "__dict__", {}).values()):
            name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            if isinstance(name, str):
                root = name.partition(".")[0]
                if root in fidelity_jupyter.JUPYTER_STACK:
                    held.add(root)
    return held
