"""Issue 30, finding 9: bytes that are not UTF-8 pass through unchanged.

Linux names, paths, arguments and environment values are bytes. A directory
named in Latin-1 made ltest fail with 70 where cold pytest passed, and an
environment value that was not UTF-8 reached the test with U+FFFD in it. The
run request now carries such bytes escaped (cli/common/byte_text.hpp) and
the kernel decodes them as Python decodes its own (wire_text.py), so a test
sees in os.getcwd(), sys.argv, os.environ and os.environb what cold pytest
sees, and its output reaches the client byte for byte. Each test compares
with cold `python -m pytest` in the same place with the same environment."""
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import PYTHON, Server, alive, ltest_binary, pids_whose_cmdline, wait_for
from test_remote_kernel import remote_host, remote_kernel, started  # noqa: F401 (fixtures)

# What the test reports: ASCII reprs of what Python made of the bytes, then
# raw bytes that are not UTF-8 (a NUL, a lone 0xFF, a sequence cut between
# two writes, a truncated one) straight to the output.
PROBE = b'''import os, sys

def test_bytes():
    print("cwd", repr(os.getcwd()))
    print("argv", repr(sys.argv[1:]))
    print("value", repr(os.environ.get("LTEST_T_VALUE")), repr(os.environb.get(b"LTEST_T_VALUE")))
    print("names", repr(sorted(k for k in os.environb if k.startswith(b"LTEST_T_"))))
    print("named", repr(os.environb.get(b"LTEST_T_\\xffNAME")))
    sys.stdout.flush()
    sys.stdout.buffer.write(b"raw:\\xff\\x00\\xe2\\x82")
    sys.stdout.buffer.flush()
    sys.stdout.buffer.write(b"\\xac\\xc3\\n")
    sys.stdout.buffer.flush()
    assert 0, os.getcwd()  # pytest's report shows the path
'''
ENV = {b"LTEST_T_VALUE": b"a\xffb\xc3", b"LTEST_T_\xffNAME": b"v\x80", b"LTEST_T_PLAIN": "\u00fc".encode()}


def bytes_dir(parent, name):
    """parent/name for a name in bytes (a str with surrogates, as Python has it)."""
    path = os.path.join(os.fsencode(parent), name)
    os.makedirs(path, exist_ok=True)
    return os.fsdecode(path)


def project(tmp_path, marker=False):
    root = bytes_dir(tmp_path, b"proj\xff\xfe")
    sub = bytes_dir(root, b"sub\xfb")
    with open(os.path.join(os.fsencode(sub), b"test_\xe9.py"), "wb") as f:
        f.write(PROBE)
    if marker:
        with open(os.path.join(root, "pytest.ini"), "w") as f:
            f.write("[pytest]\n")
    return root


def pytest_args(tmp_path):
    basetemp = os.path.join(os.fsencode(tmp_path), b"base\xfd")
    return ["-q", "-s", "-p", "no:cacheprovider", "--basetemp", os.fsdecode(basetemp),
            os.fsdecode(b"sub\xfb/test_\xe9.py")]


def environment(base):
    env = {os.fsencode(k): os.fsencode(v) for k, v in base.items()}
    env.update(ENV)
    return env


def without_times(out):
    return re.sub(rb" in [0-9.]+s", b"", out)


def cold(root, args, env):
    return subprocess.run([PYTHON, "-m", "pytest", *args], cwd=root, env=env, capture_output=True, timeout=300)


def assert_same_as_cold(warm, expected):
    assert warm.returncode == expected.returncode == 1, (warm.returncode, warm.stdout + warm.stderr)
    assert without_times(warm.stdout) == without_times(expected.stdout), (warm.stdout, expected.stdout)
    # ltest's own line when it starts a server is not the test's.
    own = [l for l in warm.stderr.splitlines(keepends=True) if l.startswith(b"ltest: started a server")]
    assert b"".join(l for l in warm.stderr.splitlines(keepends=True) if l not in own) == expected.stderr, warm.stderr


def assert_saw_the_bytes(out):
    """What cold pytest shows (the comparison would pass vacuously if the probe saw nothing)."""
    assert b"'a\\udcffb\\udcc3'" in out and b"b'a\\xffb\\xc3'" in out, out
    assert b"b'LTEST_T_\\xffNAME'" in out and b"named b'v\\x80'" in out, out
    assert b"proj\\udcff\\udcfe" in out and b"sub\\udcfb/test_\\udce9.py" in out and b"base\\udcfd" in out, out
    assert b"raw:\xff\x00\xe2\x82\xac\xc3\n" in out, out
    assert b"proj\xff\xfe" in out, out  # the path in pytest's own report, as bytes


def cold_and_warm(server, tmp_path):
    """The probe project run cold, then through the server, in its byte-named directory."""
    root = project(tmp_path)
    args = pytest_args(tmp_path)
    env = environment(server.env)
    expected = cold(root, args, env)
    assert_saw_the_bytes(expected.stdout)
    warm = subprocess.run([ltest_binary(), "-p", str(server.port), "--", *args], cwd=root, env=env,
                          capture_output=True, timeout=300)
    return warm, expected


def test_a_run_in_a_directory_named_in_bytes_sees_what_cold_pytest_sees(start_server, tmp_path):
    server = start_server()
    warm, expected = cold_and_warm(server, tmp_path)
    assert_same_as_cold(warm, expected)
    assert server.status()["hand_over"]  # through the hand-over (the relay: the next test)


def test_a_relayed_run_sees_the_same_names_paths_and_environment(remote_kernel, tmp_path):
    """Through a kernel on another host (test_remote_kernel.py's network
    namespace), which cannot take the run's fds: the request reaches it as
    the code of an execute request and is decoded the same way. The relay
    carries output as Jupyter text (relay.py: U+FFFD for bytes that are not
    UTF-8), so only the probe's ASCII lines are compared there."""
    server = Server(tmp_path, args=("--existing", str(remote_kernel.connection_file)))
    try:
        started(server, remote_kernel)
        assert not server.status()["hand_over"]
        warm, expected = cold_and_warm(server, tmp_path)
        assert warm.returncode == 1, warm.stdout + warm.stderr

        def probe(out):
            return [l for l in out.splitlines() if l.split(b" ")[0] in (b"cwd", b"argv", b"value", b"names", b"named")]
        assert len(probe(expected.stdout)) == 5
        assert probe(warm.stdout) == probe(expected.stdout), warm.stdout
    finally:
        server.stop()


def test_a_project_whose_root_is_named_in_bytes_gets_a_server_of_its_own(tmp_path):
    """The project root travels in the runtime file (the next client finds
    its server by it) and to the kernel (its learned preloads' file): an
    auto-started server for such a project used to fail with 70."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    base = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), XDG_CACHE_HOME=str(tmp_path / "cache"),
                OMP_NUM_THREADS="1")
    env = environment(base)
    root = project(tmp_path, marker=True)
    args = pytest_args(tmp_path)
    expected = cold(root, args, env)
    assert_saw_the_bytes(expected.stdout)

    def ltest(*a):
        return subprocess.run([ltest_binary(), *a], cwd=root, env=env, capture_output=True, timeout=300)

    try:
        first = ltest("--", *args)  # auto-starts this project's server
        assert b"started a server" in first.stderr, first.stderr
        assert_same_as_cold(first, expected)
        status = ltest("--status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["project_root"].startswith(os.path.join(str(tmp_path), "proj"))
        second = ltest("--", *args)  # the same server, found by its project root
        assert b"started a server" not in second.stderr, second.stderr
        assert_same_as_cold(second, expected)
        (runtime_file,) = runtime.glob("ltest-*.json")
        assert json.loads(runtime_file.read_text())["project_root"] == \
            os.path.join(str(tmp_path), "proj") + "\u0000ff\u0000fe"
    finally:
        for f in runtime.glob("ltest-*.json"):
            pid = json.loads(f.read_text())["pid"]
            kernels = pids_whose_cmdline(lambda c: f"kernel-ltest-{pid}.json" in c)
            for p in [pid, *kernels]:
                if alive(p):
                    os.kill(p, signal.SIGTERM)
            if not wait_for(lambda: not any(alive(p) for p in [pid, *kernels]), 15):
                for p in [pid, *kernels]:
                    if alive(p):
                        os.kill(p, signal.SIGKILL)
