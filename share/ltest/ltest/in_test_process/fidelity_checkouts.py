"""A checkout in the client's tree that shadows a module the kernel imported.

`python -m pytest` puts the cwd (and $PYTHONPATH) before site-packages, so
a project holding its own `dateutil/` imports that one even though pandas
would bring the installed copy. The kernel imported the installed copy long
ago; the test process drops it (with its submodules) so that the test
imports the checkout. Preloaded modules that imported the installed copy
keep it (a fresh process would have given them the checkout): said in
docs/design.md. Modules ltest itself runs on (pytest, pluggy, the standard
library) cannot be swapped under a running pytest: one line says so.
"""
import os
import sys

from ..sysdirs import is_installed_library

# The test process runs on these: a checkout of them is not imported.
CANNOT_SWAP = frozenset({"ltest", "pytest", "_pytest", "pluggy", "iniconfig", "packaging", "py", "exceptiongroup",
                         "tomli", "attr", "attrs"})


def importable_names(directory):
    """Top-level module names a directory on sys.path provides: packages
    (with __init__.py), modules and extension modules. Namespace packages
    never win over an installed module, so they do not count."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return {}
    names = {}
    for entry in entries:
        path = os.path.join(directory, entry)
        if entry.endswith(".py"):
            names[entry[:-3]] = path
        elif ".cpython-" in entry and entry.endswith(".so"):
            names[entry.split(".")[0]] = path
        elif "." not in entry and os.path.isfile(os.path.join(path, "__init__.py")):
            names[entry] = path
    return names


# (len(sys.modules), top-level module names) as the kernel computed it before the fork.
_planned = None


def plan():
    global _planned
    if _planned is None or _planned[0] != len(sys.modules):
        _planned = (len(sys.modules), frozenset(name for name in sys.modules if "." not in name))


def shadowed(head_dirs, modules, system_dirs, stdlib=sys.stdlib_module_names, top_level=None):
    """{name: checkout path} of the top-level modules that the client's path
    entries (head_dirs: cwd, $PYTHONPATH) provide but the kernel imported
    from site-packages. top_level: their names, if known (see plan)."""
    if top_level is None:
        top_level = {name for name in modules if "." not in name}
    found = {}
    for directory in head_dirs:
        for name, path in importable_names(directory).items():
            if name in top_level and name not in found and name not in stdlib:
                found[name] = path
    out = {}
    for name, path in found.items():
        origin = getattr(modules.get(name), "__file__", None)
        if not isinstance(origin, str):
            continue
        real = os.path.realpath(origin)
        # Installed: in a site directory, or with its dist-info elsewhere (pip install
        # --target on PYTHONPATH), which the kernel's copy would otherwise stay for.
        installed = real.startswith(system_dirs) or is_installed_library(name, origin)
        if installed and not real.startswith(os.path.realpath(path)):
            out[name] = path
    return out


def use_checkouts(head_dirs, system_dirs, modules=None):
    """Drops the shadowed modules; returns the warnings for those that stay."""
    planned = _planned[1] if modules is None and _planned is not None else None
    modules = sys.modules if modules is None else modules
    warnings = []
    for name, path in shadowed(head_dirs, modules, system_dirs, top_level=planned).items():
        if name in CANNOT_SWAP:
            warnings.append(f"{path} shadows {name}, which ltest's test process runs on: the kernel's {name} "
                            f"is tested; use plain python -m pytest for a checkout of {name}")
            continue
        for module in [m for m in modules if m == name or m.startswith(name + ".")]:  # rare: a scan is fine
            del modules[module]
    return warnings
