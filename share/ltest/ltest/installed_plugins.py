"""The modules of the installed pytest plugins (pytest11 entry points' distributions).

pytest rewrites the asserts of installed plugins as it imports them and
warns about a plugin imported before it could ("Module already imported so
cannot be rewritten"). So a warm process drops them after warming up: their
dependencies stay warm, and each run imports the plugins as pytest would.
Standard library and pytest only, no import of the runtime's package:
bench/lib/floor.py loads this file by its path to warm up as ltest does.
"""
import sys


def rewritable_plugin_roots():
    """Top-level names of the installed plugins' own modules."""
    try:
        from importlib.metadata import distributions
        from _pytest.config import _iter_rewritable_modules
    except ImportError:
        return set()
    names = set()
    for dist in distributions():
        if any(ep.group == "pytest11" for ep in dist.entry_points):
            names.update(_iter_rewritable_modules(str(f) for f in dist.files or []))
    return names


def forget(names, modules=sys.modules):
    """Drops the modules under those top-level names."""
    for name in [n for n in modules if n.split(".")[0] in names]:
        del modules[name]
