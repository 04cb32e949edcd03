"""`pytest ARGS` and `python -m pytest ARGS`, warm: a pytest plugin that hands
the run to the project's ltest server (`ltest -- ARGS`) before the project's
conftest files are imported, and ends with that run's output and exit code.

Opt in per project with `[tool.ltest] delegate = true` in pyproject.toml (the
nearest one upward from the current directory that has the table, as the
client reads it), or per run with `-p ltest.delegate` (on the command line,
in PYTEST_ADDOPTS or in the ini file's addopts). An environment that has
ltest's wheel loads this module in every pytest run (its pytest11 entry
point, `ltest-delegate`): unless opted in, it does nothing, and its import
costs next to nothing (no import beyond the standard library's `os` and
`sys`). `-p no:ltest-delegate` keeps one run cold.

When: as the module is registered (`pytest_plugin_registered`), the earliest
moment a plugin can act: `-p` plugins are registered before the entry
points' plugins are imported, which was most of the stub's cost when it
acted in `pytest_load_initial_conftests`; either way before any conftest.py
and before pytest captures output.

How: the process that pytest's console entry runs (`pytest`, `python -m
pytest`) becomes the ltest client (exec), so its stdin, stdout and stderr
(terminals stay terminals: width, colours), its signals (Ctrl-C interrupts
the warm run as it would a cold one; a killed client gets its tests killed)
and its exit code are the client's. A script that calls `pytest.main(args)`
itself (VS Code's run script) keeps its process: the client runs as its
child, and pytest.main ends with SystemExit(the run's exit code). The
client gets `--python` this interpreter, so the warm run is this
interpreter's, as the cold one would have been; it starts the server when
none runs, as `ltest -- ARGS` does. Everything else the caller gave the run
(-p plugins, PYTHONPATH, environment variables naming a result pipe) goes
with it: the client sends its whole environment, and the warm test process
loads the same plugins.

Never recursive: the warm test process (and the kernel it is forked from)
loads this plugin too, through the same entry point or the same
PYTEST_ADDOPTS, and there it does nothing (`_in_ltest_runtime`). Nor from a
notebook or an interactive interpreter (ipytest's pytest.main runs tests
defined in the caller's own process). With no ltest client to run, the run
stays cold, with one line on stderr.

PYTEST_DONT_REWRITE: the warm test process has this module imported
already (the kernel holds the whole runtime), where `-p ltest.delegate`
would have pytest warn that it cannot rewrite its asserts (it has none).
"""
import os
import sys

ENTRY_POINT = "ltest-delegate"  # the wheel's pytest11 entry point name
MODULE = "ltest.delegate"       # the name `-p ltest.delegate` registers


def pytest_plugin_registered(plugin, manager):
    """This module's own registration: the earliest moment a plugin of
    pytest 7.2 to 9.x can act, when `-p` (the command line, PYTEST_ADDOPTS,
    the ini file's addopts) or the entry points load it, before the other
    entry points' plugins are imported (their imports were most of a
    delegated run's cost), before any conftest.py and before pytest
    captures output. Decides there whether this run goes to the warm server."""
    if plugin is not sys.modules.get(__name__):
        return
    by_module_name = manager.get_plugin(MODULE) is plugin
    if by_module_name and manager.get_plugin(ENTRY_POINT) is None and not manager.is_blocked(ENTRY_POINT):
        # An environment whose wheel also has the entry point would load this
        # module a second time under that name: "Plugin already registered".
        manager.set_blocked(ENTRY_POINT)
    config = manager.get_plugin("pytestconfig")
    if config is None or _in_ltest_runtime():
        return
    if by_module_name or _named_by_p(config) or project_delegates(str(config.invocation_params.dir)):
        hand_over(config)  # returns only when the run stays cold


def _in_ltest_runtime():
    """ltest's kernel and every process forked from it (spares, test
    processes) hold the runtime the server loaded, marked with its digest."""
    return getattr(sys.modules.get("ltest"), "__ltest_digest__", None) is not None


def _named_by_p(config):
    """-p with the entry point's name (`-p ltest-delegate`, which registers
    the module under that name), as pytest reads -p: `-p NAME` or `-pNAME`,
    in the arguments or PYTEST_ADDOPTS."""
    import shlex
    args = [str(a) for a in config.invocation_params.args]
    try:
        args += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    except ValueError:  # pytest says what is wrong with it
        pass
    for i, arg in enumerate(args):
        name = args[i + 1] if arg == "-p" and i + 1 < len(args) else arg[2:] if arg.startswith("-p") else None
        if name == ENTRY_POINT:
            return True
    return False


def project_delegates(start):
    """`[tool.ltest] delegate = true` in the nearest pyproject.toml upward
    from start that has a [tool.ltest] table (the one the client reads)."""
    directory = os.path.abspath(start)
    while True:
        path = os.path.join(directory, "pyproject.toml")
        table = _ltest_table(path) if os.path.isfile(path) else None
        if table is not None:
            return table.get("delegate") is True
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        directory = parent


def _ltest_table(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if b"ltest" not in data:  # most pyproject.toml files: no TOML parser imported
        return None
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        try:
            import tomli as tomllib
        except ImportError:
            return None
    try:
        table = tomllib.loads(data.decode("utf-8")).get("tool", {}).get("ltest")
    except Exception:  # not TOML: the search stops here, the run stays cold (pytest says what is wrong)
        return {}
    return table if isinstance(table, dict) else None


def hand_over(config):
    """Runs the warm run in place of this one: never returns, unless the run
    must stay cold (no client, not pytest's own process, plugins given as
    objects)."""
    params = config.invocation_params
    args = _transferable_args(params)
    if args is None or not _is_a_program():
        return
    client = find_client()
    if client is None:
        sys.stderr.write("ltest.delegate: no ltest client found (next to %s, on PATH, or beside ltest's runtime); "
                         "running cold\n" % sys.executable)
        sys.stderr.flush()
        return
    command = [client, "--python", sys.executable, "--", *args]
    if _console_run(params):
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os.execv(client, command)
    raise SystemExit(_run_as_child(command))


def _transferable_args(params):
    """The run's arguments as a command line: plugin objects given to
    pytest.main() become `-p MODULE` when they are importable modules; any
    other object keeps the run cold (None), with one line saying so."""
    args = [str(a) for a in params.args]
    extra = []
    for plugin in params.plugins or ():
        if isinstance(plugin, str):
            name = plugin
        elif (isinstance(plugin, type(os)) and plugin.__name__ != "__main__"
              and sys.modules.get(plugin.__name__) is plugin):
            name = plugin.__name__
        else:
            sys.stderr.write("ltest.delegate: pytest.main() was given a plugin object (%r) that another process "
                             "cannot load; running cold\n" % (plugin,))
            sys.stderr.flush()
            return None
        extra += ["-p", name]
    return extra + args


def _console_run(params):
    """pytest's console entry or `python -m pytest`: this process is the run."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name in ("pytest.__main__", "py.test", "pytest"):
        return True
    return (os.path.basename(sys.argv[0]) in ("pytest", "py.test", "pytest-3", "py.test-3")
            and list(params.args) == sys.argv[1:])


def _is_a_program():
    """A process run for this (a console entry, `python -m`, a script), not
    a notebook, an IPython shell or an interactive interpreter, whose
    pytest.main runs tests of its own namespace (IPython's `__main__` is its
    user namespace: no file, no spec)."""
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return False
    main = sys.modules.get("__main__")
    return main is not None and (getattr(main, "__file__", None) or getattr(main, "__spec__", None)) is not None


def find_client():
    """The `ltest` executable: beside this interpreter (a virtualenv's bin,
    where the wheel installs it, activated or not), on PATH, or in the bin
    directory of the installation this runtime belongs to (share/ltest/ltest/
    -> bin/)."""
    here = os.path.dirname(os.path.abspath(__file__))
    places = [os.path.dirname(sys.executable)]
    places += [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    places.append(os.path.join(here, os.pardir, os.pardir, os.pardir, "bin"))
    for place in places:
        candidate = os.path.join(place, "ltest")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _run_as_child(command):
    """The client as this process's child; returns its exit code as a shell
    would see it. Ctrl-C reaches the client from the terminal (same process
    group), which interrupts the run: this process waits for its answer.
    SIGTERM and SIGHUP sent to this process are passed on."""
    import signal
    import subprocess
    child = subprocess.Popen(command)
    forwarded = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        forwarded[sig] = signal.signal(sig, lambda number, frame: child.send_signal(number))
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous_int)
        for sig, handler in forwarded.items():
            signal.signal(sig, handler)
    return code if code >= 0 else 128 - code
