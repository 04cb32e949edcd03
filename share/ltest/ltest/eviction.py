"""Which modules a test process drops: the user's own code, so that tests
import the files on disk, never a copy a notebook imported earlier.

The kernel classifies its modules before each fork (`warm_module_cache`): a
fork then neither realpath()s nor even touches a thousand preloaded module
objects (getattr on each would also copy their pages) on every run; the
fork, whose sys.modules is that very dict, deletes the planned names.
"""
import os
import sys

from . import sysdirs
from .state import STATE




def _is_user_code(name, module, system_dirs):
    if name == "ltest" or name.startswith("ltest.") or name in ("sitecustomize", "usercustomize"):
        return False  # sitecustomize: site.py imports it at start, in a plain python too
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or os.path.realpath(path).startswith(system_dirs):
        return False
    # Installed outside the site directories (pytest on PYTHONPATH): a library.
    # Dropped, it would come back as a second copy beside the one the kernel's
    # plugins hold.
    return not sysdirs.is_installed_library(name, path)


def modules_to_evict(modules, keep_roots, system_dirs=None):
    """Names of modules of the user's own code: a file outside the interpreter's
    prefix and site-packages, and not under a preloaded top-level package.
    The child drops them so that tests import the files on disk, never a copy
    a notebook imported earlier."""
    cached = system_dirs is None  # explicit dirs (tests) bypass the cache
    if cached:
        system_dirs = sysdirs.system_dirs()
    out = []
    for name, module in list(modules.items()):
        known = STATE.module_kind.get(name) if cached else None
        if known is not None and known[0] == id(module):
            mine = known[1]
        else:
            mine = _is_user_code(name, module, system_dirs)
            if cached:
                STATE.module_kind[name] = (id(module), mine)
        if mine and name.split(".")[0] not in keep_roots:
            out.append(name)
    return out


def warm_module_cache(keep_roots):
    """Classifies the kernel's modules now, in the kernel, for the next child."""
    STATE.planned_eviction = (len(sys.modules), modules_to_evict(sys.modules, keep_roots))


def plan_eviction_of_new_modules(modules_before, keep_roots):
    """A spare imported modules after the kernel made its plan (its practice
    run): the user's code among them joins the plan, which then matches the
    grown sys.modules again. A plan already stale stays stale (full scan)."""
    planned = STATE.planned_eviction
    if planned is None or planned[0] != len(modules_before):
        return
    new = {name: sys.modules[name] for name in set(sys.modules) - modules_before}
    STATE.planned_eviction = (len(sys.modules), planned[1] + modules_to_evict(new, keep_roots))


def planned_or_scanned(keep_roots):
    """The user's modules to drop from this fork: the kernel's plan if
    sys.modules is still the one it classified, else a scan."""
    planned = STATE.planned_eviction
    if planned is not None and planned[0] == len(sys.modules):
        return planned[1]
    return modules_to_evict(sys.modules, keep_roots)
