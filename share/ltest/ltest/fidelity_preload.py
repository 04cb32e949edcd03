"""What preloading records for the test process's fidelity.

While the kernel imports the modules the user asked for, it notes the
top-level packages they import (the Jupyter stack's packages among them
must stay in the test process: fidelity_jupyter.py) and the warnings they
emit (replayed later: fidelity_import_warnings.py).
"""
import builtins
import contextlib
import warnings

from . import fidelity_import_warnings, fidelity_jupyter


@contextlib.contextmanager
def recording(record_warnings=True):
    """Around imports in the kernel: every import statement's package is
    noted; with record_warnings, every warning is recorded instead of shown.
    Filters the imported modules add stay, as without this."""
    original_import = builtins.__import__
    names = set()

    def noting_import(name, globals=None, locals=None, fromlist=(), level=0):
        # The kernel keeps serving (iopub, its event loop) meanwhile: its
        # own imports are not the preloads'.
        importer = str((globals or {}).get("__name__") or "").partition(".")[0]
        if level == 0 and importer not in fidelity_jupyter.JUPYTER_STACK:
            names.add(name.partition(".")[0])
        return original_import(name, globals, locals, fromlist, level)

    added = []
    with warnings.catch_warnings():
        if record_warnings:
            warnings.simplefilter("always")
            warnings.showwarning = fidelity_import_warnings.showwarning_recorder
        ours = list(warnings.filters)
        builtins.__import__ = noting_import
        try:
            yield names
        finally:
            builtins.__import__ = original_import
            added = [f for f in warnings.filters if f not in ours]
    warnings.filters[:0] = added
    getattr(warnings, "_filters_mutated", lambda: None)()
    fidelity_jupyter.note_used_by_preloads(names)
