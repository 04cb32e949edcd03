"""Turn a fork of the kernel into the process `python -m pytest ARGS` would be.

Everything here runs in the forked child only. The pure functions at the top
(`pytest_sys_path`, `modules_to_evict`, ...) are tested without a kernel.
"""
import asyncio
import builtins
import functools
import os
import signal
import sys
import types
import warnings

from . import fidelity, import_record, inherited_fds, main_frames
from .. import eviction, sysdirs
from ..private_api import ipykernel_api, ipython_api
from ..state import STATE
from .child_stdin import RelayStdin, _ctype_locale, _text_stream, relay_getpass, stdin_stream, stdio_encoding

# sys.path as the kernel's interpreter had it at start, minus the script dir and
# the kernel's own PYTHONPATH: the part `python -m pytest` would also have.
_kernel_pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
BASE_SYS_PATH = [p for p in sys.path if p not in ("", os.getcwd()) and p not in _kernel_pythonpath]

# warnings.filters of a fresh CPython (release build, no -X dev) before it reads
# PYTHONWARNINGS, and the kernel's filters when the runtime was loaded (those
# plus the server's PYTHONWARNINGS and IPython's own). Filters added after that
# came from preloaded modules, which plain pytest would import too.
PYTHON_DEFAULT_FILTERS = [
    ("default", None, DeprecationWarning, "__main__", 0),
    ("ignore", None, DeprecationWarning, None, 0),
    ("ignore", None, PendingDeprecationWarning, None, 0),
    ("ignore", None, ImportWarning, None, 0),
    ("ignore", None, ResourceWarning, None, 0),
]
_KERNEL_FILTERS = list(warnings.filters)


def pytest_sys_path(cwd, env, base=BASE_SYS_PATH):
    """`python -m pytest` puts the cwd first, then $PYTHONPATH, then the
    interpreter's own path (stdlib, site-packages)."""
    extra = [os.path.abspath(os.path.join(cwd, p)) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    head = [cwd] + extra
    return head + [p for p in base if p not in head]


class SetupError(Exception):
    """The test process cannot be set up as the client asked (one line for the user)."""

    def __init__(self, message, exit_code=70):
        super().__init__(message)
        self.exit_code = exit_code  # 70: ltest's "internal"; 78: the client's interpreter is not the kernel's


def pytest_argv0():
    import pytest
    return os.path.join(os.path.dirname(pytest.__file__), "__main__.py")


def warnoptions_of(env):
    """sys.warnoptions as CPython builds it from $PYTHONDEVMODE (which adds
    "default" first) and $PYTHONWARNINGS (no -W given)."""
    dev = ["default"] if env.get("PYTHONDEVMODE") else []
    return dev + [o for o in env.get("PYTHONWARNINGS", "").split(",") if o]


def _restore_kernel_hooks():
    """Undo what ipykernel patched in the kernel process: input() and getpass
    talk to the kernel's stdin socket, which the child does not own."""
    raw_input, getpass_orig = ipykernel_api.input_before_the_cell(getattr(sysdirs.ipython_shell(), "kernel", None))
    if raw_input is not None:
        builtins.input = raw_input
    if getpass_orig is not None:
        import getpass
        getpass.getpass = getpass_orig
    sys.excepthook = sys.__excepthook__
    sys.displayhook = sys.__displayhook__
    sys.breakpointhook = sys.__breakpointhook__  # debugpy's, else breakpoint() skips pytest's pdb


# Builtins that IPython, ipykernel and the debugger it imports (pydevd) add.
_SHELL_MODULES = ("IPython", "ipykernel", "debugpy", "pydevd", "pydevconsole", "_pydev_bundle", "_pydevd_bundle")


def _forget_ipython():
    """A plain pytest process has no IPython shell: no get_ipython, display,
    __IPYTHON__ or runfile builtins, exit/quit present (IPython hides them while
    a cell runs), no sys.ps1, and IPython.get_ipython() is None (tqdm.auto,
    matplotlib and others ask it whether they run in a notebook)."""
    ipython_api.leave_cell(sysdirs.ipython_shell())  # the cell that forked us never ends in the child
    for name in ("__IPYTHON__", "get_ipython", "display", "execfile", "runfile"):
        value = builtins.__dict__.get(name)
        module = str(getattr(value, "__module__", None) or "").split(".")[0]
        if name == "__IPYTHON__" or module in _SHELL_MODULES:
            builtins.__dict__.pop(name, None)
    for name in ("ps1", "ps2", "ps3"):
        sys.__dict__.pop(name, None)
    ipython_api.forget_shell()
    ipykernel_api.forget_kernel_instance()
    application = getattr(sys.modules.get("traitlets.config.application"), "Application", None)
    if application is not None:
        try:
            application.clear_instance()  # traitlets' public API
        except Exception:
            pass


def _restore_pdb():
    """ipykernel swaps pdb.Pdb and pdb.set_trace for IPython's debugger (ipdb>
    prompt, colours, a terminal title): a fresh stdlib pdb makes --pdb,
    breakpoint() and pdb.set_trace() look as in plain pytest."""
    pdb = sys.modules.get("pdb")
    patched = [getattr(pdb, name, None) for name in ("Pdb", "set_trace")]
    if pdb is not None and any(str(getattr(p, "__module__", "")).startswith("IPython") for p in patched):
        import importlib
        importlib.reload(pdb)


def _reset_signals():
    """Dispositions of a fresh CPython: default, except SIGINT (KeyboardInterrupt)
    and SIGPIPE/SIGXFSZ (ignored). The kernel ignores SIGQUIT and has handlers
    and a wakeup fd of its own; a server started under nohup ignores SIGHUP."""
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):  # reserved by libc
            pass
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    signal.set_wakeup_fd(-1)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _library_filters_of_the_kernel():
    """Filters a library adds when it is imported, which the kernel lost:
    pkg_resources appends an "ignore" filter for its PEP440Warning at import,
    and the kernel imported it under a catch_warnings() (IPython's, a
    preload's) that dropped it. The test process holds pkg_resources, so a
    plain pytest that imports it has that filter: put it back, at the end."""
    pkg_resources = sys.modules.get("pkg_resources")
    category = getattr(pkg_resources, "PEP440Warning", None)
    wanted = ("ignore", None, category, None, 0)
    if category is None or wanted in warnings.filters:
        return []
    return [wanted]


def _reset_warnings(env):
    """The filters `python -m pytest` starts with in the client's environment:
    preloaded modules' own, then $PYTHONWARNINGS, then CPython's defaults.
    pytest reads sys.warnoptions too (it adds no "always" filters when set)."""
    from_preloads = [f for f in warnings.filters if f not in _KERNEL_FILTERS]
    sys.warnoptions[:] = warnoptions_of(env)
    warnings.filters[:] = PYTHON_DEFAULT_FILTERS
    warnings._processoptions(sys.warnoptions)
    warnings.filters[:0] = from_preloads
    warnings.filters.extend(_library_filters_of_the_kernel())
    getattr(warnings, "_filters_mutated", lambda: None)()


def _main_module(argv0):
    """`python -m pytest` runs pytest/__main__.py as __main__: its file, spec
    (multiprocessing's spawn reads it) and names, in a fresh module."""
    import importlib.util
    import pytest
    main = types.ModuleType("__main__")
    main.__file__ = argv0
    main.__builtins__ = builtins
    main.__annotations__ = {}
    main.pytest = pytest
    try:
        spec = importlib.util.find_spec("pytest.__main__")
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        main.__spec__, main.__loader__, main.__package__, main.__cached__ = spec, spec.loader, "pytest", spec.cached
    return main


def _leave_kernel_event_loop():
    # The run was called from inside the kernel's running asyncio loop; a test
    # calling asyncio.run() must not see it.
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop_policy(None)


def _without_kernel_faulthandler():
    """ipykernel enables faulthandler on its own copy of the kernel's stderr
    (the kernel's log), which the test process closes; a fresh python has
    it off unless asked (PYTHONFAULTHANDLER here, -X dev in
    fidelity_environment, pytest's plugin on the run's stderr)."""
    import faulthandler
    if faulthandler.is_enabled():
        faulthandler.disable()


def die_with_parent(parent=None):
    """PR_SET_PDEATHSIG: no orphan if the kernel dies. parent: the kernel's
    pid as the fork's parent saw it; a kernel that died between the fork and
    here would never send the signal, so the orphan ends itself."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)
    except Exception:
        pass
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def become_test_process(spec, stdin_fd, stdout_fd, stderr_fd, ctl_fd, keep_roots):
    """Everything `python -m pytest` would have: fds, signals, env, cwd, paths."""
    os.setpgid(0, 0)  # the run and what it forks can be killed as one group
    # First, while sys.modules is still the one the kernel classified.
    for name in eviction.planned_or_scanned(keep_roots):
        sys.modules.pop(name, None)
    die_with_parent()
    os.dup2(stdin_fd, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    for fd in {stdin_fd, stdout_fd, stderr_fd}:
        if fd > 2:
            os.close(fd)
    _without_kernel_faulthandler()  # before its fd closes
    inherited_fds.close_kernels(keep=(ctl_fd,))
    inherited_fds.drop_runtime_finder()
    _reset_signals()

    kernel_context = (dict(os.environ), os.getcwd())  # where preloaded modules were imported (fidelity_captured)
    env = spec.get("env") or dict(os.environ)
    refused = fidelity.refusal(env)  # fidelity.py: e.g. an activated virtualenv that is not the kernel's
    if refused:
        raise SetupError(refused[1], exit_code=refused[0])
    os.environ.clear()
    os.environ.update(env)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    cwd = spec.get("cwd") or os.getcwd()
    try:
        os.chdir(cwd)
    except OSError as e:
        raise SetupError(f"cannot run in {cwd} on the kernel's host: {e.strerror}; "
                         "run ltest from a directory that exists there (see docs/remote.md)") from None
    if "umask" in spec:
        os.umask(int(spec["umask"]))

    ctype_locale = _ctype_locale()
    encoding, errors = stdio_encoding(env, ctype_locale)
    sys.stdout = sys.__stdout__ = _text_stream(1, bool(spec.get("stdout_isatty")), encoding, errors)
    sys.stderr = sys.__stderr__ = _text_stream(2, bool(spec.get("stderr_isatty")), encoding)
    if spec.get("stdin_direct"):  # the client's own stdin (the server passed it): as CPython opens it
        sys.stdin = sys.__stdin__ = stdin_stream(0, encoding, errors)
    else:  # lines the client reads when asked: a terminal, or a client on another host
        sys.stdin = sys.__stdin__ = RelayStdin(0, ctl_fd, encoding, errors)
    if env.get("PYTHONFAULTHANDLER"):
        import faulthandler
        faulthandler.enable()  # on the run's stderr, as a fresh python's -X faulthandler
    _restore_kernel_hooks()
    if spec.get("stdin_isatty"):  # else getpass falls back to stdin with a warning, as without a terminal
        import getpass
        getpass.getpass = relay_getpass  # no echo on the client's terminal
    _forget_ipython()
    _restore_pdb()
    _reset_warnings(env)
    import atexit
    atexit._clear()  # the kernel's exit handlers (history, connection file) are not the test process's
    _leave_kernel_event_loop()

    sys.path[:] = pytest_sys_path(cwd, env)
    sys.argv[:] = [pytest_argv0()] + list(spec.get("args", []))
    sys.orig_argv = [sys.executable, "-m", "pytest"] + list(spec.get("args", []))
    sys.modules["__main__"] = _main_module(sys.argv[0])
    # fidelity.py: the rest of what a fresh interpreter would be.
    fidelity.become_fresh(env, cwd, pytest_sys_path(cwd, env, base=[]), ctype_locale, fidelity.kernel_pid(),
                          spec, kernel_context)
    from ..in_kernel.preload import rewritable_plugins
    import_record.start(rewritable_plugins)  # learn what the tests import (learned.py)
    STATE.modules_at_start = set(sys.modules)  # the project's layer is what the run adds (project_layer.py)


def request_key(spec):
    """What a test process set up ahead for spec depends on: a run with an
    equal key could have been set up the same way (prepared.py)."""
    return {k: spec.get(k) for k in ("args", "cwd", "env", "stdout_isatty", "stderr_isatty", "stdin_isatty",
                                     "stdin_direct", "workers", "umask", "rlimits", "nice")}  # a lowered limit is not raised again


def run_pytest(args, workers=1, main=None):
    """pytest.main as `python -m pytest` runs it; returns the exit code.
    workers > 1 runs the collected items in that many forks (ltest -n).
    main(args, plugins): what runs instead of pytest.main (prepared.py)."""
    from ..private_api import pytest_api
    from .xdist_as_shards import XdistAsShards
    from .gateway_shards import GatewayShards, role_from_environment
    plugins = [XdistAsShards()]  # pytest-xdist's -n after `--` runs as ltest's -n
    role = role_from_environment()
    ask = getattr(sys.__stdin__, "ask_server", None)
    if role and ask is not None:  # one of a sharded run's runs over gateway kernels
        plugins.append(GatewayShards(role, workers, ask))
    elif workers > 1:
        from .shard import ShardPlugin
        plugins.append(ShardPlugin(workers))
    try:
        # Under the frames a cold run has above pytest's main (main_frames.py).
        run = (functools.partial(pytest_api.main_entry(), args=list(args), plugins=plugins) if main is None
               else functools.partial(main, list(args), plugins=plugins))
        code = main_frames.call(pytest_argv0(), run)
        code = _flush_like_console_main(code)
    except SystemExit as e:  # e.g. sys.exit() in a conftest
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            _print_error(e.code)
    except KeyboardInterrupt:  # outside pytest's session: CPython prints it and dies of SIGINT
        _print_error()
        code = 128 + signal.SIGINT
    except BaseException:  # CPython prints an uncaught exception and exits with 1
        _print_error()
        code = 1
    finish_like_python()
    import_record.finish()  # learned preloads to the cache
    return int(code)


def _flush_like_console_main(code):
    """pytest's console_main flushes stdout after main(): a closed pipe gives 1
    (the rest goes to /dev/null), any other failure escapes to CPython, which
    prints it and exits with 1 (e.g. a test closed fd 1)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    except Exception:
        _print_error()
        return 1
    return code


def _print_error(message=None):
    """The message, else the current traceback, on stderr; a test may have
    closed fd 2, which must not change the exit code."""
    try:
        if message is None:  # from where a cold run's traceback starts
            import traceback
            kind, value, tb = sys.exc_info()
            traceback.print_exception(kind, value, main_frames.trimmed(tb))
        else:
            print(message, file=sys.stderr)
    except Exception:
        pass


def finish_like_python():
    """What CPython does at exit before the caller's os._exit: wait for the
    non-daemon threads a test started, run the atexit handlers registered in
    this process, flush the standard streams."""
    import atexit
    import threading
    try:
        threading._shutdown()
    except KeyboardInterrupt:  # Ctrl-C while waiting: stop waiting, as CPython does
        pass
    except Exception:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
