"""The test process's standard streams (child.py installs them): stdout and
stderr as CPython opens them; stdin as CPython opens it when fd 0 is the
client's own stdin (a pipe, a file, /dev/null: the server passes it on),
else (a terminal, a client on another host) as lines fetched from the
client on demand; and getpass."""
import io
import os
import sys


class RelayStdin(io.TextIOBase):
    """stdin of the test process. A read first asks the kernel (through the
    control pipe) to fetch a line from the client, so input() and pdb prompt
    the user only when the test really reads."""

    def __init__(self, fd, ctl_fd, encoding="utf-8", errors="strict"):
        self._fd = fd
        self._encoding, self._errors = encoding, errors
        self.buffer = _RelayBytes(self)
        self.mode = "r"
        self._secret_fd = os.dup(fd)  # getpass reads here: pytest's capture points fd 0 at /dev/null
        self._ctl = ctl_fd
        self._buf = b""
        self._eof = False

    @property
    def encoding(self):
        return self._encoding

    @property
    def errors(self):
        return self._errors

    @property
    def name(self):
        return "<stdin>"

    def fileno(self):
        return self._fd

    def readable(self):
        return True

    def isatty(self):
        return False

    def _fill(self, request=b"I\n", fd=None):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.write(self._ctl, request)
        while not self._eof and b"\n" not in self._buf:
            chunk = os.read(self._fd if fd is None else fd, 65536)
            if not chunk:
                self._eof = True
            self._buf += chunk

    def readline_bytes(self, size=-1):
        """A line as bytes (sys.stdin.buffer), at most size bytes."""
        if b"\n" not in self._buf and not self._eof:
            self._fill()
        nl = self._buf.find(b"\n")
        end = len(self._buf) if nl < 0 else nl + 1
        if size is not None and 0 <= size < end:
            end = size
        line, self._buf = self._buf[:end], self._buf[end:]
        return line

    def readline(self, size=-1):
        if b"\n" not in self._buf and not self._eof:
            self._fill()
        nl = self._buf.find(b"\n")
        end = len(self._buf) if nl < 0 else nl + 1
        line = self._buf[:end].decode("utf-8", "surrogateescape")
        if size is not None and 0 <= size < len(line):
            line = line[:size]  # characters, as io counts them: a multi-byte one is never cut
        raw = line.encode("utf-8", "surrogateescape")
        self._buf = self._buf[len(raw):]
        return raw.decode("utf-8", "replace")

    def readline_secret(self, prompt):
        """A line the client reads without echo, for getpass: b"P <prompt
        as JSON>" (the client shows the prompt once its echo is off)."""
        if b"\n" not in self._buf and not self._eof:
            import json
            self._fill(b"P " + json.dumps(prompt).encode() + b"\n", self._secret_fd)
        return self.readline()

    def ask_server(self, question):
        """One question (bytes, one line) to the ltest server, b"Q <question>"
        on the control pipe: the kernel asks with an input_request the
        server answers itself (gateway_shards.py); the answer's one line."""
        os.write(self._ctl, b"Q " + question + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = os.read(self._secret_fd, 1 << 20)
            if not chunk:
                raise EOFError("the kernel closed the test process's stdin")
            answer += chunk
        return answer[:-1]

    def read(self, size=-1):
        parts = []
        while size is None or size < 0 or sum(map(len, parts)) < size:
            # At most size characters, as io's read(size) promises: the rest stays buffered.
            line = self.readline(-1 if size is None or size < 0 else size - sum(map(len, parts)))
            if not line:
                break
            parts.append(line)
        return "".join(parts)


class _RelayBytes(io.BufferedIOBase):
    """sys.stdin.buffer of a RelayStdin: the same lines, as bytes."""

    def __init__(self, text):
        self._text = text

    def fileno(self):
        return self._text.fileno()

    def readable(self):
        return True

    def readline(self, size=-1):
        return self._text.readline_bytes(size)

    def read(self, size=-1):
        parts, total = [], 0
        while size is None or size < 0 or total < size:
            line = self.readline(-1 if size is None or size < 0 else size - total)
            if not line:
                break
            parts.append(line)
            total += len(line)
        return b"".join(parts)

    def read1(self, size=-1):
        return self.readline(size)


def stdin_stream(fd, encoding="utf-8", errors="strict"):
    """sys.stdin as CPython's create_stdio makes it: buffered (always),
    newline "\n", line buffering on a terminal, named <stdin>."""
    raw = io.FileIO(fd, "rb", closefd=False)
    raw.name = "<stdin>"
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding, errors=errors, newline="\n",
                            line_buffering=raw.isatty())
    text.mode = "r"
    return text


def relay_getpass(prompt="Password: ", stream=None):
    """getpass.getpass of the test process when the client's stdin is a
    terminal: the prompt, then a line the client reads with its echo off.
    Like getpass's /dev/tty, it bypasses pytest's capture (sys.__stdin__ is
    the test process's own); the prompt goes with the request."""
    line = sys.__stdin__.readline_secret(prompt)
    if not line:
        raise EOFError
    return line[:-1] if line.endswith("\n") else line


def stdio_encoding(env, ctype_locale):
    """(encoding, errors) CPython gives stdin/stdout: $PYTHONIOENCODING wins;
    else UTF-8, with surrogateescape in the C/POSIX locale and the UTF-8 ones
    it coerces C to (strict in others, e.g. en_US.UTF-8)."""
    encoding, _, errors = env.get("PYTHONIOENCODING", "").partition(":")
    if not errors:
        errors = "surrogateescape" if ctype_locale in ("C", "POSIX", "C.UTF-8", "C.utf8", "UTF-8") else "strict"
    return encoding or "utf-8", errors


def _ctype_locale():
    # CPython sets LC_CTYPE from the environment at start; the kernel's is the server's.
    import locale
    try:
        return locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:  # not installed: CPython stays in "C" (and coerces it)
        return locale.setlocale(locale.LC_CTYPE, "C")


def _text_stream(fd, tty, encoding="utf-8", errors="strict"):
    """sys.stdout (fd 1) or sys.stderr (fd 2) as CPython's create_stdio makes it."""
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))
    buf = io.open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False)
    (buf if unbuffered else buf.raw).name = "<stdout>" if fd == 1 else "<stderr>"
    text = io.TextIOWrapper(buf, encoding=encoding, errors="backslashreplace" if fd == 2 else errors,
                            newline="\n", line_buffering=tty or fd == 2, write_through=unbuffered)
    text.mode = "w"
    return text
