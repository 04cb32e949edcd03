"""Turn a fork of the kernel into the process `python -m pytest ARGS` would be.

Everything here runs in the forked child only. The pure functions at the top
(`pytest_sys_path`, `modules_to_evict`, ...) are tested without a kernel.
"""
import asyncio
import builtins
import io
import os
import signal
import sys
import types

# sys.path as the kernel's interpreter had it at start, minus the script dir and
# the kernel's own PYTHONPATH: the part `python -m pytest` would also have.
_kernel_pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
BASE_SYS_PATH = [p for p in sys.path if p not in ("", os.getcwd()) and p not in _kernel_pythonpath]


def pytest_sys_path(cwd, env, base=BASE_SYS_PATH):
    """`python -m pytest` puts the cwd first, then $PYTHONPATH, then the
    interpreter's own path (stdlib, site-packages)."""
    extra = [os.path.abspath(os.path.join(cwd, p)) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    head = [cwd] + extra
    return head + [p for p in base if p not in head]


def _system_dirs():
    import site
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # site without these (virtualenv's old site.py)
        pass
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


def modules_to_evict(modules, keep_roots, system_dirs=None):
    """Names of modules of the user's own code: a file outside the interpreter's
    prefix and site-packages, and not under a preloaded top-level package.
    The child drops them so that tests import the files on disk, never a copy
    a notebook imported earlier."""
    system_dirs = system_dirs if system_dirs is not None else _system_dirs()
    out = []
    for name, mod in list(modules.items()):
        path = getattr(mod, "__file__", None)
        if not isinstance(path, str) or name.split(".")[0] in keep_roots or name == "ltest" or name.startswith("ltest."):
            continue
        if not os.path.realpath(path).startswith(system_dirs):
            out.append(name)
    return out


def pytest_argv0():
    import pytest
    return os.path.join(os.path.dirname(pytest.__file__), "__main__.py")


class RelayStdin(io.TextIOBase):
    """stdin of the test process. A read first asks the kernel (through the
    control pipe) to fetch a line from the client, so input() and pdb prompt
    the user only when the test really reads."""

    def __init__(self, fd, ctl_fd):
        self._fd = fd
        self._ctl = ctl_fd
        self._buf = b""
        self._eof = False

    def fileno(self):
        return self._fd

    def readable(self):
        return True

    def isatty(self):
        return False

    def _fill(self):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.write(self._ctl, b"I\n")
        while not self._eof and b"\n" not in self._buf:
            chunk = os.read(self._fd, 65536)
            if not chunk:
                self._eof = True
            self._buf += chunk

    def readline(self, size=-1):
        if b"\n" not in self._buf and not self._eof:
            self._fill()
        nl = self._buf.find(b"\n")
        end = len(self._buf) if nl < 0 else nl + 1
        if size is not None and size >= 0:
            end = min(end, size)
        line, self._buf = self._buf[:end], self._buf[end:]
        return line.decode("utf-8", "replace")

    def read(self, size=-1):
        parts = []
        while size is None or size < 0 or sum(map(len, parts)) < size:
            line = self.readline()
            if not line:
                break
            parts.append(line)
        return "".join(parts)


def _text_stream(fd, tty):
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    return io.TextIOWrapper(io.open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False),
                            encoding="utf-8", errors="backslashreplace" if fd == 2 else "strict",
                            line_buffering=tty or fd == 2, write_through=unbuffered)


def _restore_kernel_hooks():
    """Undo what ipykernel patched in the kernel process: input() and getpass
    talk to the kernel's stdin socket, which the child does not own."""
    try:
        kernel = get_ipython().kernel  # noqa: F821 (defined in a kernel)
    except Exception:
        kernel = None
    if kernel is not None:
        raw_input = getattr(kernel, "_sys_raw_input", None)
        if raw_input is not None:
            builtins.input = raw_input
        getpass_orig = getattr(kernel, "_save_getpass", None)
        if getpass_orig is not None:
            import getpass
            getpass.getpass = getpass_orig
    sys.excepthook = sys.__excepthook__
    sys.displayhook = sys.__displayhook__


def _leave_kernel_event_loop():
    # The run was called from inside the kernel's running asyncio loop; a test
    # calling asyncio.run() must not see it.
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop_policy(None)


def _quiet_inline_matplotlib():
    mpl = sys.modules.get("matplotlib")
    if mpl is not None and "inline" in str(mpl.get_backend()).lower():
        mpl.use("Agg", force=True)


def _die_with_parent():
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphan if the kernel dies
    except Exception:
        pass


def become_test_process(spec, stdin_fd, stdout_fd, stderr_fd, ctl_fd, keep_roots):
    """Everything `python -m pytest` would have: fds, signals, env, cwd, paths."""
    os.setpgid(0, 0)  # the run and what it forks can be killed as one group
    _die_with_parent()
    os.dup2(stdin_fd, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    for fd in {stdin_fd, stdout_fd, stderr_fd}:
        if fd > 2:
            os.close(fd)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as CPython sets it

    env = spec.get("env") or dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    cwd = spec.get("cwd") or os.getcwd()
    os.chdir(cwd)

    sys.stdout = sys.__stdout__ = _text_stream(1, bool(spec.get("stdout_isatty")))
    sys.stderr = sys.__stderr__ = _text_stream(2, bool(spec.get("stderr_isatty")))
    sys.stdin = sys.__stdin__ = RelayStdin(0, ctl_fd)
    _restore_kernel_hooks()
    _leave_kernel_event_loop()
    _quiet_inline_matplotlib()

    sys.path[:] = pytest_sys_path(cwd, env)
    sys.argv[:] = [pytest_argv0()] + list(spec.get("args", []))
    for name in modules_to_evict(sys.modules, keep_roots):
        del sys.modules[name]
    main = types.ModuleType("__main__")
    main.__file__ = sys.argv[0]
    sys.modules["__main__"] = main


def run_pytest(args):
    """pytest.main as `python -m pytest` runs it; returns the exit code."""
    import pytest
    try:
        code = pytest.main(list(args))
    except SystemExit as e:  # e.g. sys.exit() in a conftest
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 2
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 3
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return int(code)
