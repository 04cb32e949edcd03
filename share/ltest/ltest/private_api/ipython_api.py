"""IPython's internals, as ltest uses them; the place for every reach into
IPython: the kernel's shell (sysdirs.ipython_shell goes through it), and,
for child.py, the builtins a running cell installed (`builtin_trap`) and the
shell singleton forgotten (`InteractiveShell.clear_instance`). magic.py's
`register_magic_function` and `displayhook.prompt_count`, and spare.py's
`execution_count`, are IPython's public API and stay where they are. Probed once per process; what fails is
reported as a speed-up off (see __init__.py)."""
import functools
import sys


@functools.lru_cache(maxsize=None)
def _probe_shell():
    module = sys.modules.get("IPython.core.interactiveshell")
    if module is None:
        return None  # not in a kernel: nothing to probe, nothing used
    cls = getattr(module, "InteractiveShell", None)
    if cls is None or not callable(getattr(cls, "initialized", None)) or not callable(getattr(cls, "instance", None)):
        version = getattr(sys.modules.get("IPython"), "__version__", "?")
        return f"IPython {version}'s InteractiveShell has no instance()/initialized()"
    return None


def shell():
    """The kernel's IPython shell, or None (not in a kernel, or not the
    IPython probed). Unlike the get_ipython builtin, which IPython defines
    only while a cell runs, this works anywhere (an event-loop callback, a
    fork made from one)."""
    if _probe_shell() is not None:
        return None
    module = sys.modules.get("IPython.core.interactiveshell")
    cls = getattr(module, "InteractiveShell", None)
    return cls.instance() if cls is not None and cls.initialized() else None


def leave_cell(shell):
    """The builtins the running cell installed (IPython's builtin_trap) are
    removed: the cell that forked this process never ends here."""
    trap = getattr(shell, "builtin_trap", None)
    if trap is not None:
        try:
            trap.deactivate()
        except Exception:
            pass


def forget_shell():
    """The InteractiveShell singleton is forgotten: IPython.get_ipython() is
    None, as in a plain python."""
    cls = getattr(sys.modules.get("IPython.core.interactiveshell"), "InteractiveShell", None)
    if cls is not None:
        try:
            cls.clear_instance()
        except Exception:
            pass


def probe_all():
    return {"the kernel's IPython shell (results announced early, spare freshness)": _probe_shell()}
