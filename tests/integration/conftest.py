"""Fixtures that start real ltest servers (real kernels) and clean up after them.

Each server gets its own port and its own JUPYTER_RUNTIME_DIR, runs in its own
session, and is stopped (then killed) at teardown even when the test failed.
"""
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PYTHON = os.environ.get("LTEST_PYTHON") or "/usr/bin/python3"
# A server with no interpreter named runs on the first python3 on PATH (below):
# where PYTHON is a virtualenv's bin/python, that is its bin/python3, the same
# file by another name. Cold runs call it by that name too, so that their
# sys.executable and sys.orig_argv are what the test process's are.
_python3 = os.path.join(os.path.dirname(PYTHON), "python3")
if os.path.basename(PYTHON) != "python3" and os.path.exists(_python3) and os.path.samefile(_python3, PYTHON):
    PYTHON = _python3
# ltest runs the tests on the Python `python3 -m pytest` would run: with no
# virtualenv, no .venv and no [tool.ltest] python, the first python3 on PATH
# that has pytest. The harness's interpreter goes first, so that every server
# a test starts (by hand or by a first run) runs on it, whatever python3 this
# machine has first (a pyenv one with pytest but no ipykernel, say).
os.environ["PATH"] = os.path.dirname(PYTHON) + os.pathsep + os.environ.get("PATH", "")
# Libraries change what they do when the environment names a CI service
# (hypothesis's "ci" profile has no example database; pytest stops truncating
# assertion text): every server, kernel and cold run a test starts sees none,
# so that the suite checks the same things on a CI machine as on a desk. The
# tests that are about such a variable set it themselves. The names are
# hypothesis's list (its _settings._CI_VARS) and pytest's (BUILD_NUMBER).
CI_VARIABLES = ("CI", "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI", "TF_BUILD", "bamboo.buildKey", "BUILDKITE",
                "CIRCLECI", "CIRRUS_CI", "CODEBUILD_BUILD_ID", "GITHUB_ACTIONS", "GITLAB_CI", "HEROKU_TEST_RUN_ID",
                "TEAMCITY_VERSION", "BUILD_NUMBER")
for _name in CI_VARIABLES:
    os.environ.pop(_name, None)


def ltest_binary():
    env = os.environ.get("LTEST_BIN")
    if env:
        return env
    for candidate in (ROOT / "build" / "cli" / "ltest",):
        if candidate.exists():
            return str(candidate)
    pytest.fail("set LTEST_BIN to the built ltest binary (ctest does this)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_files(root, files):
    for name, text in files.items():
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return Path(root)


def process_stats():
    """(pid, fields after the command name) of every process in /proc/PID/stat:
    fields[0] is the state, [1] the parent pid, [3] the session id."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        yield int(d.name), stat[stat.rindex(")") + 2:].split()


def pids_of_session(sid):
    return [pid for pid, fields in process_stats() if int(fields[3]) == sid]


def kill_all(pids):
    """SIGKILL to each of pids that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# A test that sleeps (in short steps: see "Interrupted sleeps" below)
# until Ctrl-C or a kill ends it, then one that passes.
SLEEPER = {"test_sleep.py": """
    import time
    def test_sleeps():
        print("SLEEPING", flush=True)
        for _ in range(2400): time.sleep(0.05)
    def test_after():
        pass
"""}


def children_states(pid):
    """(pid, state) of the direct children of pid."""
    return [(child, fields[0]) for child, fields in process_stats() if int(fields[1]) == pid]


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(predicate, timeout):
    """Polls predicate until it holds or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def zombies_of(pid, settle=3.0):
    """Zombie children of pid that stay: the kernel reaps a finished test
    process a moment after the run's reply, so give it that moment."""
    deadline = time.monotonic() + settle
    while True:
        zombies = [child for child, state in children_states(pid) if state == "Z"]
        if not zombies or time.monotonic() > deadline:
            return zombies
        time.sleep(0.05)


# Interrupted sleeps: a test that is to be interrupted sleeps in short steps
# (for _ in range(N): time.sleep(0.05)). A SIGINT that lands after CPython's
# last check for signals and before time.sleep's system call is seen only
# when that call returns (in plain pytest too), and these tests send their
# SIGINT just when the test they interrupt starts to sleep.


def read_until(proc, mark, timeout=60):
    """Reads proc's stdout until mark appears (or EOF, or the timeout); returns what was read."""
    seen = b""
    deadline = time.monotonic() + timeout
    while mark not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen


class Server:
    def __init__(self, tmp_path, modules=(), extra_env=None, args=()):
        self.port = free_port()
        self.runtime_dir = tmp_path / "runtime"
        self.runtime_dir.mkdir(exist_ok=True)
        # Its own cache dir too: what a server learns stays in the test.
        self.env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(self.runtime_dir), OMP_NUM_THREADS="1",
                        XDG_CACHE_HOME=str(tmp_path / "cache"))
        self.env.update(extra_env or {})
        self.log = tmp_path / "server.log"
        cmd = [ltest_binary(), "-l", "-p", str(self.port), *args]
        for m in modules:
            cmd += ["-m", m]
        self.cmd = cmd
        self.proc = None

    def start(self, timeout=120):
        self.log_file = open(self.log, "w")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text()
            if "ready on" in text:
                return self
            if self.proc.poll() is not None:
                return self
            time.sleep(0.05)
        raise AssertionError("server not ready in time:\n" + self.log.read_text())

    def client(self, *args, cwd=None, env=None, input=None, timeout=120, **kw):
        full_env = dict(self.env, **(env or {}))
        return subprocess.run([ltest_binary(), "-p", str(self.port), *args], cwd=cwd, env=full_env, input=input,
                              capture_output=True, text=True, timeout=timeout, **kw)

    def run(self, *pytest_args, cwd=None, env=None, **kw):
        return self.client("--", *pytest_args, cwd=cwd, env=env, **kw)

    def popen(self, *args, cwd=None, env=None, **kw):
        full_env = dict(self.env, **(env or {}))
        return subprocess.Popen([ltest_binary(), "-p", str(self.port), *args], cwd=cwd, env=full_env, **kw)

    def status(self):
        r = self.client("--status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def stop(self):
        self.stop_server()
        self.kill_leftovers()

    def stop_server(self):
        """SIGTERM, as a user's Ctrl-C or `kill` would send, and its exit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass

    def kill_leftovers(self):
        if self.proc is None:
            return
        kill_all(pids_of_session(self.proc.pid))  # whatever is left of the server's session (it should be nothing)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


@pytest.fixture
def start_server(tmp_path):
    servers = []

    def start(modules=(), extra_env=None, args=(), expect_ready=True):
        s = Server(tmp_path, modules, extra_env, args)
        servers.append(s)
        s.start()
        if expect_ready:
            assert s.proc.poll() is None, "server exited:\n" + s.log.read_text()
        return s

    yield start
    outlived = []
    for s in servers:
        s.stop_server()
        # The kernel's forks die with it (PR_SET_PDEATHSIG), but a signalled
        # process takes its moment to exit: wait for that, then look.
        wait_for(lambda: not _kernel_pids_for(s.runtime_dir), 15)
        kernel_pids = _kernel_pids_for(s.runtime_dir)
        outlived += kernel_pids
        s.kill_leftovers()
        for pid in kernel_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not outlived, "a kernel (or a fork of it) outlived its server"


def pids_whose_cmdline(matches):
    """Pids of the live processes whose command line (NULs and all) matches(cmdline)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmdline = (d / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if matches(cmdline) and alive(int(d.name)):
            out.append(int(d.name))
    return out


def _kernel_pids_for(runtime_dir):
    return pids_whose_cmdline(lambda c: "ipykernel_launcher" in c and str(runtime_dir) in c)


def serving(server, timeout=300):
    """For a fixture: starts server, yields it running, and stops it after,
    even when its start failed."""
    try:
        server.start(timeout=timeout)
        assert server.proc.poll() is None, server.log.read_text()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One warm server reused by the tests of a module that only run tests."""
    s = Server(tmp_path_factory.mktemp("shared"), modules=("json",))
    s.start()
    assert s.proc.poll() is None, s.log.read_text()
    yield s
    s.stop()


def plain_pytest(*args, cwd, env=None):
    return subprocess.run([PYTHON, "-m", "pytest", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


_user_site = []


def stack_has_user_site():
    """Does the stack's python read a user site? (A virtualenv does not.)"""
    if not _user_site:
        r = subprocess.run([PYTHON, "-c", "import site; print(site.ENABLE_USER_SITE)"], capture_output=True,
                           text=True, check=True)
        _user_site.append(r.stdout.strip() == "True")
    return _user_site[0]


def installed(files):
    """files as installed distributions (a dist-info each, listing its files),
    as `pip install --target DIR` leaves them: a library wherever DIR is."""
    out = dict(files)
    for name in {f.split("/")[0].removesuffix(".py") for f in files}:
        out[f"{name}-1.0.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
        out[f"{name}-1.0.dist-info/RECORD"] = "".join(f"{f},,\n" for f in files if f.split("/")[0].startswith(name))
    return out


def install_third_party(base, files):
    """Installs files as third-party code for the stack's python, under base:
    in a user site directory where the stack reads one (PYTHONUSERBASE, as
    pip --user), else (a virtualenv) as installed distributions in a
    directory on PYTHONPATH. (the environment that makes them importable,
    the directory that holds them)."""
    base = Path(base)
    if stack_has_user_site():
        site_dir = base / "userbase" / f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
        write_files(site_dir, files)
        return {"PYTHONUSERBASE": str(base / "userbase")}, site_dir
    write_files(base / "installed", installed(files))
    return {"PYTHONPATH": str(base / "installed")}, base / "installed"


def package_dir(package):
    """The directory of package as the stack's interpreter imports it (its
    tests, for a real suite): not the harness's copy, another Python's."""
    return subprocess.run([PYTHON, "-c", f"import os, {package}; print(os.path.dirname({package}.__file__))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def summary_line(output):
    """pytest's final '=== 1 failed, 2 passed in 0.1s ===' line without the time."""
    import re
    lines = [l for l in output.splitlines() if re.search(r"\b(passed|failed|error|no tests ran|skipped|deselected)\b", l)]
    if not lines:
        return None
    return re.sub(r" in [0-9.]+s.*", "", lines[-1]).strip("= ")


@pytest.fixture
def notebook_kernel(tmp_path, monkeypatch):
    """A kernel as a notebook would have it, started by jupyter_client, with its
    own runtime dir; (KernelManager, blocking client). Shut down at teardown."""
    from jupyter_client.manager import KernelManager
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=dict(os.environ, OMP_NUM_THREADS="1"))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def sign(key, parts):
    """The Jupyter HMAC-SHA256 signature of a message's four JSON parts."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode()


def connect_password(key):
    """The PLAIN password a server's ZeroMQ handshake asks for (protocol::connect_password)."""
    return hmac.new(key, b"ltest-connect", hashlib.sha256).hexdigest().encode()


def plain_credentials(sock, key):
    """Makes a pyzmq socket connect to an ltest server as its clients do (PLAIN, the key's password)."""
    sock.plain_username = b"ltest"
    sock.plain_password = connect_password(key)


def header(msg_type, msg_id=None):
    return {"msg_id": msg_id if msg_id is not None else uuid.uuid4().hex, "session": "integration-test",
            "username": "test", "date": "2026-01-01T00:00:00Z", "msg_type": msg_type, "version": "5.3"}


class SignedPeer:
    """A hand-driven DEALER on a server's port, holding its key (read from the
    server's runtime file), sending hand-made but correctly signed frames."""

    def __init__(self, server):
        import zmq
        info = json.loads((server.runtime_dir / f"ltest-{server.port}.json").read_text())
        self.key = info["key"].encode()
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        plain_credentials(self.sock, self.key)
        self.sock.connect(f"tcp://127.0.0.1:{server.port}")

    def frames(self, header, content, parent=b"{}"):
        parts = [header if isinstance(header, bytes) else json.dumps(header).encode(), parent, b"{}",
                 content if isinstance(content, bytes) else json.dumps(content).encode()]
        return [b"<IDS|MSG>", sign(self.key, parts), *parts]

    def frames_of(self, msg_type, content):
        """(header, frames) of a new message."""
        h = header(msg_type)
        return h, self.frames(h, content)

    def send(self, header, content, parent=b"{}"):
        self.sock.send_multipart(self.frames(header, content, parent))

    def send_frames(self, frames):
        self.sock.send_multipart(frames)

    def recv(self, timeout=5.0):
        """The next message ({"msg_type", "header", "parent_header", "content"}), or None."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        frames = self.sock.recv_multipart()
        d = frames.index(b"<IDS|MSG>")
        h = json.loads(frames[d + 2])
        return {"msg_type": h["msg_type"], "header": h, "parent_header": json.loads(frames[d + 3]),
                "content": json.loads(frames[d + 5])}

    def recv_until(self, msg_type, timeout=30.0):
        """Messages up to the first of msg_type (or the timeout)."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(deadline - time.monotonic())
            if m is None:
                break
            got.append(m)
            if m["msg_type"] == msg_type:
                break
        return got

    def recv_type(self, msg_type, timeout=30.0):
        got = self.recv_until(msg_type, timeout)
        return got[-1] if got and got[-1]["msg_type"] == msg_type else None

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
