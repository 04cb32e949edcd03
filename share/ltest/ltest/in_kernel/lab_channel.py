"""The Tests panel's own channel to the kernel: a Jupyter comm (target
TARGET) whose runs never hold the kernel.

A panel run is started as the server's hand-over starts a CLI run
(handover.py, runner.take_run): from the kernel's event loop, the test
process is forked with fds made here (stdout, stderr, control; stdin is
/dev/null) and the message handler returns at once. The kernel then reads
those fds from its event loop as they become readable, so a notebook cell
sent during a panel run runs at once, beside the run. Events (lab_panel.py's,
picked out of the test process's stdout) and the rest of pytest's output go
back as comm messages, each naming the panel's run id.

The panel's messages:  {"action": "collect", "run": ID, "directory": D}
                       {"action": "run", "run": ID, "directory": D, "nodeids": [...]}
                       {"action": "stop", "run": ID}   (SIGINT to the run's group; again: SIGKILL)
The kernel's messages: lab_panel.py's events plus "run": ID; {"event": "output",
                       "text"}; {"event": "refused", "reason"} for a request it
                       cannot take (the panel shows the reason); the run's last
                       is {"event": "finished", "exit_code"}.
"""
import codecs
import os
import signal

from . import reaping, run_request
from .lab_panel import PLUGIN, EventRelay

TARGET = "ltest.panel"
GRACE = 1.0  # seconds a process the tests left behind may hold the output after pytest's exit


def register():
    """Lets panels open the channel in this kernel (the panel's one execute
    request, silent, once per kernel); a no-op when registered already."""
    from ..sysdirs import ipython_shell
    kernel = getattr(ipython_shell(), "kernel", None)
    if kernel is None:
        raise RuntimeError("ltest's Tests panel needs an IPython kernel")
    kernel.comm_manager.register_target(TARGET, _opened)


def _opened(comm, _open_msg):
    Channel(comm.send).attach(comm)


def pytest_args(data):
    """pytest's arguments for a collect or run request; ValueError with the
    reason for one the panel should not have sent."""
    directory = data.get("directory", ".")
    if not isinstance(directory, str) or not directory.strip():
        raise ValueError("the tests' directory must be a non-empty string")
    if directory.startswith("-"):  # pytest would read it as an option
        raise ValueError(f"the tests' directory {directory!r} starts with '-': name it ./{directory}")
    if data.get("action") == "collect":
        return ["-p", PLUGIN, "--collect-only", "-q", directory]
    nodeids = data.get("nodeids") or []
    if not isinstance(nodeids, list) or not all(isinstance(n, str) and n for n in nodeids):
        raise ValueError("nodeids must be a list of test ids")
    if any(n.startswith("-") for n in nodeids):
        raise ValueError("a test id cannot start with '-'")
    return ["-p", PLUGIN, "-q"] + (nodeids or [directory])


class Channel:
    """One panel's comm: at most one run at a time (the panel waits for a
    run's end before it starts another)."""

    def __init__(self, send):
        self.send = send
        self.run = None

    def attach(self, comm):
        comm.on_msg(lambda msg: self.received(msg["content"]["data"]))
        comm.on_close(lambda _msg: self.stop(signal.SIGKILL))

    def received(self, data):
        if not isinstance(data, dict):
            return
        run_id = data.get("run")
        action = data.get("action")
        if action == "stop":
            if self.run is not None and self.run.run_id == run_id:
                self.run.stop()
            return
        try:
            if action not in ("collect", "run"):
                raise ValueError(f"unknown action {action!r}")
            args = pytest_args(data)
            if self.run is not None:
                raise ValueError("a run is going on in this kernel's panel; stop it first")
            loop = reaping.kernel_loop()
            if loop is None:
                raise ValueError("the kernel has no running event loop")
            self.run = BackgroundRun(loop, run_id, args, self.send, self._ended)
        except Exception as e:  # a bad request or a fork that failed: the panel says why, the kernel goes on
            self.send({"run": run_id, "event": "refused", "reason": f"{type(e).__name__}: {e}"})
            self.send({"run": run_id, "event": "finished", "exit_code": None})

    def stop(self, sig=None):
        if self.run is not None:
            self.run.stop(sig)

    def _ended(self, run):
        if self.run is run:
            self.run = None


class BackgroundRun:
    """One panel run's test process and the kernel's reading of its output."""

    def __init__(self, loop, run_id, args, send, ended):
        self.loop = loop
        self.run_id = run_id
        self.send_raw = send
        self.ended = ended
        self.exit_code = None  # as the test process reported it
        self.stops = 0
        self.done = False
        from . import runner
        reaping.reap_finished()
        request = run_request.RunRequest(list(args), os.getcwd(), dict(os.environ), stdin_direct=True)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        in_r = os.open(os.devnull, os.O_RDONLY)
        child_fds = (in_r, out_w, err_w, ctl_w)
        try:
            self.pid, _ = runner.start_test_process(request.child_spec(), child_fds, close_fds=(out_r, err_r, ctl_r),
                                                    use_spare=False, wire=vars(request))
        except BaseException:
            for fd in (out_r, err_r, ctl_r):
                os.close(fd)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        relay = EventRelay(self.send, _Output(self.send))
        self.readers = {out_r: (relay, _decoder()), err_r: (_Output(self.send), _decoder())}
        self.ctl_r = ctl_r
        self.ctl_buffer = b""
        self.timer = None
        self.open = {out_r, err_r, ctl_r}
        for fd in self.open:
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._readable, fd)

    def send(self, event):
        self.send_raw(dict(event, run=self.run_id))

    def stop(self, sig=None):
        """The panel's stop button: the first interrupts pytest as Ctrl-C does
        in a terminal (its summary follows), the next kills the run."""
        if self.done:
            return
        self.stops += 1
        reaping.kill_group(self.pid, sig or (signal.SIGINT if self.stops == 1 else signal.SIGKILL))

    def _readable(self, fd):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if fd == self.ctl_r:
            self.ctl_buffer += data
            *lines, self.ctl_buffer = self.ctl_buffer.split(b"\n")
            for line in lines:
                if line.startswith(b"X "):
                    self.exit_code = int(line[2:])
                    # Output still open after pytest's exit belongs to processes the tests left.
                    self.timer = self.loop.call_later(GRACE, self._finish, True)
        else:
            stream, decoder = self.readers[fd]
            text = decoder.decode(data, final=not data)
            if text:
                stream.write(text)
        if not data:
            self._close(fd)
            # Done when the output is closed and the exit code is in, or when
            # everything is closed (the test process died without a word).
            if not self.open & set(self.readers) and (self.exit_code is not None or self.ctl_r not in self.open):
                self._finish(False)

    def _close(self, fd):
        self.open.discard(fd)
        self.loop.remove_reader(fd)
        os.close(fd)

    def _finish(self, forced):
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
        for fd in list(self.open):
            self._close(fd)
        if forced:
            reaping.kill_group(self.pid, signal.SIGKILL)
        if self.exit_code is not None:
            reaping.reap_later(self.pid)  # its teardown is off the kernel's path
            code = self.exit_code
        else:  # the test process died without a word: a signal, os._exit in a test
            code = reaping.exit_code_of(reaping.reap(self.pid))
        self.ended(self)
        self.send({"event": "finished", "exit_code": code})


class _Output:
    """pytest's own output (not events): sent as it comes."""

    def __init__(self, send):
        self.send = send

    def write(self, text):
        if text:
            self.send({"event": "output", "text": text})
        return len(text)

    def flush(self):
        pass


def _decoder():
    return codecs.getincrementaldecoder("utf-8")("replace")
