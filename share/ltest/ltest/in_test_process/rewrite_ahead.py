"""The last run's test modules, rewritten and compiled ahead.

pytest imports test modules (and conftest files below the initial ones) at
collection through its assertion-rewriting loader, which parses, rewrites
and compiles each one on every run where no rewritten pyc is cached (always,
under PYTHONDONTWRITEBYTECODE): for a suite of large test files, much of a
re-run's collection. A prepared spare rewrites and compiles the files the
last run from its directory imported that way; in the run, pytest's
`_rewrite_test` takes that code for a file whose path and bytes are the
ones compiled (the rewrite depends on nothing else but the ini, which is
the prepared configuration's), and rewrites any other file itself.

A file whose rewrite or compile warns (pytest lists such warnings at
collection) or fails is left to the run, so that it comes out as cold.
"""
import os
import sys
import time
import warnings

from ..private_api import pytest_api

_BUDGET_S = 1.0  # of the spare's idle time; the files past it are compiled by the run


came_through_rewriting = pytest_api.came_through_rewriting


def rewritten_files(modules):
    """The files of modules that came through pytest's rewriting loader."""
    return [m.__file__ for m in modules if came_through_rewriting(m) and isinstance(getattr(m, "__file__", None), str)]


def compile_ahead(paths, config):
    """{(path, bytes): code} for those of paths that rewrite and compile
    without a word, each from the bytes read once, as `_rewrite_test` does."""
    import ast
    compiled = {}
    deadline = time.monotonic() + _BUDGET_S
    imported = {getattr(m, "__file__", None) for m in list(sys.modules.values())}  # the initial conftests
    for path in paths:
        if time.monotonic() > deadline:
            break
        if path in imported:
            continue
        source = _read(path)
        if source is None:
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                tree = ast.parse(source, filename=path)
                if not pytest_api.rewrite_asserts(tree, source, path, config):
                    return {}  # the probe failed: the run rewrites every file itself
                code = compile(tree, path, "exec", dont_inherit=True)
        except Exception:  # a syntax error: the run reports it
            continue
        if not caught:
            compiled[(path, source)] = code
    return compiled


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def use(compiled):
    """From now on, pytest's rewrite of a file compiled ahead is that code."""
    if not compiled:
        return
    paths = {path for path, _ in compiled}

    def make(original):
        def _rewrite_test(fn, config):
            if str(fn) not in paths:  # not compiled ahead: pytest reads it itself, once
                return original(fn, config)
            stat = os.stat(fn)
            code = compiled.get((str(fn), _read(fn)))
            if code is None:
                return original(fn, config)
            return stat, code
        return _rewrite_test

    pytest_api.replace_rewrite_test(make)
