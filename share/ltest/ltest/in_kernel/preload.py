"""Warm the kernel: import the user's fat modules, then pytest and its plugins."""
import importlib
import os
import sys
import time

from . import forksafety
from .. import installed_plugins, learned
from .fidelity_preload import recording
from .result import Reply, remember
from ..sysdirs import is_installed_library, system_dirs

# Top-level names the user asked to preload. Their modules stay warm in a run's
# child; other modules of the user's own code are evicted (see child.py).
_roots = set()
# Those of them that are the user's own code (outside the interpreter's
# prefix and site-packages): evicted in the child all the same, so that a
# test imports one copy of them, assert-rewritten and seen by --cov, as
# plain pytest does; preloading them only warms their third-party imports.
_own_roots = set()
# Top-level names of the installed pytest plugins, dropped after warm-up so that
# pytest rewrites their asserts: never to be preloaded again (learned.py).
rewritable_plugins = set()


def preloaded_roots():
    """The preloaded top-level packages that stay warm in the test process."""
    return _roots - _own_roots


def is_own_package(name, modules=None, system=None):
    """Is the preloaded top-level package `name` the user's own code?"""
    module = (sys.modules if modules is None else modules).get(name)
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return False
    if os.path.realpath(path).startswith(system_dirs() if system is None else system):
        return False
    return not is_installed_library(name, path)  # pytest on PYTHONPATH, pip install --target: a library


def _import_timed(name):
    start = time.perf_counter()
    importlib.import_module(name)
    return {"module": name, "seconds": round(time.perf_counter() - start, 4)}


def _pytest_plugin_modules():
    """pytest's built-in plugins and the installed ones (entry point group pytest11)."""
    from ..private_api import pytest_api
    names = pytest_api.default_plugin_modules()
    try:
        from importlib.metadata import entry_points
        eps = entry_points()
        group = eps.select(group="pytest11") if hasattr(eps, "select") else eps.get("pytest11", [])
        names += [ep.value.split(":")[0] for ep in group]
    except Exception:  # a broken distribution must not stop the warm-up
        pass
    return names


def _forget_rewritable_plugins():
    """The installed plugins' own modules leave sys.modules, so that pytest
    rewrites their asserts (installed_plugins.py); never preloaded again."""
    names = installed_plugins.rewritable_plugin_roots()
    rewritable_plugins.update(names)
    installed_plugins.forget(names)


def watched_roots():
    """The preloaded top-level packages whose upgrade restarts the kernel:
    configured ones (not the user's own) and learned ones the kernel holds."""
    return (_roots - _own_roots) | set(learned.held)


def watched_files(roots, modules=None, system=None):
    """The files whose change makes the server restart the kernel: the
    top-level module of each preloaded library (under the interpreter's
    prefix or a site directory, or installed elsewhere: sysdirs), which an
    upgrade rewrites. A package of the
    user's own is not among them: test processes import it afresh (and a
    prepared spare ahead, project_layer.py), so an edit needs no restart."""
    modules = sys.modules if modules is None else modules
    system = system_dirs() if system is None else system
    files = set()
    for name in roots:
        path = getattr(modules.get(name), "__file__", None)
        if isinstance(path, str):
            real = os.path.realpath(path)
            if real.startswith(system) or is_installed_library(name, path):
                files.add(real)
    return sorted(files)


def _import_pytest_and_plugins():
    import pytest  # noqa: F401
    for name in _pytest_plugin_modules():
        try:
            importlib.import_module(name)
        except Exception:  # pytest itself will report a plugin that cannot load
            pass


def preload(modules):
    """Import each module (an ImportError propagates: the server stops), then
    pytest and its plugins. Returns Reply(preloaded=[{"module", "seconds"}]) in import order.
    modules may be {"modules": [...], "learn": {"project_root", "exclude"}}:
    then the modules learned for that project follow (learned.py)."""
    learn = modules.get("learn") if isinstance(modules, dict) else None
    modules = modules["modules"] if isinstance(modules, dict) else modules
    timings = []
    with recording():  # warnings to replay in runs, packages the preloads use
        for name in modules:
            timings.append(_import_timed(name))
            root = name.split(".")[0]
            _roots.add(root)
            if is_own_package(root):
                _own_roots.add(root)
                timings[-1]["module"] += " (your own package: each run imports it afresh, its imports stay warm)"
    start = time.perf_counter()
    with recording(record_warnings=False):
        _import_pytest_and_plugins()
    _forget_rewritable_plugins()
    timings.append({"module": "pytest+plugins", "seconds": round(time.perf_counter() - start, 4)})
    for t in timings:
        t["source"] = "pytest" if t["module"] == "pytest+plugins" else "configured"
    if learn:
        with recording():  # learned modules' warnings are replayed as the configured ones'
            timings += learned.preload_learned(learn, modules)
    forksafety.mark_baseline()
    from ..private_api import speedups_off  # probed here, once, for the pytest every run will use
    return remember(Reply(preloaded=timings, watch=watched_files(watched_roots()), learned=learned.status() if learn else None,
                          speedups_off=speedups_off()))
