"""child_stdin.py: the test process's stdin, relayed on demand, against real pipes."""
import os

from ltest.in_test_process import child_stdin


def test_relay_stdin_asks_for_a_line_only_when_read():
    data_r, data_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    stdin = child_stdin.RelayStdin(data_r, ctl_w)
    os.write(data_w, b"first line\nsecond")
    os.close(data_w)
    assert stdin.readline() == "first line\n"
    assert os.read(ctl_r, 10) == b"I\n"  # it asked once
    assert stdin.readline() == "second"  # then EOF ends the partial line
    assert stdin.readline() == ""
    assert stdin.isatty() is False
