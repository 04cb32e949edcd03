"""Every private API of pytest, pluggy, ipykernel or IPython is reached through
one place per library: share/ltest/ltest/private_api/ (pytest_api.py,
pluggy_api.py, ipykernel_api.py, ipython_api.py), which probes once and turns
the speed-up off, visibly, on a version that lacks it. This test reads the
rest of the runtime's source (its syntax tree: nothing is imported, so the
result is the same on every stack and whatever plugins are installed) and
names, file:line, each reach into one of those libraries' private names
outside private_api/ that the allow-list below does not justify.

What counts as a reach (per file):
- an import of a private module: `_pytest...`, or a dotted path of one of the
  libraries with a component that starts with `_` (`pluggy._hooks`);
- `from LIBRARY... import _name`;
- `NAME._private` (anywhere in an attribute chain) where NAME is bound to one
  of the libraries: by an import from it, by an assignment whose value names
  one of its modules in a string (`sys.modules.get("IPython.core.x")`), or by
  a call into private_api (`shell = ipython_api.shell()`: what it returns is
  the library's object);
- the same through getattr/hasattr/setattr/delattr with a constant name;
- a parameter of a pytest hook implementation (a function `pytest_*`: its
  arguments are pytest's config, session, items, reports) used so;
- a string naming a private module given to a call or a subscript
  (`sys.modules["_pytest.x"]`, `importlib.import_module("pluggy._hooks")`).
Names of ltest's own modules (`pytest_api._helper`) are ltest's, not the
libraries'."""
import ast
import os
import re
import sys

import ltest

PACKAGE = os.path.dirname(ltest.__file__)
PRIVATE_API = os.path.join(PACKAGE, "private_api")
LIBRARIES = ("pytest", "_pytest", "pluggy", "ipykernel", "IPython")
CHECKERS = ("getattr", "hasattr", "setattr", "delattr")
LIBRARY_MODULE = re.compile(r"^(?:%s)(?:\.\w+)*$" % "|".join(LIBRARIES))

# Reaches justified where they are, by (file relative to the package, what is
# reached). Each says why it is not in private_api/.
ALLOWED = {
    # installed_plugins.py is loaded by its path, alone, by bench/lib/floor.py
    # (standard library and pytest only, no import of the runtime's package),
    # so it cannot import private_api. The import is guarded: on a pytest
    # without it, no plugin is dropped after warm-up, and pytest's own
    # "cannot be rewritten" warning is what a user would see; results do not
    # change.
    ("installed_plugins.py", "_pytest.config"),
    ("installed_plugins.py", "_pytest.config._iter_rewritable_modules"),
}


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_library_module(name):
    return bool(LIBRARY_MODULE.match(name))


def is_private_module(name):
    parts = name.split(".")
    return is_library_module(name) and (parts[0] == "_pytest" or any(is_private(p) for p in parts[1:]))


def chain(node):
    """(root Name id or None, [attribute names from the root outwards])."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):
        return chain(node.func)[0], attrs[::-1]
    return (node.id if isinstance(node, ast.Name) else None), attrs[::-1]


def _names_library_module(value):
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) and is_library_module(n.value)
               for n in ast.walk(value))


def library_names(tree):
    """Names this file binds to one of the libraries' modules or objects."""
    names, private_api_modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if is_library_module(alias.name):
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and is_library_module(node.module):
                names.update(alias.asname or alias.name for alias in node.names)
            elif node.module and node.module.split(".")[-1] == "private_api" or (
                    node.module is None and node.level):
                private_api_modules.update(alias.asname or alias.name for alias in node.names
                                           if alias.name.endswith("_api"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            from_private_api = any(isinstance(n, ast.Call) and chain(n.func)[0] in private_api_modules
                                   for n in ast.walk(node.value))
            if _names_library_module(node.value) or from_private_api:
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def hook_parameters(tree):
    """The parameters of the file's pytest hook implementations, by function node."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("pytest_"):
            args = node.args
            # self/cls: a plugin class's own (ltest's) object, not pytest's.
            out[node] = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} - {"self", "cls"}
    return out


def reaches(path):
    """[(line, what)] of the file's reaches into the libraries' private names."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    names = library_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if is_private_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and is_library_module(node.module):
            if is_private_module(node.module):
                found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if is_private(a.name)]
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            root, attrs = chain(node)
            if root in names:
                found.append((node.lineno, ".".join([root] + attrs)))
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if (name in CHECKERS and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                    and isinstance(node.args[1].value, str) and is_private(node.args[1].value)
                    and chain(node.args[0])[0] in names):
                found.append((node.lineno, f"{name}({chain(node.args[0])[0]}, {node.args[1].value!r})"))
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and is_private_module(arg.value):
                    found.append((node.lineno, arg.value))
        elif isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and is_private_module(key.value):
                found.append((node.lineno, key.value))
    for function, params in hook_parameters(tree).items():
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute) and is_private(node.attr):
                root, attrs = chain(node)
                if root in params and root not in names:
                    found.append((node.lineno, ".".join([root] + attrs)))
    return sorted(set(found))


def runtime_files():
    for root, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if os.path.join(root, d) != PRIVATE_API and d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.join(root, f)


def test_private_names_of_pytest_pluggy_ipykernel_and_ipython_are_reached_only_through_private_api():
    unjustified, used = [], set()
    for path in runtime_files():
        rel = os.path.relpath(path, PACKAGE)
        for line, what in reaches(path):
            if (rel, what) in ALLOWED:
                used.add((rel, what))
            else:
                unjustified.append(f"share/ltest/ltest/{rel}:{line}: {what}")
    assert not unjustified, (
        "private names of pytest, pluggy, ipykernel or IPython reached outside "
        "share/ltest/ltest/private_api/ (go through its module for that library, "
        "or justify the reach in ALLOWED):\n" + "\n".join(unjustified))
    # An allow-list entry that no longer matches anything is stale: dropped.
    assert used == ALLOWED, sorted(ALLOWED - used)


def _reaches_in(source, tmp_path, name="m.py"):
    path = tmp_path / name
    path.write_text(source)
    return [what for _, what in reaches(str(path))]


def test_the_scan_finds_each_kind_of_reach(tmp_path):
    source = '''\
import sys
import _pytest.config
import pluggy._hooks as hooks
from _pytest import nodes
from pluggy import _tracing
from IPython.core.interactiveshell import InteractiveShell
import ipykernel
from ..private_api import ipython_api

def f(item):
    InteractiveShell._instance = None
    ipykernel.kernelbase._something()
    module = sys.modules.get("IPython.core.interactiveshell")
    module._hidden
    getattr(InteractiveShell, "_instance", None)
    sys.modules["_pytest.unraisableexception"]
    shell = ipython_api.shell()
    shell._trap
    item._request

def pytest_collection_modifyitems(session, config, items):
    config._inicache

class Plugin:
    def pytest_sessionfinish(self, session):
        self._ours
        session._setupstate
'''
    assert _reaches_in(source, tmp_path) == [
        "_pytest.config", "pluggy._hooks", "_pytest", "pluggy._tracing",
        "InteractiveShell._instance", "ipykernel.kernelbase._something",
        "module._hidden", "getattr(InteractiveShell, '_instance')",
        "_pytest.unraisableexception", "shell._trap", "config._inicache",
        "session._setupstate",
    ]


def test_the_scan_leaves_public_names_and_ltest_own_alone(tmp_path):
    source = '''\
import os
import sys
import pytest
from IPython.core.interactiveshell import InteractiveShell
from ..private_api import pytest_api

def f(self, obj):
    os._exit(0)
    sys._getframe(1)
    self._buffer = []
    obj._private_of_some_other_library
    pytest_api._main_sets_pytest_version()
    InteractiveShell.instance()
    pytest.__version__
    record = {"_pytest", "pluggy"}
'''
    assert _reaches_in(source, tmp_path) == []
