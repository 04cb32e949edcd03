"""relay.py: a test process whose output and input go through this process
(a kernel on another host, %ltest), in a real fork via runner.run."""
import fcntl
import io
import os
import struct
import termios

from forked import run_spec
from ltest.in_kernel import relay, runner


def test_a_terminal_output_is_a_pty_of_the_clients_size_that_keeps_the_bytes_as_written():
    master, slave = relay.open_output(True, 97, 31)
    try:
        assert os.isatty(slave)
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))[:2]
        assert (rows, cols) == (31, 97)
        os.write(slave, b"a\nb")
        assert os.read(master, 100) == b"a\nb"  # no \r added
    finally:
        os.close(master)
        os.close(slave)
    r, w = relay.open_output(False, 97, 31)
    assert not os.isatty(w)
    os.close(r)
    os.close(w)


def test_a_line_the_tests_read_is_asked_of_this_process_when_read(tmp_path, monkeypatch):
    (tmp_path / "test_x.py").write_text("def test_in(): print('GOT', input('prompt> '))\n")
    asked = []
    # The kernel's input() asks the frontend; here relay.py's own name for it answers (builtins.input
    # itself would be the fork's too: the test would read the fake, not the relay).
    monkeypatch.setattr(relay, "input", lambda prompt="": asked.append(prompt) or "typed", raising=False)
    out = io.StringIO()
    code = runner.run(["-s", "-q", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=run_spec(tmp_path)["env"],
                      stdout=out, stderr=io.StringIO())
    assert code == 0, out.getvalue()
    assert asked == [""] and "prompt> GOT typed" in out.getvalue()
