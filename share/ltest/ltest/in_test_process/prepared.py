"""A spare prepared for the next run: as far towards it as is safe, ahead.

While idle, a practised spare takes the kernel's prediction of the next run
(the last run's request: same cwd, arguments and environment) and becomes
that run's test process up to the point where the run's file descriptors
would first matter: child.become_test_process with placeholder stdio, then
pytest's `_prepareconfig` (plugins loaded and registered, ini files read,
options parsed, initial conftest files imported: the costly part of a
session's set-up with many plugins installed), then the project's own
modules the last run imported (project_layer.py), then three parts of the
session's set-up whose results are known ahead: the plugins' fixture
definitions (fixtures_ahead.py), the `file` command's answer that
pytest-benchmark asks at configure (file_command_memo.py) and the last
run's test modules rewritten and compiled (rewrite_ahead.py). What is left
for the run is pytest's own main (the one `python -m pytest` calls, with
its environment, early exits, program name and error reports), whose call
of `_prepareconfig` is answered by the prepared configuration, with those
used (private_api/pytest_api.py: where its probe fails, nothing is
prepared). A run that pytest's main answers before any configuration
(pytest 9's lone `--version`) is not prepared.

At the hand-over the spare swaps its placeholders for the run's fds in every
place that holds one (fd 0-2, the duplicates pytest's capture saved, stdin's
second handle): found by inode in /proc/self/fd, so no plugin's copy is
missed. Whatever the preparation wrote to stdout or stderr (placeholder
memfds) is written to the run's first, so the output is the cold run's.

The kernel hands a run to a prepared spare only if the request equals the
prediction (in_kernel/spare.py) and nothing the preparation read changed
(file_watch.py: the watches set here; an edit made while the preparation
read, before its watches were set, shows in the files' times and ends the
preparation). A preparation that cannot be exact
ends the spare; the run then goes to a plain spare, with today's results.
"""
import contextlib
import os
import sys
import time

from .. import file_watch, sysdirs
from ..private_api import pytest_api
from . import child, file_command_memo, fixtures_ahead, forget_request, project_layer, rewrite_ahead


_TIMESTAMP_MARGIN_NS = 50_000_000


class EditedWhileReading(Exception):
    """A file the preparation read changed while it read (before its watches
    were set): this preparation cannot be exact, and the next one can."""


class _Placeholders:
    """Stand-ins for the run's stdin, stdout, stderr and control fds: a pipe
    at EOF, two memfds that keep what is written, a pipe nobody reads."""

    def __init__(self):
        in_r, in_w = os.pipe()
        os.close(in_w)
        ctl_r, ctl_w = os.pipe()
        os.close(ctl_r)
        self.stdin, self.ctl = in_r, ctl_w
        self.out = os.memfd_create("ltest-prepared-stdout", os.MFD_CLOEXEC)
        self.err = os.memfd_create("ltest-prepared-stderr", os.MFD_CLOEXEC)
        self.inodes = [self._inode(fd) for fd in (self.stdin, self.out, self.err, self.ctl)]

    @staticmethod
    def _inode(fd):
        st = os.fstat(fd)
        return st.st_dev, st.st_ino

    def written(self):
        """What the preparation wrote: (stdout bytes, stderr bytes)."""
        return tuple(os.pread(fd, os.fstat(fd).st_size, 0) for fd in (self.out, self.err))


class Prepared:
    def __init__(self, spec, config, placeholders, watch_fd, kinds, set_up=None):
        self.spec = spec
        self.config = config
        self.set_up = set_up  # a _SetUpAhead, or None
        self.placeholders = placeholders
        self.watch_fd = watch_fd
        self.kinds = kinds  # watch descriptor -> kind (file_watch.py)


def prepare(spec, keep_roots, layer_path):
    """Becomes the predicted run's test process as far as pytest's
    configuration and the project's layer; a Prepared, or None when the
    result would not be exact (the caller then must end this process: it is
    no longer a plain spare). Raises EditedWhileReading when an edit made
    while it read spoiled it (the caller ends this process too)."""
    args = list(spec.get("args", []))
    if pytest_api.exits_early(args):
        return None
    holders = _Placeholders()
    before = set(sys.modules)
    # Coarse file timestamps may lag the clock by a few ms: a margin before the start.
    start_ns = time.time_ns() - _TIMESTAMP_MARGIN_NS
    try:
        child.become_test_process(spec, os.dup(holders.stdin), os.dup(holders.out), os.dup(holders.err),
                                  holders.ctl, keep_roots)
        with _no_coverage_ahead():
            config = pytest_api.prepare_config(args)
        if config is None:  # the probe failed: the run is pytest's, unprepared
            return None
    except BaseException:  # a usage error, a conftest that fails, coverage on: the run reports it, unprepared
        return None
    layer = project_layer.importable_now(project_layer.load(layer_path)) if layer_path else []
    code_cache = os.path.join(os.path.dirname(layer_path), "code") if layer_path else None
    if layer and not project_layer.import_ahead(layer, (holders.out, holders.err), code_cache):
        project_layer.save(layer_path, [])  # the next spares prepare pytest alone for this directory
        return None
    set_up = _SetUpAhead(config, layer_path)  # before the watches: a plugin's lazy import is read too
    try:
        watch_fd, kinds, read = _watch_what_was_read(spec, config, before)
    except OSError:  # no inotify (or out of watches): nothing would tell an edit apart
        return None
    if _changed_since(start_ns, read):  # an edit before the watches were there: nothing else would see it
        os.close(watch_fd)
        raise EditedWhileReading()
    return Prepared(spec, config, holders, watch_fd, kinds, set_up)


@contextlib.contextmanager
def _no_coverage_ahead():
    """pytest-cov starts coverage in its pytest_load_initial_conftests, and
    erases the data file: done ahead, while the last run still writes its
    own data there, that spoils the last run's report. A preparation for a
    run with coverage on stops at that point instead (pytest-cov's hook is
    registered when its module is loaded: the module's function, replaced
    for the preparation, is the one registered)."""
    plugin = sys.modules.get("pytest_cov.plugin")
    original = getattr(plugin, "pytest_load_initial_conftests", None)
    if original is None:  # not installed when the kernel started (it imports every installed plugin)
        yield
        return

    def pytest_load_initial_conftests(early_config, parser, args):
        if getattr(early_config.known_args_namespace, "cov_source", None):
            raise RuntimeError("coverage is not started ahead of its run")
        return original(early_config, parser, args)

    pytest_load_initial_conftests.__dict__.update(original.__dict__)  # pluggy's marker: tryfirst
    plugin.pytest_load_initial_conftests = pytest_load_initial_conftests
    try:
        yield
    finally:
        plugin.pytest_load_initial_conftests = original


class _SetUpAhead:
    """The parts of the session's set-up done ahead, and their use in the run."""

    def __init__(self, config, layer_path):
        self.fixtures = fixtures_ahead.parse(config)
        try:
            self.file_memo = file_command_memo.ask_ahead()
        except Exception:
            self.file_memo = None
        rewritten = project_layer.load_rewritten(layer_path) if layer_path else []
        self.compiled = rewrite_ahead.compile_ahead(rewritten, config)

    def use(self, config):
        fixtures_ahead.use_at_session_start(config, self.fixtures)
        file_command_memo.use_during_configure(config, self.file_memo)
        rewrite_ahead.use(self.compiled)


def _changed_since(start_ns, read):
    """Did a file read, or the entries of a directory read, change after
    start_ns? read: (path, kind) with kind "file", or a watch kind for a
    directory ("ini": only its ini files count)."""
    for path, kind in read:
        paths = [os.path.join(path, n) for n in file_watch.INI_NAMES] if kind == "ini" else [path]
        for p in paths:
            try:
                if os.stat(p).st_mtime_ns >= start_ns:
                    return True
            except OSError:
                if kind != "ini":  # an ini file that is not there is the usual case
                    return True
    return False


def _ancestors(path):
    path = os.path.abspath(path)
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _watch_what_was_read(spec, config, modules_before):
    """inotify watches on the directories the preparation read from: the
    cwd and its ancestors (pytest's ini and rootdir search), the arguments'
    directories, sys.path entries outside the interpreter, every module file
    imported since (conftest files, the layer) and the site directories."""
    kinds = {}
    read = set()  # (path, "file" or the directory's watch kind)
    strength = {"ini": 0, "code": 1, "any": 2}
    fd = file_watch.open_watch()

    def watch(directory, kind):
        if os.path.isdir(directory):
            wd = file_watch.add(fd, directory)
            read.add((directory, kind))
            if strength[kind] >= strength.get(kinds.get(wd), -1):
                kinds[wd] = kind

    try:
        cwd = spec.get("cwd") or os.getcwd()
        for directory in _ancestors(cwd):
            watch(directory, "ini")
        for arg in spec.get("args", []):
            path = os.path.join(cwd, str(arg).split("::")[0])
            if not arg.startswith("-") and os.path.exists(path):
                for directory in _ancestors(path if os.path.isdir(path) else os.path.dirname(path)):
                    watch(directory, "ini")
        system = sysdirs.system_dirs()
        for entry in sys.path:
            if entry and not os.path.realpath(entry).startswith(system):
                watch(entry, "code")
        for name in [n for n in sys.modules if n not in modules_before]:
            path = getattr(sys.modules.get(name), "__file__", None)
            if isinstance(path, str):
                watch(os.path.dirname(path), "code")
                read.add((path, "file"))
        for directory in _site_directories():
            watch(directory, "any")
        if config.inipath is not None:
            watch(os.path.dirname(str(config.inipath)), "code")
            read.add((str(config.inipath), "file"))
    except BaseException:
        os.close(fd)
        raise
    return fd, kinds, read


def _site_directories():
    import site
    dirs = list(getattr(site, "getsitepackages", lambda: [])())
    with contextlib.suppress(Exception):
        dirs.append(site.getusersitepackages())
    return dirs


def attach(prepared, fds):
    """The run's fds take the placeholders' places (every fd that refers to
    a placeholder), after what the preparation wrote went to them."""
    holders = prepared.placeholders
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    stdin_r, out_w, err_w, ctl_w = fds
    for data, fd in zip(holders.written(), (out_w, err_w)):
        _write_all(fd, data)
    for fd in (holders.out, holders.err):
        os.close(fd)
    real = dict(zip(holders.inodes, fds))
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in fds:
            continue
        try:
            st = os.fstat(fd)
        except OSError:  # the directory's own fd, gone already
            continue
        target = real.get((st.st_dev, st.st_ino))
        if target is not None:
            os.dup2(target, fd, inheritable=fd <= 2)
    for fd in set(fds):
        os.close(fd)


def _write_all(fd, data):
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:  # the client is gone: the run ends as it would
            return


def run(prepared, spec, fds):
    """The run from where the preparation left it; returns the exit code."""
    if child.request_key(spec) != child.request_key(prepared.spec):
        _refuse(prepared, fds)
    attach(prepared, fds)
    forget_request.forget(spec, prepared.spec)  # no run request left in the test process (forget_request.py)
    # pytest's main is given no arguments: the prepared configuration has them.
    return child.run_pytest([], main=lambda args, plugins: _main(prepared, args, plugins))


def _refuse(prepared, fds):
    """A run this process was not prepared for (the kernel should never hand
    one over): its stderr and control pipe take fd 2's and the control
    placeholder's places, so that the error line and the exit code reach its
    client. What the preparation wrote is not that run's and stays behind."""
    _, _, err_w, ctl_w = fds
    os.dup2(err_w, 2)
    os.dup2(ctl_w, prepared.placeholders.ctl)
    raise child.SetupError("internal: a prepared test process was handed another run than it was prepared for")


def _main(prepared, args, plugins=()):
    """pytest's own main, answered by the prepared configuration; plugins
    (child.run_pytest's: xdist's -n as ltest's) join it before its session."""
    set_up = prepared.set_up

    def before_session(config):
        for plugin in plugins:
            config.pluginmanager.register(plugin)
        if set_up is not None:
            set_up.use(config)
    return pytest_api.run_main_prepared(args, prepared.config, before_session=before_session)
