"""Fidelity in Jupyter's shadow: the client's environment applied
as a fresh interpreter applies it, what cannot apply named, another
interpreter refused, getpass without echo on a terminal; against a cold
`python3 -m pytest` (shadow_helpers.py).
"""
import os
import subprocess

import pytest

from conftest import PYTHON, ltest_binary, write_files
from shadow_helpers import env_of, same_marked
from shadow_helpers import server  # noqa: F401 (the module-scoped fixture)
from fidelity_helpers import read_pty, warm


ENV_PROBE = """
    import os, sys, tempfile, time

    def test_env(tmp_path):
        print("ENV", time.tzname, tempfile.gettempdir(), str(tmp_path).startswith(tempfile.gettempdir()),
              sys.get_int_max_str_digits(), sys.pycache_prefix, os.environ.get("LC_CTYPE"),
              __import__("tracemalloc").is_tracing(), sys.path[0] == os.getcwd())
        p = tmp_path / "utf8.txt"
        p.write_bytes("d\\u00e9j\\u00e0 vu".encode("utf-8"))
        assert open(p).read() == "d\\u00e9j\\u00e0 vu"
"""


@pytest.mark.parametrize("changes", [
    {"TZ": "Asia/Tokyo", "TMPDIR": "{tmp}"},
    {"LANG": None, "LC_ALL": None},
    {"PYTHONINTMAXSTRDIGITS": "5000", "PYTHONPYCACHEPREFIX": "{tmp}/pyc", "PYTHONTRACEMALLOC": "2"},
    {"PYTHONSAFEPATH": "1"},
], ids=["tz-tmpdir", "c-locale", "startup-vars", "safe-path"])
def test_the_clients_environment_applies_as_at_start(server, tmp_path, changes):
    root = write_files(tmp_path / "suite", {"test_env.py": ENV_PROBE})
    (tmp_path / "tmp").mkdir()
    changes = {k: v.format(tmp=tmp_path / "tmp") if v else v for k, v in changes.items()}
    same_marked(server, root, "ENV", env=env_of(server, **changes))


def test_what_a_fork_cannot_apply_is_named(server, tmp_path):
    root = write_files(tmp_path, {"test_ok.py": "def test_ok(): assert True\n"})
    env = env_of(server, PYTHONOPTIMIZE="1", PYTHONDEVMODE="1")
    w = warm(server, "-q", cwd=root, env=env)
    assert w.returncode == 0
    assert "PYTHONOPTIMIZE=set cannot apply" in w.stderr and "PYTHONDEVMODE=set cannot apply" in w.stderr


def test_an_activated_virtualenv_that_is_not_the_kernels_is_refused(server, tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    root = write_files(tmp_path / "suite", {"test_ok.py": "def test_ok(): pass\n"})
    w = warm(server, "-q", cwd=root, env=env_of(server, VIRTUAL_ENV=str(venv)))
    assert w.returncode == 78, w.stdout + w.stderr
    assert f"virtualenv {venv} is active" in w.stderr and len(w.stderr.strip().splitlines()) == 1, w.stderr


def on_a_terminal(cmd, cwd, env, prompt, answer, timeout=120):
    """Runs cmd with stdin, stdout and stderr on one pty that is its
    controlling terminal; types answer after prompt. (exit code, output)."""
    import fcntl
    import termios
    master, slave = os.openpty()

    def make_controlling():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=make_controlling)
    os.close(slave)
    typed = []

    def type_after_prompt(out):
        if not typed and prompt in out:
            os.write(master, answer)
            typed.append(True)

    return read_pty(p, master, timeout, type_after_prompt)


@pytest.mark.parametrize("args", [("-s",), ()], ids=["no-capture", "captured"])
def test_getpass_on_a_terminal_does_not_echo(server, tmp_path, args):
    root = write_files(tmp_path, {"test_pw.py": """
        import getpass
        def test_pw():
            assert getpass.getpass("Secret: ") == "hunter2"
    """})
    env = env_of(server)
    for cmd in ([ltest_binary(), "-p", str(server.port), "--"], [PYTHON, "-m", "pytest"]):
        code, out = on_a_terminal(cmd + ["-q", "-p", "no:cacheprovider", *args], root, env, b"Secret: ", b"hunter2\n")
        assert code == 0 and b"Secret: " in out and b"hunter2" not in out, (cmd, out)
