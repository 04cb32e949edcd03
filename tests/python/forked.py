"""Runs a function in a forked child of the test process, for code that
changes its process (pytest.main, spares, test processes) or must not run
inside this test's captured streams."""
import json
import os
import socket


def in_fork(fn):
    """fn() in a forked child; returns what it returned, through JSON (an
    exception in the child fails the caller's test with its repr)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, json.dumps({"value": fn()}).encode())
        except BaseException as e:
            os.write(w, json.dumps({"error": repr(e)}).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    out = json.loads(data)
    assert "error" not in out, out["error"]
    return out["value"]


class RunPipes:
    """A run's stdio as the server makes it, on pipes: the test process's
    ends (stdin, stdout, stderr, control) in .fds, this side's kept."""

    def __init__(self):
        self.in_r, self.in_w = os.pipe()
        self.out_r, self.out_w = os.pipe()
        self.err_r, self.err_w = os.pipe()
        self.ctl_r, self.ctl_w = os.pipe()
        self.fds = (self.in_r, self.out_w, self.err_w, self.ctl_w)

    def handed_over(self):
        """The test process holds its ends now: this side closes its copies,
        so that reading sees EOF when the test process ends."""
        for fd in self.fds:
            os.close(fd)
        self.fds = ()

    def output(self):
        """(stdout, stderr, control bytes) once every test process holding them ended."""
        if self.fds:
            self.handed_over()
        out, err, ctl = (_read_all(fd) for fd in (self.out_r, self.err_r, self.ctl_r))
        return out.decode(), err.decode(), ctl

    def finish(self, pid):
        """(stdout, stderr, control bytes, exit status) once the test process pid ended."""
        out, err, ctl = self.output()
        _, status = os.waitpid(pid, 0)
        return out, err, ctl, os.waitstatus_to_exitcode(status)

    def close(self):
        for fd in (*self.fds, self.in_w, self.out_r, self.err_r, self.ctl_r):
            try:
                os.close(fd)
            except OSError:
                pass


def _read_all(fd):
    """Everything until EOF. stdout, stderr and control are read in turn:
    the suites these tests run write far less than a pipe holds."""
    parts = []
    while True:
        part = os.read(fd, 65536)
        if not part:
            return b"".join(parts)
        parts.append(part)


def run_spec(cwd, args=("-q", "-p", "no:cacheprovider"), **extra):
    """A run request's child spec for a run of pytest in cwd."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COLUMNS"))}
    return {"args": list(args), "cwd": str(cwd), "env": env, "stdout_isatty": False, "stderr_isatty": False,
            "workers": 1, "stdin_isatty": False, **extra}


def send_run(sock, run_id, spec, fds, chunk):
    """The server's side of the hand-over (in_kernel/handover.py's wire)."""
    data = json.dumps(spec).encode()
    socket.send_fds(sock, [json.dumps({"run": run_id, "size": len(data)}).encode()], fds)
    for i in range(0, len(data), chunk):
        sock.send(data[i:i + chunk])
