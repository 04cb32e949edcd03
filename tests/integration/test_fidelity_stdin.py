"""fd 0 of the test process is the client's stdin, as a child of the
client's shell would have it (client_stdin.cpp, child_stdin.stdin_stream):
raw reads, subprocesses inheriting fd 0 and sys.stdin get the client's
bytes and its EOF, in every --capture mode, with the client's stdin on
/dev/null, a pipe or a file; against a cold `python -m pytest`, in a spare
prepared for the run and in one that is not."""
import json
import subprocess
import time

import pytest

from conftest import PYTHON, ltest_binary, write_files
from fidelity_helpers import client_env, normalised, server  # noqa: F401 (the fixture)

# Each step's result as one JSON line: what a reader got, or the exception it raised.
PROBE = {"test_stdin.py": """
    import json, os, subprocess, sys

    def attempt(f):
        try:
            return f()
        except BaseException as e:
            return type(e).__name__

    def test_stdin():
        stdin = sys.__stdin__
        got = {
            "raw": attempt(lambda: os.read(0, 1).decode()),
            # A subprocess inheriting fd 0 reads the next byte (the offset of a file is shared).
            "subprocess": attempt(lambda: subprocess.run(
                [sys.executable, "-c", "import os, sys; sys.stdout.write(os.read(0, 1).decode())"],
                capture_output=True, timeout=60).stdout.decode()),
            "sys_stdin": attempt(lambda: sys.stdin.read()),
            "raw_at_eof": attempt(lambda: os.read(0, 10).decode()),
            "stdin_type": type(sys.stdin).__name__,
            "dunder": [type(stdin).__name__, hasattr(stdin, "buffer"), stdin.encoding, stdin.errors,
                       stdin.name, stdin.mode, stdin.line_buffering],
            "stdout": [sys.__stdout__.name, sys.__stdout__.mode, sys.__stderr__.name],
        }
        print("STDIN " + json.dumps(got, sort_keys=True))
"""}
CAPTURE = [("--capture=fd",), ("--capture=sys",), ("--capture=tee-sys",), ("-s",)]
ARGS = ("-q", "-p", "no:cacheprovider", "-rP")


def stdin_of(kind, tmp_path):
    """The client's stdin: subprocess.run's (stdin, input) for kind."""
    if kind == "devnull":
        return subprocess.DEVNULL, None
    if kind == "pipe":
        return None, b"abc"  # no newline: none may be added
    path = tmp_path / "input.txt"
    path.write_bytes(b"xyz")
    return open(path, "rb"), None


def probe_line(output):
    lines = [l for l in output.splitlines() if l.startswith("STDIN ")]
    assert lines and len(set(lines)) == 1, output  # tee-sys: printed, and shown in -rP's report
    return json.loads(lines[0][len("STDIN "):])


def run(cmd, root, env, kind, tmp_path):
    stdin, data = stdin_of(kind, tmp_path)
    try:
        p = subprocess.run(cmd, cwd=root, env=env, stdin=stdin, input=data, capture_output=True, timeout=120)
    finally:
        if stdin not in (None, subprocess.DEVNULL):
            stdin.close()
    return p.returncode, p.stdout.decode(errors="replace")


@pytest.mark.parametrize("capture", CAPTURE, ids=lambda c: c[0])
@pytest.mark.parametrize("kind", ["devnull", "pipe", "file"])
def test_every_reader_gets_the_clients_stdin_as_cold(server, tmp_path, capture, kind):
    root = write_files(tmp_path / "p", PROBE)
    env = client_env(server)
    args = (*ARGS, *capture)
    c_code, c_out = run([PYTHON, "-m", "pytest", *args], root, env, kind, tmp_path)
    w_code, w_out = run([ltest_binary(), "-p", str(server.port), "--", *args], root, env, kind, tmp_path)
    assert (w_code, probe_line(w_out)) == (c_code, probe_line(c_out)), f"ltest:\n{w_out}\npytest:\n{c_out}"
    if capture == ("-s",) and kind == "pipe":  # the probe sees the data at all
        assert [probe_line(c_out)[k] for k in ("raw", "subprocess", "sys_stdin")] == ["a", "b", "c"]


PAUSES = (0.3, 0.6, 1, 2, 4, 8, 16)  # idle time for the background preparation, on a busy machine too


@pytest.mark.parametrize("kind", ["devnull", "pipe"])
def test_a_prepared_spare_reads_the_clients_stdin_too(server, tmp_path, kind):
    """A spare prepared with a placeholder stdin (prepared.py) has the
    client's stdin in its place at the hand-over, as a plain spare."""
    root = write_files(tmp_path / "p", PROBE)
    env = client_env(server)
    args = (*ARGS, "-s")
    c_code, c_out = run([PYTHON, "-m", "pytest", *args], root, env, kind, tmp_path)
    expected = (c_code, probe_line(c_out))
    for pause in PAUSES:
        time.sleep(pause)  # idle time for the preparation; each run is checked, prepared or not
        code, out = run([ltest_binary(), "-p", str(server.port), "--json", "--", *args], root, env, kind, tmp_path)
        reply = json.loads(out.strip().splitlines()[-1])
        assert (code, probe_line(out)) == expected, out
        if reply["prepared"]:
            return
    pytest.fail(f"no run found its spare prepared: {reply}")


def test_piped_input_reaches_input_and_pdb_unchanged(server, tmp_path):
    """input() reads the piped lines as cold, the last one without its newline."""
    root = write_files(tmp_path / "p", {"test_input.py": """
        def test_lines():
            print("GOT", repr(input("first? ")), repr(input("second? ")))
    """})
    env = client_env(server)
    data = b"one\ntwo"
    c = subprocess.run([PYTHON, "-m", "pytest", *ARGS, "-s"], cwd=root, env=env, input=data, capture_output=True,
                       timeout=120)
    w = subprocess.run([ltest_binary(), "-p", str(server.port), "--", *ARGS, "-s"], cwd=root, env=env, input=data,
                       capture_output=True, timeout=120)
    got = [l for l in c.stdout.decode().splitlines() if "GOT" in l]
    assert got == ["first? second? GOT 'one' 'two'"], c.stdout
    assert (w.returncode, [l for l in w.stdout.decode().splitlines() if "GOT" in l]) == (c.returncode, got), \
        normalised(w.stdout.decode())
