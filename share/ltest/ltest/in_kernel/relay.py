"""The kernel's side of a test process whose output it relays to its own
streams (a kernel on another host, `%ltest`, the Tests panel): output as it
comes, input from the frontend, interrupts, the exit code.

The kernel writes the child's stdout and stderr to its own sys.stdout and
sys.stderr, which ipykernel publishes as Jupyter `stream` messages on iopub
under the current request's parent header: the ltest server and a notebook
cell receive them the same way.
"""
import codecs
import errno
import json
import os
import select
import signal

from .reaping import exit_code_of, kill_group, reap, reap_later


def open_output(tty, columns, lines):
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


class _Relay:
    """Copies the child's bytes to the kernel's streams as they come."""

    def __init__(self, fd, stream):
        self.fd = fd
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.hung_up = False  # a pty that said EIO: drained once the child is done

    def pump(self):
        """Reads once; False at EOF (a pty reports EIO when the child is gone)."""
        try:
            data = os.read(self.fd, 65536)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            self.hung_up = True
            return False
        self._write(data, final=not data)
        return bool(data)

    def drain(self):
        """Linux can answer EIO while the slave's last writes are still on their
        way to the master's side (the server's drain_hung_up says more): read
        again until three reads in a row find nothing."""
        empty = 0
        while self.hung_up and empty < 3:
            select.select([self.fd], [], [], 0)
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            empty = 0 if data else empty + 1
            self._write(data, final=False)
        self._write(b"", final=True)

    def _write(self, data, final):
        text = self.decoder.decode(data, final=final)
        if text:
            self.stream.write(text)
            self.stream.flush()


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


# An input_request whose prompt starts so is the test process's question to
# the ltest server (a sharded run over gateway kernels), which the server
# answers itself: it never reaches a user.
SERVER_QUESTION = "\x1b[ltest-shards]"


def _answer_query(stdin_w, question):
    """The test process asks the ltest server (gateway_shards.py): the
    question goes out as an input_request's prompt, the answer comes back
    as its line."""
    try:
        value = input(SERVER_QUESTION + question.decode("utf-8", "replace"))
    except Exception:  # a frontend that cannot answer: the test process sees EOF
        os.close(stdin_w)
        return None
    os.write(stdin_w, value.encode("utf-8", "replace") + b"\n")
    return stdin_w


class ChildRelay:
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
                    kill_group(self.pid, signal.SIGKILL)
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
                kill_group(self.pid, signal.SIGINT if self.interrupts == 1 else signal.SIGKILL)
        for relay in self.relays.values():
            relay.drain()
        if self.exit_code is not None:
            reap_later(self.pid)  # its teardown is off the critical path
            self.reaped = True
            return self.exit_code
        self.reaped = True
        return exit_code_of(reap(self.pid))

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
            elif line.startswith(b"Q ") and self.stdin_w is not None:  # Q: child_stdin.ask_server
                self.stdin_w = _answer_query(self.stdin_w, line[2:])
        return True

    def close(self):
        if not self.reaped:  # the relay itself failed: never leave the tests running
            kill_group(self.pid, signal.SIGKILL)
            reap(self.pid)
        for fd in (*self.relays, self.ctl_r, self.stdin_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
