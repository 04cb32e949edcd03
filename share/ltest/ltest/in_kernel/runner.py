"""The kernel side of a run: fork, let the child run pytest, relay its output.

The parent (the kernel) writes the child's stdout and stderr to its own
sys.stdout/sys.stderr, which ipykernel publishes as Jupyter `stream` messages
on iopub under the current request's parent header: the ltest server and a
notebook cell (`%ltest`) receive them the same way.
"""
import codecs
import errno
import gc
import json
import os
import select
import signal
import sys
import time

from .. import eviction
from ..in_test_process import child, fidelity, process_main, warmup
from . import forksafety, handover, run_request, spare
from .preload import preloaded_roots
from .result import Reply, remember
from ..state import STATE
from ..sysdirs import ipython_shell


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


def _answer_input(stdin_w, secret_prompt=None):
    """The child waits for a line: ask the frontend (input_request on the
    Jupyter stdin channel; a password one, with its prompt, for getpass) and
    pass the answer on; EOF closes the child's stdin."""
    try:
        if secret_prompt is not None:
            import getpass
            value = getpass.getpass(secret_prompt)  # ipykernel's: input_request with password=True
        else:
            value = input("")
    except Exception:  # EOFError, or a frontend that cannot answer
        os.close(stdin_w)
        return None
    os.write(stdin_w, value.encode("utf-8", "replace") + b"\n")
    return stdin_w


def run(args, cwd=None, env=None, stdout_isatty=False, stderr_isatty=False, columns=80, lines=24,
        stdout=None, stderr=None, workers=1, use_spare=False, umask=None, stdin_isatty=False):
    """Runs `pytest ARGS` in a fork of this process; returns the exit code.
    Output goes to `stdout`/`stderr` (default: this process's sys.stdout/err).
    workers > 1 splits the collected tests over that many forked workers.
    use_spare: run in the spare test process forked ahead of time, if current."""
    return _relayed_run(run_request.RunRequest(list(args), cwd or os.getcwd(),
                                               dict(env if env is not None else os.environ), stdout_isatty,
                                               stderr_isatty, columns, lines, workers, umask, stdin_isatty),
                        stdout, stderr, use_spare)[0]


def _relayed_run(request, stdout=None, stderr=None, use_spare=False):
    """(exit code, state of the spare it ran in or None): a run whose output
    this process relays to its own streams."""
    _reap_finished()
    columns, lines = request.columns, request.lines
    spec = request.child_spec()
    out_r, out_w = _open_output(request.stdout_isatty, columns, lines)
    err_r, err_w = _open_output(request.stderr_isatty, columns, lines)
    in_r, in_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    child_fds = (in_r, out_w, err_w, ctl_w)
    sys.stdout.flush()
    sys.stderr.flush()
    pid, state = start_test_process(spec, child_fds, close_fds=(out_r, err_r, in_w, ctl_r), use_spare=use_spare)
    for fd in child_fds:
        os.close(fd)
    relay = _ChildRelay(pid, out_r, err_r, in_w, ctl_r, stdout or sys.stdout, stderr or sys.stderr)
    try:
        code = relay.wait()
    finally:
        relay.close()
    return code, state


def _plan_for_fork():
    """What the next fork would otherwise scan sys.modules for: the modules
    it evicts, and fidelity.py's lookups."""
    eviction.warm_module_cache(preloaded_roots())
    fidelity.plan_in_kernel()


def start_test_process(spec, child_fds, close_fds=(), use_spare=True):
    """Starts pytest for spec with child_fds (stdin, stdout, stderr, control)
    in the spare if it is current, else in a fresh fork; close_fds are the
    caller's own ends, which the fork inherits. Returns (pid, the spare's
    state or None when forked afresh)."""
    taken = spare.hand_over(spec, child_fds) if use_spare else None
    if taken is not None:
        return taken.pid, taken.state
    _plan_for_fork()  # a spare had its plan made when it was forked
    # The child's collector need not walk the kernel's whole heap (slow, and
    # it dirties copy-on-write pages): freeze it for the fork, thaw it after.
    gc.freeze()
    kernel = os.getpid()
    pid = os.fork()
    if pid == 0:
        child.die_with_parent(kernel)  # at once: a kernel killed now must not leave this fork behind
        process_main.fresh(spec, child_fds, close_fds=close_fds)
    gc.unfreeze()
    return pid, None


class _ChildRelay:
    """The kernel's side of one test process: output, input, interrupts, exit."""

    def __init__(self, pid, out_r, err_r, stdin_w, ctl_r, stdout, stderr):
        self.pid = pid
        self.relays = {out_r: _Relay(out_r, stdout), err_r: _Relay(err_r, stderr)}
        self.stdin_w = stdin_w
        self.ctl_r = ctl_r
        self.ctl_buffer = b""
        self.exit_code = None  # as the child reported it
        self.interrupts = 0
        self.reaped = False

    def wait(self):
        open_fds = [*self.relays, self.ctl_r]
        # Done when the output is closed and the exit code is in, or when
        # everything is closed (the child died without a word).
        while open_fds and not (self.exit_code is not None and not any(fd in open_fds for fd in self.relays)):
            try:
                # Once the exit code is in, output still open belongs to processes
                # the tests left behind: a short grace, then they go with the group.
                ready, _, _ = select.select(open_fds, [], [], None if self.exit_code is None else 1.0)
                if not ready:
                    _kill_group(self.pid, signal.SIGKILL)
                    break
                for fd in ready:
                    if fd == self.ctl_r:
                        if not self._control(open_fds):
                            open_fds.remove(fd)
                    elif not self.relays[fd].pump():
                        open_fds.remove(fd)
            except KeyboardInterrupt:
                # Ctrl-C reached the kernel (also while it waited for input):
                # the first interrupts the tests as in a terminal, the next kills them.
                self.interrupts += 1
                _kill_group(self.pid, signal.SIGINT if self.interrupts == 1 else signal.SIGKILL)
        if self.exit_code is not None:
            _reap_later(self.pid)  # its teardown is off the critical path
            self.reaped = True
            return self.exit_code
        self.reaped = True
        return exit_code_of(_reap(self.pid))

    def _control(self, open_fds):
        """Handles the child's requests: b"I" wants a line of input, b"X n" is
        its exit code. False at EOF."""
        data = os.read(self.ctl_r, 64)
        if not data:
            return False
        self.ctl_buffer += data
        *lines, self.ctl_buffer = self.ctl_buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"X "):
                self.exit_code = int(line[2:])
            elif (line == b"I" or line.startswith(b"P ")) and self.stdin_w is not None:  # P: child_stdin.relay_getpass
                for fd, relay in self.relays.items():  # the prompt first, then the question
                    while fd in open_fds and select.select([fd], [], [], 0)[0] and relay.pump():
                        pass
                secret = json.loads(line[2:]) if line.startswith(b"P ") else None
                self.stdin_w = _answer_input(self.stdin_w, secret)
        return True

    def close(self):
        if not self.reaped:  # the relay itself failed: never leave the tests running
            _kill_group(self.pid, signal.SIGKILL)
            _reap(self.pid)
        for fd in (*self.relays, self.ctl_r, self.stdin_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


def _kill_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid):
    """Waits for the test process; then kills what it left in its group."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except KeyboardInterrupt:
            _kill_group(pid, signal.SIGKILL)
        except ChildProcessError:
            return 0
    _kill_group(pid, signal.SIGKILL)
    return status


_unreaped = set()


def _reap_finished():
    """Reaps test processes that have exited; kills what they left behind."""
    for pid in list(_unreaped):
        status = None
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _unreaped.discard(pid)
            _kill_group(pid, signal.SIGKILL)
            handover.report_reaped(pid, exit_code_of(status) if done == pid and status is not None else 0)


def _kernel_loop():
    """The kernel's running asyncio loop, or None outside a kernel."""
    import asyncio
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _reap_later(pid, stuck_after=10):
    """Reaps pid from the kernel's event loop when it exits: a child that
    reported its exit code (the reply need not wait for its teardown; killed
    if still exiting stuck_after seconds later), or a test process handed
    over to the server (stuck_after None: it runs as long as its tests)."""
    loop = _kernel_loop()
    if loop is None:  # not in a kernel (tests, a plain process): reap now
        _reap(pid)
        return
    _unreaped.add(pid)
    deadline = None if stuck_after is None else time.monotonic() + stuck_after

    def check():
        _reap_finished()
        if pid in _unreaped:
            if deadline is not None and time.monotonic() > deadline:  # stuck in exit: kill it
                _kill_group(pid, signal.SIGKILL)
            loop.call_later(0.02 if deadline is not None else 0.05, check)

    loop.call_later(0.01, check)


def prepare_spare():
    """Forks the next runs' test processes ahead of time, once this request
    is answered (from the kernel's event loop), off every run's critical
    path; a moment later one of them practises (spare.py)."""
    loop = _kernel_loop()
    if loop is None:
        return

    def fork_spares():
        _plan_for_fork()
        try:
            directory = warmup.practice_directory()
        except OSError:  # no writable temporary directory: spares without practice
            directory = None
        practise = (lambda: warmup.warm_up(directory, preloaded_roots())) if directory else None
        for _ in range(spare.wanted()):
            if spare.prefork(_reap_later, practise, preloaded_roots()) is None:
                break
        loop.call_later(spare.PRACTICE_DELAY, lambda: spare.practise_next(loop))

    STATE.refill = prepare_spare  # after an edit drops the prepared spare (spare.py)
    loop.call_soon(fork_spares)


_warned = set()


def _warn_once(text, fd=None):
    """A warning on the client's stderr (fd: the run's own stderr), once per
    cause, not on every run."""
    if text and text not in _warned:
        _warned.add(text)
        line = f"ltest: warning: {text}\n"
        if fd is None:
            sys.stderr.write(line)
            sys.stderr.flush()
        else:
            try:
                os.write(fd, line.encode("utf-8", "replace"))
            except OSError:
                pass


def _hash_seed_mismatch(env):
    """hash() of str uses the seed the kernel started with; no fork can change it."""
    wanted, kernel = env.get("PYTHONHASHSEED", "random"), os.environ.get("PYTHONHASHSEED", "random")
    if wanted == kernel or wanted == "random":
        return None
    return (f"PYTHONHASHSEED={wanted} cannot apply in a warm kernel (hash() keeps the kernel's seed); "
            f"start the server with it: PYTHONHASHSEED={wanted} ltest -l ...")


def _warn_about_fork(spec, fd=None):
    """Warnings for the run's client; returns why forking looks unsafe."""
    _warn_once(_hash_seed_mismatch(spec.get("env") or {}), fd)
    reasons = forksafety.unsafe_reasons()
    for why in reasons:
        _warn_once(f"forking this kernel may hang the tests: {why}", fd)
    return reasons


def _predict_next(spec):
    """The next run is expected to be this one again: a spare gets ready
    for it (spare.py). Runs in several workers are not prepared, nor runs
    whose client set LTEST_PREPARE=0 (README: Known limits)."""
    wanted = spec.get("workers", 1) == 1 and (spec.get("env") or {}).get("LTEST_PREPARE") != "0"
    STATE.prediction = spec if wanted else None


def take_run(run_id):
    """A run the server handed over (handover.py): starts its test process
    with the server's fds and returns at once, so the kernel is busy for the
    hand-over only. The server reads the output and the exit code itself."""
    start = time.perf_counter()
    spec, fds = handover.receive(run_id)
    try:
        reasons = _warn_about_fork(spec, fd=fds[2])
        spec = run_request.child_spec(spec)
        pid, state = start_test_process(spec, fds)
        _predict_next(spec)
    finally:
        for fd in fds:
            os.close(fd)
    _reap_later(pid, stuck_after=None)
    prepare_spare()
    return remember(Reply(pid=pid, spare=state is not None, practised=state in ("ready", "prepared"),
                          prepared=state == "prepared", fork_unsafe=reasons,
                          duration=round(time.perf_counter() - start, 6)))


def serve(spec):
    """One run relayed through the kernel (a kernel on another host than the
    server, which cannot take fds): spec is the client's run request; output
    goes out as the kernel's own stream messages."""
    start = time.perf_counter()
    reasons = _warn_about_fork(spec)
    request = run_request.RunRequest.from_wire(spec)
    code, state = _relayed_run(request, use_spare=True)
    _predict_next(request.child_spec())
    prepare_spare()
    reply = remember(Reply(exit_code=code, duration=round(time.perf_counter() - start, 6), fork_unsafe=reasons,
                           spare=state is not None, practised=state in ("ready", "prepared"),
                           prepared=state == "prepared"))
    _announce(reply)
    return reply


def _announce(reply):
    """Publishes the result on iopub at once, after the run's last output (same
    socket, so in order): the server can answer its client without waiting
    for the end of the execute request (user expressions, reply, idle).
    Frontends ignore message types they do not know."""
    sys.stdout.flush()
    sys.stderr.flush()
    kernel = getattr(ipython_shell(), "kernel", None)
    if kernel is None:
        return
    try:
        kernel.session.send(kernel.iopub_socket, "ltest_result", dict(reply), parent=kernel.get_parent("shell"),
                            ident=kernel._topic("ltest_result"))
    except Exception:  # an ipykernel without these: the execute reply still carries the result
        pass
