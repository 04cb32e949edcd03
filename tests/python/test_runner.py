"""runner.py outside a kernel: a run in a real fork, its output relayed to
this process's streams (the kernel path is covered by tests/integration and
tests/notebook)."""
import io
import os
import signal
import sys

from ltest.in_kernel import runner


def test_exit_code_of_a_signal_death_is_128_plus_n():
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert runner.exit_code_of(status) == 128 + signal.SIGKILL
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    assert runner.exit_code_of(status) == 7


def test_run_outside_a_kernel_relays_output_and_returns_the_exit_code(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import sys\n"
        "def test_out(): print('OUT-LINE'); print('ERR-LINE', file=sys.stderr)\n"
        "def test_fail(): assert False\n")
    out, err = io.StringIO(), io.StringIO()
    code = runner.run(["-q", "-s", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=dict(os.environ),
                      stdout=out, stderr=err)
    assert code == 1
    assert "OUT-LINE" in out.getvalue() and "1 failed, 1 passed" in out.getvalue()
    assert "ERR-LINE" in err.getvalue() and "OUT-LINE" not in err.getvalue()


def test_run_leaves_this_process_untouched(tmp_path):
    (tmp_path / "test_mutate.py").write_text(
        "import os, sys\n"
        "def test_mutate():\n"
        "    os.environ['LTEST_LEAK'] = '1'\n"
        "    os.chdir('/')\n"
        "    sys.modules['ltest_leak'] = sys\n")
    before = (dict(os.environ), os.getcwd(), set(sys.modules))
    code = runner.run(["-q", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=dict(os.environ),
                      stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    assert "LTEST_LEAK" not in os.environ and os.getcwd() == before[1] and "ltest_leak" not in sys.modules


def test_run_in_a_terminal_gets_a_pty_with_the_clients_width(tmp_path):
    (tmp_path / "test_tty.py").write_text(
        "import os, shutil, sys\n"
        "def test_tty():\n"
        "    assert sys.stdout.isatty()\n"
        "    assert os.get_terminal_size(1).columns == 123\n")
    out = io.StringIO()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "PY_COLORS")}
    code = runner.run(["-s", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=env, stdout_isatty=True, columns=123,
                      stdout=out, stderr=io.StringIO())
    assert code == 0, out.getvalue()
    assert "\x1b[" in out.getvalue()  # pytest colours a terminal
