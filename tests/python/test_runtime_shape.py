"""The runtime's shape, as issue 19 asks it to stay: no import cycle among
its modules at import time, and few module-level globals."""
import ast
import os

import ltest

PACKAGE = os.path.dirname(ltest.__file__)


def _modules():
    out = {}
    for root, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
                out[rel.removesuffix(".__init__")] = path
    return out


def _imports_at_import_time(modules):
    """Module -> the runtime modules its top-level `from . import` lines name."""
    edges = {}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        edges[name] = set()
        for node in ast.parse(open(path).read()).body:
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base += "." + node.module if node.module else ""
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    edges[name].add(target if target in modules else base)
    return edges


def test_no_module_of_the_runtime_imports_itself_back_at_import_time():
    modules = _modules()
    edges = _imports_at_import_time(modules)
    cycles = []

    def visit(name, stack, state):
        state[name] = "open"
        for target in sorted(edges[name]):
            if target not in modules:
                continue
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target], state)
        state[name] = "done"

    state = {}
    for name in sorted(modules):
        if name not in state:
            visit(name, [name], state)
    assert len(modules) > 20 and not cycles, cycles


def test_at_most_four_global_statements_in_the_runtime():
    found = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Global):
                found.append(f"{name}:{node.lineno}")
    assert len(found) <= 4, found
