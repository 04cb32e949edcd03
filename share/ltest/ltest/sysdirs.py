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


@functools.lru_cache(maxsize=None)
def installed_top_levels(directory):
    """Top-level module names that installed distributions (a *.dist-info
    or *.egg-info with its list of files) put in directory, a sys.path
    entry: a library (pytest on PYTHONPATH, `pip install --target`), not
    the user's code, wherever it lives."""
    try:
        from importlib.metadata import distributions
        names = set()
        for dist in distributions(path=[directory]):
            for f in dist.files or []:
                top = f.parts[0] if f.parts else ""
                if top and top != ".." and not top.endswith((".dist-info", ".egg-info", ".pth")):
                    names.add(top[:-3] if top.endswith(".py") else top.split(".")[0])
        return frozenset(names)
    except Exception:  # unreadable metadata: nothing counts as installed there
        return frozenset()


def is_installed_library(name, path):
    """Is module name (file path) part of a distribution installed into the
    sys.path entry it was imported from?"""
    parts = name.split(".")
    depth = len(parts) + (1 if os.path.basename(path).startswith("__init__.") else 0)
    entry = path
    for _ in range(depth):
        entry = os.path.dirname(entry)
    return parts[0] in installed_top_levels(entry)


def ipython_shell():
    """The kernel's IPython shell, or None (private_api/ipython_api.py)."""
    from .private_api import ipython_api
    return ipython_api.shell()
