"""Facts about the process the runtime runs in: where the interpreter's own
modules live (as opposed to the user's code), and the IPython shell, if any."""
import functools
import os
import site
import sys


@functools.lru_cache(maxsize=None)
def system_dirs():
    """Real paths (with a trailing separator) of the prefixes and site-packages."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # site without these (virtualenv's old site.py)
        pass
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


def ipython_shell():
    """The kernel's IPython shell, or None. Unlike the get_ipython builtin,
    which IPython defines only while a cell runs, this works anywhere (an
    event-loop callback, a fork made from one)."""
    module = sys.modules.get("IPython.core.interactiveshell")
    cls = getattr(module, "InteractiveShell", None)
    return cls.instance() if cls is not None and cls.initialized() else None
