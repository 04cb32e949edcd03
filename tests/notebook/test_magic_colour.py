"""`%ltest` output in a real kernel: coloured and 100 columns wide unless the
user chose otherwise, and no exit code as the cell's Out."""
import re

from ltest_kernel_io import ANSI, execute, results, stream_text

SUITE = """\
def test_passes():
    pass

def test_fails():
    assert 1 + 1 == 3
"""


def raw_stdout(messages):
    return stream_text(messages, colours=True)


def summary_line(out):
    plain = [ANSI.sub("", line) for line in out.splitlines()]
    return next(line for line in plain if re.fullmatch(r"=+ 1 failed, 1 passed in [\d.]+s =+", line))


def ready(kernel, workdir):
    """The kernel's client, with the magic loaded and the suite in its cwd."""
    km, kc = kernel
    (workdir / "test_suite.py").write_text(SUITE)
    execute(kc, "%load_ext ltest")
    return kc


def test_output_is_coloured_and_wide_and_out_stays_empty(kernel, workdir):
    kc = ready(kernel, workdir)
    reply, messages = execute(kc, "code = %ltest test_suite.py")
    out = raw_stdout(messages)
    assert reply["status"] == "ok"
    assert "\x1b[31m" in out and "\x1b[32m" in out, out  # red for the failure, green for the pass
    assert len(summary_line(out)) == 100, out
    assert results(messages) == []  # no Out, whatever the code
    reply, messages = execute(kc, "code, type(code).__name__")
    assert results(messages) == ["(1, 'ExitCode')"]

    # A bare %ltest cell shows nothing as its Out either.
    reply, messages = execute(kc, "%ltest -q test_suite.py")
    assert reply["status"] == "ok" and results(messages) == []


def test_color_no_and_the_users_environment_win(kernel, workdir):
    kc = ready(kernel, workdir)
    reply, messages = execute(kc, "%ltest --color=no test_suite.py")
    out = raw_stdout(messages)
    assert "1 failed, 1 passed" in out and not ANSI.search(out), out

    execute(kc, "import os; os.environ['NO_COLOR'] = '1'; os.environ['COLUMNS'] = '60'")
    reply, messages = execute(kc, "%ltest test_suite.py")
    out = raw_stdout(messages)
    assert not ANSI.search(out), out
    assert len(summary_line(out)) == 60, out
