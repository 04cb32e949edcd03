"""A client whose stdout and stderr are one terminal gives the test process
one pty for both (run_request's `stderr_is_stdout`): what a run writes to
each comes out in the order it wrote it, as on that terminal, and the test
process sees one terminal behind fds 1 and 2, as cold pytest does there.
(With two ptys read by one loop, a warning on stderr at configure and the
session header on stdout right after came out swapped on a loaded machine:
test_prepared_runs' test_on_a_terminal_too on the newest stack.)"""
import re
import subprocess

from conftest import PYTHON, ltest_binary, write_files
from fidelity_helpers import client_env, run_on_pty

INTERLEAVED = '''
import os, sys

def test_interleaved():
    for i in range(40):
        sys.stdout.write(f"out {i}\\n")
        sys.stdout.flush()
        sys.stderr.write(f"err {i}\\n")
        sys.stderr.flush()

def test_one_terminal():
    same = os.path.samestat(os.fstat(1), os.fstat(2))
    print(f"SAME {same} TTY {os.isatty(1)} {os.isatty(2)}")
'''


def _marks(output):
    return re.findall(r"^(?:out|err) \d+$|SAME \w+ TTY \w+ \w+$", output, re.M)  # SAME: after a progress dot


def test_stdout_and_stderr_on_one_terminal_keep_the_order_written(shared_server, tmp_path):
    root = write_files(tmp_path, {"test_order.py": INTERLEAVED})
    env = client_env(shared_server)
    args = ["-s", "-q", "-p", "no:cacheprovider", "test_order.py"]
    _, cold = run_on_pty([PYTHON, "-m", "pytest", *args], root, env, columns=100)
    code, warm = run_on_pty([ltest_binary(), "-p", str(shared_server.port), "--", *args], root, env, 100)
    assert code == 0, warm
    assert _marks(cold)[-1] == "SAME True TTY True True"
    assert _marks(warm) == _marks(cold)


def test_stderr_elsewhere_is_a_stream_of_its_own(shared_server, tmp_path):
    """stderr to a pipe, stdout on a terminal: two outputs, as in cold."""
    root = write_files(tmp_path, {"test_order.py": INTERLEAVED})
    p = subprocess.run(["script", "-qec", f"{ltest_binary()} -p {shared_server.port} -- -s -q -p no:cacheprovider "
                        "test_order.py 2>stderr.txt", "/dev/null"], cwd=root, env=client_env(shared_server),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    err = (root / "stderr.txt").read_text()
    assert "SAME False TTY True False" in p.stdout
    assert "err 39" in err and "err 0" not in p.stdout and "out 0" not in err
