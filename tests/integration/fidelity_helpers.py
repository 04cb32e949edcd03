"""What the fidelity tests share: a warm server (a module-scoped fixture),
the client's environment without the harness's noise, a run through ltest
(`warm`) and through plain pytest (`cold`) compared, and the same on a pty.
"""
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time

import pytest

from conftest import PYTHON, Server, ltest_binary, summary_line

SERVER_ONLY = "LTEST_FID_SERVER_ONLY"  # in the server's environment, not necessarily the client's
# Variables of the harness that would change what either pytest does.
NOISE = ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST", "PYTEST_PLUGINS", "PY_COLORS", "NO_COLOR", "FORCE_COLOR",
         "PYTHONWARNINGS", "PYTHONBREAKPOINT", "PYTHONPATH", "COLUMNS", "LINES")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("fidelity"), modules=("json",), extra_env={SERVER_ONLY: "from-server"})
    s.start()
    assert s.proc.poll() is None, s.log.read_text()
    yield s
    s.stop()


def client_env(server, **changes):
    """The server's environment without the harness's noise; None unsets."""
    env = {k: v for k, v in server.env.items() if k not in NOISE}
    env["TERM"] = "xterm-256color"
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def warm(server, *args, cwd, env=None, input=None, timeout=120):
    return subprocess.run([ltest_binary(), "-p", str(server.port), "--", *args], cwd=cwd,
                          env=env or client_env(server), input=input, capture_output=True, text=True,
                          timeout=timeout)


def cold(*args, cwd, env, input=None, timeout=120):
    return subprocess.run([PYTHON, "-m", "pytest", *args], cwd=cwd, env=env, input=input, capture_output=True,
                          text=True, timeout=timeout)


def both(server, root, *args, env=None, input=None):
    env = env or client_env(server)
    return warm(server, *args, cwd=root, env=env, input=input), cold(*args, cwd=root, env=env, input=input)


def assert_same(w, c):
    assert w.returncode == c.returncode, f"ltest:\n{w.stdout}{w.stderr}\npytest:\n{c.stdout}{c.stderr}"
    assert summary_line(w.stdout) == summary_line(c.stdout), f"ltest:\n{w.stdout}\npytest:\n{c.stdout}"


def header(text, prefix):
    """The lines of text that start with prefix."""
    return [l for l in text.splitlines() if l.startswith(prefix)]


# The test process's state as a test sees it, printed as one JSON line (probe()).
PROBE = """
    import builtins, json, os, signal, sys, warnings

    def test_probe():
        state = {
            "path": sys.path,
            "argv": sys.argv,
            "orig_argv": sys.orig_argv,
            "builtins": sorted(dir(builtins)),
            "filters": [repr((a, str(m), c.__name__, str(mod), l)) for a, m, c, mod, l in warnings.filters],
            "warnoptions": sys.warnoptions,
            "signals": {int(s): str(signal.getsignal(s)) for s in signal.valid_signals()
                        if s not in (signal.SIGKILL, signal.SIGSTOP) and signal.getsignal(s) is not None},
            "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
            "wakeup_fd": signal.set_wakeup_fd(-1),
            "stdio": [sys.stdout.encoding, sys.stdout.errors, sys.stderr.errors],
            "main": [getattr(sys.modules["__main__"], "__file__", None),
                     getattr(getattr(sys.modules["__main__"], "__spec__", None), "name", None)],
            "hooks": [h is getattr(sys, "__" + n + "__") for n, h in
                      (("excepthook", sys.excepthook), ("displayhook", sys.displayhook),
                       ("breakpointhook", sys.breakpointhook))],
            "ps1": hasattr(sys, "ps1"),
            # Kinds of threads, not their number: a practised spare also holds the
            # server thread pytest-rerunfailures started in its practice session.
            "threads": sorted({__import__("re").sub(r"^Thread-[0-9]+ ", "", t.name)
                               for t in __import__("threading").enumerate()}),
            "env": sorted(os.environ),
            "cwd": os.getcwd(),
        }
        print("PROBE " + json.dumps(state, sort_keys=True))
"""


# --- a pty of a given size

def run_on_pty(cmd, cwd, env, columns, lines=30, timeout=120):
    """Runs cmd with stdout and stderr on a pty of the given size; (code, output)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    try:
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    finally:
        os.close(slave)
    code, out = read_pty(p, master, timeout)
    return code, out.decode("utf-8", "replace").replace("\r\n", "\n")


def read_pty(p, master, timeout, on_output=None):
    """Everything process p writes to the pty whose master is `master` (then
    closed), and p's exit code; on_output(what was read so far) after each read."""
    out = b""
    deadline = time.monotonic() + timeout
    exited_at = None
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.5)[0]:
                # What an exited writer wrote is in the pty, but the kernel moves it to
                # the master's side on its own time: read on until EIO (no writer left),
                # and give up on silence only if something else still holds the pty.
                if p.poll() is not None:
                    exited_at = exited_at or time.monotonic()
                    if time.monotonic() - exited_at > 10:
                        break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the slave
                out += drain_hung_up_pty(master)
                break
            if not chunk:
                break
            out += chunk
            if on_output:
                on_output(out)
        code = p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return code, out


def drain_hung_up_pty(master):
    """What a pty still holds after its first EIO: Linux can answer EIO while
    the slave's last writes are on their way to the master's side (as the
    server's drain_hung_up explains); read until three reads find nothing."""
    out, empty = b"", 0
    while empty < 3:
        select.select([master], [], [], 0)
        try:
            chunk = os.read(master, 65536)
        except OSError:
            chunk = b""
        empty = 0 if chunk else empty + 1
        out += chunk
    return out


def _as_shown(line):
    """A terminal line as the terminal shows it: what follows its last carriage
    return. pytest rewrites its "collecting ..." line every half second, so how
    many rewrites a line holds depends on the machine's speed; the padding that
    erases a longer earlier text goes with them."""
    shown = line.rstrip("\r")
    return shown.rsplit("\r", 1)[1].rstrip(" ") if "\r" in shown else line


def normalised(text):
    """Output without what differs between two runs of plain pytest: timings,
    addresses, rewrites of a terminal line."""
    text = "\n".join(_as_shown(line) for line in text.split("\n"))
    text = re.sub(r" in [0-9.]+s", " in Xs", text)
    text = re.sub(r"Results \([0-9.]+s\)", "Results (Xs)", text)  # pytest-sugar's summary
    return re.sub(r"0x[0-9a-f]+", "0x?", text)


def pty_both(server, root, columns, env, *args):
    w = run_on_pty([ltest_binary(), "-p", str(server.port), "--", *args], root, env, columns)
    c = run_on_pty([PYTHON, "-m", "pytest", *args], root, env, columns)
    return w, c
