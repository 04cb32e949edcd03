"""The kernel side of a run: fork, let the child run pytest, relay its output.

The parent (the kernel) writes the child's stdout and stderr to its own
sys.stdout/sys.stderr, which ipykernel publishes as Jupyter `stream` messages
on iopub under the current request's parent header: the ltest server and a
notebook cell (`%ltest`) receive them the same way.
"""
import codecs
import errno
import gc
import os
import select
import signal
import sys
import time

from . import child, forksafety
from .preload import preloaded_roots
from .result import Reply, remember


def _open_output(tty, columns, lines):
    """(read end, write end) for one output stream: a pty sized like the
    client's terminal when that stream is a terminal (colours, width and
    isatty() as in the user's shell), else a pipe."""
    if not tty:
        return os.pipe()
    import fcntl
    import struct
    import termios
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no \n -> \r\n: the bytes stay as the test wrote them
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines or 24, columns or 80, 0, 0))
    return master, slave


def exit_code_of(status):
    """A shell's view of a wait status: exit code, or 128+N for signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class _Relay:
    """Copies the child's bytes to the kernel's streams as they come."""

    def __init__(self, fd, stream):
        self.fd = fd
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def pump(self):
        """Reads once; False at EOF (a pty reports EIO when the child is gone)."""
        try:
            data = os.read(self.fd, 65536)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            data = b""
        text = self.decoder.decode(data, final=not data)
        if text:
            self.stream.write(text)
            self.stream.flush()
        return bool(data)


def _answer_input(stdin_w):
    """The child waits for a line: ask the frontend (input_request on the
    Jupyter stdin channel) and pass the answer on; EOF closes the child's stdin."""
    try:
        value = input("")
    except (EOFError, Exception):
        os.close(stdin_w)
        return None
    os.write(stdin_w, value.encode("utf-8", "replace") + b"\n")
    return stdin_w


def run(args, cwd=None, env=None, stdout_isatty=False, stderr_isatty=False, columns=80, lines=24,
        stdout=None, stderr=None, workers=1):
    """Runs `pytest ARGS` in a fork of this process; returns the exit code.
    Output goes to `stdout`/`stderr` (default: this process's sys.stdout/err).
    workers > 1 splits the collected tests over that many forked workers."""
    spec = {"args": list(args), "cwd": cwd or os.getcwd(), "env": dict(env if env is not None else os.environ),
            "stdout_isatty": stdout_isatty, "stderr_isatty": stderr_isatty}
    out_r, out_w = _open_output(stdout_isatty, columns, lines)
    err_r, err_w = _open_output(stderr_isatty, columns, lines)
    in_r, in_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    # The child's collector need not walk the kernel's whole heap (slow, and it
    # dirties copy-on-write pages): freeze it for the fork, thaw it here after.
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the test process: never returns
        code = 3
        try:
            for fd in (out_r, err_r, in_w, ctl_r):
                os.close(fd)
            child.become_test_process(spec, in_r, out_w, err_w, ctl_w, preloaded_roots())
            code = child.run_pytest(spec["args"], workers)
        except BaseException:
            try:
                import traceback
                traceback.print_exc()
            except BaseException:
                pass
        finally:
            os._exit(code)

    gc.unfreeze()
    for fd in (out_w, err_w, in_r, ctl_w):
        os.close(fd)
    relays = {out_r: _Relay(out_r, stdout or sys.stdout), err_r: _Relay(err_r, stderr or sys.stderr)}
    stdin_w = in_w
    interrupts = 0
    status = None
    try:
        open_fds = [out_r, err_r, ctl_r]
        while open_fds:
            try:
                ready, _, _ = select.select(open_fds, [], [])
                for fd in ready:
                    if fd == ctl_r:
                        request = os.read(ctl_r, 64)
                        if not request:
                            open_fds.remove(ctl_r)
                        elif stdin_w is not None:
                            for r in list(relays):  # the prompt first, then the question
                                while r in open_fds and select.select([r], [], [], 0)[0] and relays[r].pump():
                                    pass
                            stdin_w = _answer_input(stdin_w)
                    elif not relays[fd].pump():
                        open_fds.remove(fd)
            except KeyboardInterrupt:
                # Ctrl-C reached the kernel (also while it waited for input):
                # the first interrupts the tests as in a terminal, the next kills them.
                interrupts += 1
                try:
                    os.killpg(pid, signal.SIGINT if interrupts == 1 else signal.SIGKILL)
                except ProcessLookupError:
                    pass
        status = _reap(pid)
    finally:
        if status is None:  # the relay itself failed: never leave the tests running
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(pid)
        for fd in (out_r, err_r, ctl_r, stdin_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
    return exit_code_of(status)


def _reap(pid):
    # The child's streams are closed: it has exited or is about to. Its own
    # children (if a test forked and left them) die with its process group.
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except KeyboardInterrupt:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return status


_warned = set()


def serve(spec):
    """One run for the ltest server: spec is the client's run request."""
    start = time.perf_counter()
    reasons = forksafety.unsafe_reasons()
    for why in reasons:
        if why not in _warned:  # once per cause, not on every run
            _warned.add(why)
            sys.stderr.write(f"ltest: warning: forking this kernel may hang the tests: {why}\n")
            sys.stderr.flush()
    code = run(spec.get("args", []), cwd=spec.get("cwd"), env=spec.get("env"),
               stdout_isatty=bool(spec.get("stdout_isatty")), stderr_isatty=bool(spec.get("stderr_isatty")),
               columns=int(spec.get("columns") or 80), lines=int(spec.get("lines") or 24),
               workers=int(spec.get("workers", 1)) or os.cpu_count() or 1)
    return remember(Reply(exit_code=code, duration=round(time.perf_counter() - start, 6), fork_unsafe=reasons))
