"""A plain spare that also holds the project's layer: for the likely next
run, not only the exact last one.

The spare prepared for the predicted run (prepared.py) serves only a run
with the very same arguments. A user's next run often differs in what it
selects or shows (`-k`, one file, a node id, `-x`, `-v`): that run should
still find the project's own modules imported. So once the prepared spare
is ready, the other spare practises and then becomes the predicted run's
test process as far as nothing depends on the arguments (cwd, environment,
terminals, limits: child.become_test_process with placeholder stdio) and
imports the project's layer (project_layer.py), without pytest's
configuration, which depends on the arguments. A run takes it when its
request equals the prediction in everything but the arguments, and its
arguments only select tests or shape the report (only_selects): such
arguments load no other plugin, ini file or conftest that could have run
before the project's code in a cold run.

In a cold run the plugins and the initial conftest files run before the
project's code is imported; here the layer comes first. So a layered spare
is made only where the prepared spare saw that they left the environment,
the cwd and sys.path as they found them (prepared.Prepared.layer_first),
and a layer whose import would bring in a module pytest rewrites (a plugin,
a file the last run's rewriting loader imported) is not imported ahead:
pytest would warn that it cannot rewrite it. As in prepared.py, an import
that warns, writes or fails ends the spare (the layer stays recorded: the
prepared spare imports it after the conftests); an edit to a file it read
drops it (file_watch.py).
"""
import contextlib
import os
import sys
import time

from . import child, forget_request, prepared, project_layer


class Layered:
    def __init__(self, spec, placeholders, watch_fd, kinds):
        self.spec = spec
        self.placeholders = placeholders
        self.watch_fd = watch_fd
        self.kinds = kinds


# Options that only select tests or shape the report: the same plugins, ini
# files, initial conftests and imports as without them. Values follow
# either "=" or as the next argument (a word, never an option).
_SHORT_FLAGS = set("vqxsl")  # -v -q -x -s -l, also bunched (-vx)
_SHORT_WITH_VALUE = set("kmr")  # -k EXPR, -m MARKEXPR, -rA
_LONG = {"--verbose", "--quiet", "--exitfirst", "--maxfail", "--last-failed", "--lf", "--failed-first", "--ff",
         "--new-first", "--nf", "--last-failed-no-failures", "--lfnf", "--stepwise", "--sw", "--stepwise-skip",
         "--sw-skip", "--collect-only", "--co", "--tb", "--showlocals", "--show-capture", "--full-trace",
         "--durations", "--durations-min", "--capture", "--color", "--code-highlight", "--no-header",
         "--no-summary", "--disable-warnings", "--disable-pytest-warnings", "--runxfail", "--deselect",
         "--setup-show", "--setup-only", "--setup-plan", "--strict-markers", "--keyword", "--pdb", "--trace",
         "--verbosity", "--junitxml", "--junit-xml"}


def only_selects(args, cwd):
    """Do args only select tests or shape the report? Paths must lie under
    cwd (a path elsewhere may have another rootdir, ini file and conftests)."""
    for arg in args:
        arg = str(arg)
        if not arg.startswith("-"):
            path = os.path.normpath(os.path.join(cwd, arg.split("::")[0]))
            if path != cwd and not path.startswith(cwd.rstrip(os.sep) + os.sep):
                return False
        elif arg.startswith("--"):
            if arg != "--" and arg.split("=", 1)[0] not in _LONG:
                return False
        elif not (set(arg[1:]) <= _SHORT_FLAGS or (arg[1:2] in _SHORT_WITH_VALUE)):
            return False
    return True


def key_but_args(key):
    """A request key (child.request_key) without its arguments."""
    return {k: v for k, v in key.items() if k != "args"}


def serves(layered_key, key):
    """Can a spare layered for layered_key (a key without arguments) take a
    run whose request key is key?"""
    return (layered_key is not None and key_but_args(key) == layered_key
            and only_selects(key.get("args") or [], key.get("cwd") or "/"))


def prepare(spec, keep_roots, layer_path):
    """Becomes spec's test process as far as nothing depends on its
    arguments, then imports the project's layer. Returns (Layered, True);
    (None, True) when there is no layer to import (the process is still a
    plain spare); (None, False) when it would not come out as in the run
    (the caller must end this process: it is no longer a plain spare).
    Raises prepared.EditedWhileReading as prepared.prepare does."""
    entries = project_layer.load(layer_path) if layer_path else []
    if not entries:
        return None, True
    plain = dict(spec, args=[])
    holders = prepared._Placeholders()
    before = set(sys.modules)
    start_ns = time.time_ns() - prepared._TIMESTAMP_MARGIN_NS
    try:
        child.become_test_process(plain, os.dup(holders.stdin), os.dup(holders.out), os.dup(holders.err),
                                  holders.ctl, keep_roots)
    except BaseException:
        return None, False
    names = project_layer.importable_now(entries)
    if not names:
        return None, False
    code_cache = os.path.join(os.path.dirname(layer_path), "code")
    rewritten = set(project_layer.load_rewritten(layer_path))
    with _environment_of_main():
        imported = project_layer.import_ahead(names, (holders.out, holders.err), code_cache)
    if not imported or _brought_rewritten(before, rewritten):
        return None, False
    try:
        watch_fd, kinds, read = prepared._watch_what_was_read(plain, None, before)
    except OSError:
        return None, False
    if prepared._changed_since(start_ns, read):
        os.close(watch_fd)
        raise prepared.EditedWhileReading()
    return Layered(spec, holders, watch_fd, kinds), True


@contextlib.contextmanager
def _environment_of_main():
    """The environment pytest's main gives what it imports: PYTEST_VERSION
    set (from pytest 8.2), as in the prepared spare (pytest_api.prepare_config);
    put back after, since the run's main sets it again."""
    from ..private_api import pytest_api
    if not pytest_api._main_sets_pytest_version():
        yield
        return
    import pytest
    before = os.environ.get("PYTEST_VERSION")
    os.environ["PYTEST_VERSION"] = pytest.__version__
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTEST_VERSION", None)
        else:
            os.environ["PYTEST_VERSION"] = before


def _brought_rewritten(before, rewritten):
    """Did the layer's import bring in a module that pytest would rewrite:
    a plugin it imports itself, or a file its rewriting loader imported in
    the last run (a module a conftest registered for rewriting)?"""
    from ..in_kernel.preload import rewritable_plugins
    for name in [n for n in sys.modules if n not in before]:
        if name.split(".")[0] in rewritable_plugins or name in rewritable_plugins:
            return True
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and path in rewritten:
            return True
    return False


def run(layered, spec, fds):
    """The run, with its own arguments, from where the layer left it; returns the exit code."""
    if not serves(key_but_args(child.request_key(layered.spec)), child.request_key(spec)):
        prepared._refuse(layered, fds)
    prepared.attach(layered, fds)
    args = list(spec.get("args", []))
    sys.argv[:] = [child.pytest_argv0()] + args
    sys.orig_argv = [sys.executable, "-m", "pytest"] + args
    forget_request.forget(spec, layered.spec)
    return child.run_pytest(args)
