"""pytest's private API, as ltest's speed-ups use it; the only module of the
runtime that reaches into `_pytest` (installed_plugins.py, loaded by path
by bench/, keeps its own guarded import). Each probe runs once per process;
a failed one turns its speed-up off (see __init__.py). Supported: pytest 7.2
(Debian 12) to 9.x.

- pytest's own main, as `python -m pytest` calls it (`_main(prog=...)`
  from 9.x, `main` before), with its `_prepareconfig` answered by a
  configuration prepared ahead (prepared runs);
- `FixtureManager` built before the session (fixtures parsed ahead);
- `rewrite_asserts` and `_rewrite_test` (test modules rewritten ahead);
- a subtest report's arguments, read back from a shard worker's JSON;
- the capture manager's global capture, made anew in each shard worker;
- the modules of pytest's built-in plugins (the kernel preloads them);
- `Config._do_configure`, wrapped for one call (the `file` command's answer
  known ahead, file_command_memo.py);
- pytest's console entry (`console_main`, `_console_main` from 9.1), whose
  frames a test's stack shows above pytest's main (main_frames.py);
- `_pytest._io.TerminalWriter`, for the panel's failures in pytest's colours;
- the class of pytest's assertion-rewriting loader (rewrite_ahead.py).
"""
import functools
import inspect
import os
import sys


def _version():
    try:
        import pytest
        return f"pytest {pytest.__version__}"
    except ImportError:
        return "pytest"


@functools.lru_cache(maxsize=None)
def _entry():
    """(main function, whether it takes prog): what pytest's console entry
    calls, so that a run has its environment, early exits and program name."""
    import _pytest.config as c
    main = getattr(c, "_main", None)
    if main is not None:
        try:
            if "prog" in inspect.signature(main).parameters:
                return main, True
        except (TypeError, ValueError):
            pass
    return c.main, False


def prog_name():
    """The program name pytest's console entry gives its main (None where it
    gives none: argparse then names sys.argv[0], pytest's __main__.py)."""
    import _pytest.config as c
    if not _entry()[1]:
        return None
    get = getattr(c, "_get_prog_name", None)
    return get(sys.argv) if callable(get) else "python -m pytest"


def main_entry():
    """pytest's own main with the program name its console entry gives, as
    a callable of (args=, plugins=) with no frame of its own: a test's stack
    shows pytest's main right under its console entry, as cold's does."""
    main, takes_prog = _entry()
    return functools.partial(main, prog=prog_name()) if takes_prog else main


def run_main(args, plugins):
    """pytest's own main for args, as `python -m pytest ARGS` runs it."""
    main, takes_prog = _entry()
    kwargs = {"prog": prog_name()} if takes_prog else {}
    return main(args=list(args), plugins=plugins, **kwargs)


@functools.lru_cache(maxsize=None)
def _probe_prepared():
    try:
        import _pytest.config as c
        main, takes_prog = _entry()
    except Exception as e:
        return f"pytest cannot be imported ({e})"
    if not callable(getattr(c, "_prepareconfig", None)):
        return f"{_version()} has no _pytest.config._prepareconfig"
    if "_prepareconfig" not in main.__code__.co_names:
        return f"{_version()}'s main does not call _prepareconfig"
    if takes_prog and "prog" not in inspect.signature(c._prepareconfig).parameters:
        return f"{_version()}'s _prepareconfig takes no prog"
    return None


# PYTEST_VERSION as it was before a preparation set it, as pytest's main
# sets it (restored before the run's main, which sets it again): {"value": ...}.
_env_before_prepare = {}


def _main_sets_pytest_version():
    return "PYTEST_VERSION" in _entry()[0].__code__.co_consts


def exits_early(args):
    """Does pytest's main answer args before its configuration (pytest 9's
    lone --version)? Then nothing is prepared: the run is main's alone."""
    main = _entry()[0]
    return "--version" in main.__code__.co_consts and (args.count("--version") + args.count("-V")) == 1


def prepare_config(args):
    """The configuration pytest's main makes for args before its session
    (plugins loaded, options parsed, initial conftests imported), in the
    environment main gives it; None where the probe failed."""
    if _probe_prepared() is not None:
        return None
    import _pytest.config as c
    if _main_sets_pytest_version():
        import pytest
        _env_before_prepare["value"] = os.environ.get("PYTEST_VERSION")
        os.environ["PYTEST_VERSION"] = pytest.__version__
    kwargs = {"prog": prog_name()} if _entry()[1] else {}
    return c._prepareconfig(list(args), [], **kwargs)


def run_main_prepared(args, config, before_session):
    """pytest's own main for args, whose `_prepareconfig` is config (made by
    prepare_config for these args): before_session(config) runs then."""
    import _pytest.config as c
    if _env_before_prepare:  # main saves and sets it itself
        before = _env_before_prepare.pop("value")
        if before is None:
            os.environ.pop("PYTEST_VERSION", None)
        else:
            os.environ["PYTEST_VERSION"] = before
    original = c._prepareconfig

    def _prepareconfig(a, plugins=None, **kwargs):
        c._prepareconfig = original
        if list(a) != list(args) or plugins:  # not the run prepared for
            return original(a, plugins, **kwargs)
        before_session(config)
        return config

    c._prepareconfig = _prepareconfig
    try:
        return run_main(args, [])
    finally:
        c._prepareconfig = original


# How a FixtureManager keeps what it parsed, the two shapes ltest knows:
# - by node id (pytest 7.2 to 9.0): definitions keyed by name with a base
#   node id, and a set of the plugins already parsed, so that registering a
#   manager that parsed ahead skips them in pluggy's replay of the history;
# - by node (pytest 9.1 on): definitions and autouse names keyed by the
#   collection node (the Session for a plugin), no set of plugins seen
#   (registering replays the whole history), conftests kept pending until
#   their directory is collected and those at or above the rootdir parsed
#   right after registering (`_flush_pending_conftests_to_session`).
_BY_NODEID, _BY_NODE = "by node id", "by node"


@functools.lru_cache(maxsize=None)
def _fixtures_shape():
    """(shape, None), or (None, why the fixtures parsed ahead are off)."""
    try:
        from _pytest import fixtures
    except Exception as e:
        return None, f"pytest cannot be imported ({e})"
    manager = getattr(fixtures, "FixtureManager", None)
    if manager is None or not callable(getattr(fixtures, "getfixturemarker", None)):
        return None, f"{_version()} has no FixtureManager or getfixturemarker"
    if "FixtureManager" not in fixtures.pytest_sessionstart.__code__.co_names:
        return None, f"{_version()}'s fixtures.pytest_sessionstart does not make the FixtureManager"
    names = set(manager.__init__.__code__.co_names)
    params = set(inspect.signature(manager.pytest_plugin_registered).parameters) - {"self"}
    if {"_arg2fixturedefs", "_holderobjseen", "_nodeid_autousenames"} <= names and "_node_autousenames" not in names:
        if not params <= {"plugin", "plugin_name", "manager"}:
            return None, f"{_version()}'s FixtureManager.pytest_plugin_registered takes {sorted(params)}"
        return _BY_NODEID, None
    by_node = ({"_node_autousenames", "_pending_conftests", "_flush_pending_conftests_to_session"} <= names
               and names & {"_arg2fixturedefs", "_arg2node2fixturedefs"} and "_holderobjseen" not in names
               and params == {"plugin", "plugin_name"}
               and "node" in inspect.signature(fixtures.FixtureDef.__init__).parameters)
    if by_node:
        return _BY_NODE, None
    return None, (f"{_version()}'s FixtureManager keeps its fixture definitions in a shape ltest does not know "
                  "(neither by node id, as pytest 7.2 to 9.0, nor by node, as 9.1 and 9.2)")


def _probe_fixtures():
    return _fixtures_shape()[1]


class _SessionBeforeTheSession:
    """The session a FixtureManager made before the session is given: what
    its __init__ and parse read (the config's ini and rootpath, a plugin
    manager that does not register the manager yet: the adoption does, at
    session start), and, for pytest 9.1 on, a node whose definitions are
    re-keyed to the real Session at adoption (its node id is the Session's,
    "", and it has no parent)."""

    nodeid = ""

    def __init__(self, config):
        class _Config:
            getini = staticmethod(config.getini)
            rootpath = getattr(config, "rootpath", None)
            pluginmanager = type("_NoRegister", (), {"register": staticmethod(lambda *a, **k: None)})()
        self.config = _Config()

    def iter_parents(self):
        yield self

    def listchain(self):
        return [self]


class ManagerAhead:
    """A FixtureManager made and parsed before its session. skips_seen: it
    skips the plugins it parsed when pluggy replays the history to it at its
    registration (pytest up to 9.0); else the replay must leave them out."""

    def __init__(self, manager, placeholder, skips_seen):
        self.manager = manager
        self.placeholder = placeholder
        self.skips_seen = skips_seen


def fixture_manager_ahead(config, registered):
    """A ManagerAhead that parsed the plugins of registered (the kwargs of
    pytest_plugin_registered's calls, in order), not registered anywhere
    yet; None where the probe failed."""
    shape = _fixtures_shape()[0]
    if shape is None:
        return None
    from _pytest import fixtures
    placeholder = _SessionBeforeTheSession(config)
    manager = fixtures.FixtureManager(placeholder)
    manager.config = config  # the definitions' config (a scope callable's argument), as in a cold run
    params = set(inspect.signature(manager.pytest_plugin_registered).parameters)
    for kwargs in registered:
        manager.pytest_plugin_registered(**{k: v for k, v in kwargs.items() if k in params})
    if shape == _BY_NODEID:
        manager.session = None
        return ManagerAhead(manager, None, skips_seen=True)
    return ManagerAhead(manager, placeholder, skips_seen=False)


def bind_to_session(ahead, session):
    """Makes ahead's manager the one pytest would have made for session:
    every reference to the placeholder session (the keys of definitions and
    autouse names, each definition's node) becomes session. False where
    something still refers to the placeholder after that (a pytest whose
    manager keeps it somewhere else): the manager is then not to be used."""
    manager = ahead.manager
    manager.session = session
    placeholder, ahead.placeholder = ahead.placeholder, None
    if placeholder is None:
        return True
    _rebind(manager, placeholder, session)
    # Here and in this call's argument only: nothing of the manager's holds it.
    return sys.getrefcount(placeholder) <= 2


def _rebind(manager, placeholder, session):
    """placeholder becomes session in manager (a function of its own: none
    of its locals outlives it to hold the placeholder)."""
    def node(n):
        return session if n is placeholder else n

    def rebind(fixturedefs):
        for fixturedef in fixturedefs:
            if getattr(fixturedef, "node", None) is placeholder:
                fixturedef.node = session
        return fixturedefs

    autouse = manager._node_autousenames
    for key in [k for k in autouse if k is placeholder]:
        autouse[session] = autouse.pop(key)
    for by_name in (getattr(manager, "_arg2fixturedefs", None), getattr(manager, "_arg2nodeid2fixturedefs", None)):
        for defs in (by_name or {}).values():
            for fixturedefs in (defs.values() if isinstance(defs, dict) else [defs]):
                rebind(fixturedefs)
    by_node = getattr(manager, "_arg2node2fixturedefs", None) or {}
    for name in by_node:
        by_node[name] = {node(k): rebind(v) for k, v in by_node[name].items()}


def finish_fixture_manager(session, manager):
    """What FixtureManager.__init__ and pytest_sessionstart do after the
    manager's registration (adopt it: bind_to_session, then register it)."""
    if _fixtures_shape()[0] == _BY_NODE:
        manager._flush_pending_conftests_to_session(session)
    session._fixturemanager = manager


def fixtures_sessionstart_plugin():
    """The plugin whose pytest_sessionstart makes the fixture manager."""
    from _pytest import fixtures
    return fixtures


def is_fixture(obj):
    from _pytest import fixtures
    return fixtures.getfixturemarker(obj) is not None


@functools.lru_cache(maxsize=None)
def _probe_rewrite():
    try:
        from _pytest.assertion import rewrite
    except Exception as e:
        return f"pytest cannot be imported ({e})"
    if not callable(getattr(rewrite, "rewrite_asserts", None)) or not callable(getattr(rewrite, "_rewrite_test", None)):
        return f"{_version()} has no rewrite_asserts or _rewrite_test"
    if list(inspect.signature(rewrite._rewrite_test).parameters) != ["fn", "config"]:
        return f"{_version()}'s _rewrite_test takes other arguments"
    return None


def rewrite_asserts(tree, source, path, config):
    """pytest's rewrite of a test module's tree; False where the probe failed."""
    if _probe_rewrite() is not None:
        return False
    from _pytest.assertion import rewrite
    rewrite.rewrite_asserts(tree, source, path, config)
    return True


def replace_rewrite_test(make):
    """`_rewrite_test` (fn, config) -> (stat, code) becomes make(original)."""
    if _probe_rewrite() is not None:
        return
    from _pytest.assertion import rewrite
    rewrite._rewrite_test = make(rewrite._rewrite_test)


def subtest_arguments_as_sent(report, data):
    """pytest 9's subtest report read back from JSON repr()s its arguments
    a second time (`(i='1')` for `(i=1)`, SubtestContext.__post_init__):
    they become the ones the worker sent, already repr()'d once."""
    context = getattr(report, "context", None)
    sent = data.get("_subtest.context") if isinstance(data, dict) else None
    if context is None or not isinstance(sent, dict) or not isinstance(sent.get("kwargs"), dict):
        return
    try:
        object.__setattr__(context, "kwargs", dict(sent["kwargs"]))
    except Exception:  # another shape: left as pytest made it
        pass


def own_capture_in_fork(config):
    """A shard worker (a fork of the collected session) gets capture files of
    its own: the parent's temporary files are shared by every fork (one
    open file, one offset), so two workers' tests would read and truncate
    each other's output. The parent's are dropped unread (its capture is
    suspended between tests, so nothing of this worker is in them). Another
    shape of CaptureManager: left as it is."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if (capman is None or getattr(capman, "_global_capturing", None) is None
            or not hasattr(capman, "start_global_capturing") or not hasattr(capman, "suspend_global_capture")):
        return
    capman._global_capturing = None
    capman.start_global_capturing()
    capman.suspend_global_capture()


@functools.lru_cache(maxsize=None)
def _default_plugins():
    try:
        from _pytest.config import default_plugins
        return tuple(default_plugins), None
    except ImportError as e:
        return (), f"{_version()} has no _pytest.config.default_plugins ({e})"


def default_plugins():
    """The names of pytest's built-in plugins (the kernel preloads them); ()
    where the probe failed (each run then imports them itself)."""
    return _default_plugins()[0]


def default_plugin_modules():
    """The modules of pytest's built-in plugins, but python_path (which
    changes sys.path at import on some versions): what the kernel preloads."""
    return ["_pytest." + p for p in default_plugins() if p not in ("python_path",)]


@functools.lru_cache(maxsize=None)
def _probe_configure():
    try:
        from _pytest.config import Config
    except Exception as e:
        return f"pytest cannot be imported ({e})"
    do_configure = getattr(Config, "_do_configure", None)
    if not callable(do_configure) or list(inspect.signature(do_configure).parameters) != ["self"]:
        return f"{_version()} has no Config._do_configure(self)"
    return None


def around_next_configure(config, around):
    """config's next `_do_configure` (pytest_configure's call) runs as
    around(the original); False where the probe failed."""
    if _probe_configure() is not None:
        return False

    def do_configure():
        del config._do_configure  # once: the class's method again
        return around(config._do_configure)

    config._do_configure = do_configure
    return True


@functools.lru_cache(maxsize=None)
def _probe_console_entry():
    try:
        from _pytest import config
    except Exception as e:
        return f"pytest cannot be imported ({e})"
    if not any(callable(getattr(config, n, None)) for n in ("_console_main", "console_main")):
        return f"{_version()} has no _pytest.config.console_main or _console_main"
    return None


def console_entry(name):
    """The function of _pytest.config that pytest's __main__.py calls by
    name (console_main; _console_main from 9.1), or None."""
    if _probe_console_entry() is not None:
        return None
    from _pytest import config
    entry = getattr(config, name, None)
    return entry if callable(entry) else None


def terminal_writer(file):
    """pytest's TerminalWriter on file, with colours (a report's own
    toterminal writes through it), or None where pytest has none there."""
    try:
        from _pytest._io import TerminalWriter
    except ImportError:
        return None
    tw = TerminalWriter(file)
    tw.hasmarkup = True
    return tw


def came_through_rewriting(module):
    """Was module imported by pytest's assertion-rewriting loader?"""
    return type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook"


def probe_all():
    """{speed-up: None (on) or why it is off} for what needs pytest."""
    return {"built-in plugins preloaded": _default_plugins()[1],
            "prepared runs": _probe_prepared(),
            "fixtures parsed ahead": _probe_fixtures(),
            "test modules rewritten ahead": _probe_rewrite(),
            "the file command's answer known ahead (pytest-benchmark's configure)": _probe_configure(),
            "cold's frames above pytest's main in a test's stack": _probe_console_entry()}
