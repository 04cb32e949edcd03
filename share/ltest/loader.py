"""Loads ltest's runtime into a kernel from the sources the server sends.

Run by the server with `exec`, in a throwaway namespace holding
`__ltest_sources__` ({module name: [path, source, is_package]}), so that a kernel on
another host needs no copy of ltest, and nothing lands in the user's
namespace or sys.path. Tracebacks still show the source lines (linecache).
"""
import hashlib
import importlib.abc
import importlib.util
import json
import linecache
import sys


class LtestRuntimeFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        if name not in self.sources:
            return None
        entry = self.sources[name]
        package = entry[2] if len(entry) > 2 else name == "ltest"
        spec = importlib.util.spec_from_loader(name, self, origin=entry[0], is_package=package)
        if package:
            spec.submodule_search_locations = []  # submodules come from this finder, not from a folder
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        path, source = self.sources[module.__name__][:2]
        module.__file__ = path
        linecache.cache[path] = (len(source), None, source.splitlines(True), path)
        exec(compile(source, path, "exec"), module.__dict__)


def load(sources):
    digest = hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()
    current = sys.modules.get("ltest")
    if getattr(current, "__ltest_digest__", None) == digest:
        return  # this very runtime is loaded already
    # Another version, or a notebook's %load_ext ltest: replace it.
    for name in [n for n in sys.modules if n == "ltest" or n.startswith("ltest.")]:
        del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "LtestRuntimeFinder"]
    sys.meta_path.insert(0, LtestRuntimeFinder(sources))
    import ltest
    import ltest.in_kernel.runner  # the kernel's runtime now (its fds recorded: kernel_fds); `import ltest` alone is lazy
    ltest.__ltest_digest__ = digest


load(__ltest_sources__)  # noqa: F821 (given by the server)
