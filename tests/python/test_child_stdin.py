"""child_stdin.py: the test process's stdin, relayed on demand, against real pipes."""
import json
import os
import select
import sys

import pytest

from forked import in_fork
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


@pytest.fixture
def relay():
    """A RelayStdin on real pipes: (stdin, the client's end of its data, the kernel's end of its control)."""
    data_r, data_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    yield child_stdin.RelayStdin(data_r, ctl_w), data_w, ctl_r
    for fd in (data_r, data_w, ctl_r, ctl_w):
        try:
            os.close(fd)
        except OSError:
            pass


def pending(fd):
    """What fd holds now, without waiting for more."""
    return os.read(fd, 4096) if select.select([fd], [], [], 0)[0] else b""


def test_lines_already_read_ahead_are_served_without_asking_again(relay):
    stdin, data_w, ctl_r = relay
    os.write(data_w, b"one\ntwo\n")
    assert stdin.readline() == "one\n" and pending(ctl_r) == b"I\n"
    assert stdin.readline() == "two\n" and pending(ctl_r) == b""  # it was in the buffer
    os.write(data_w, b"three\n")
    assert stdin.readline() == "three\n" and pending(ctl_r) == b"I\n"


def test_readline_with_a_size_returns_at_most_that_and_keeps_the_rest(relay):
    stdin, data_w, _ = relay
    os.write(data_w, b"abcdef\n")
    assert stdin.readline(3) == "abc"
    assert stdin.readline() == "def\n"


def test_read_returns_everything_to_eof_or_at_most_size_characters(relay):
    stdin, data_w, ctl_r = relay
    os.write(data_w, b"abc\ndef\n")
    assert stdin.read(5) == "abc\nd"
    os.write(data_w, b"ghi")
    os.close(data_w)
    assert stdin.read() == "ef\nghi"
    assert stdin.read() == "" and stdin.readline() == ""
    assert pending(ctl_r).count(b"I\n") >= 2  # each line it had to fetch, it asked for


def test_invalid_utf8_is_replaced_not_raised(relay):
    stdin, data_w, _ = relay
    os.write(data_w, b"caf\xe9\n")
    assert stdin.readline() == "caf\ufffd\n"


def test_a_secret_line_asks_with_the_prompt_and_reads_the_second_handle(relay):
    stdin, data_w, ctl_r = relay
    os.write(data_w, b"hunter2\n")
    assert stdin.readline_secret('Pass "word": ') == "hunter2\n"
    request = pending(ctl_r)
    assert request.startswith(b"P ") and request.endswith(b"\n")
    assert json.loads(request[2:]) == 'Pass "word": '


def test_getpass_strips_the_newline_and_eof_is_an_eoferror(relay, monkeypatch):
    stdin, data_w, _ = relay
    monkeypatch.setattr(sys, "__stdin__", stdin)
    os.write(data_w, b"s3cret\n")
    assert child_stdin.relay_getpass("Password: ") == "s3cret"
    os.close(data_w)
    with pytest.raises(EOFError):
        child_stdin.relay_getpass()


def test_the_stream_looks_like_a_readable_pipe(relay):
    stdin, _, _ = relay
    assert stdin.readable() and not stdin.isatty() and stdin.fileno() >= 0


@pytest.mark.parametrize("env, locale_name, expected", [
    ({}, "C", ("utf-8", "surrogateescape")),
    ({}, "POSIX", ("utf-8", "surrogateescape")),
    ({}, "C.UTF-8", ("utf-8", "surrogateescape")),
    ({}, "en_US.UTF-8", ("utf-8", "strict")),
    ({"PYTHONIOENCODING": "latin-1"}, "en_US.UTF-8", ("latin-1", "strict")),
    ({"PYTHONIOENCODING": "latin-1"}, "C", ("latin-1", "surrogateescape")),
    ({"PYTHONIOENCODING": "latin-1:replace"}, "C", ("latin-1", "replace")),
    ({"PYTHONIOENCODING": ":ignore"}, "en_US.UTF-8", ("utf-8", "ignore")),
])
def test_stdio_encoding_is_cpythons(env, locale_name, expected):
    assert child_stdin.stdio_encoding(env, locale_name) == expected


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def test_stdout_to_a_terminal_is_line_buffered_and_to_a_pipe_block_buffered(pipe, monkeypatch):
    r, w = pipe
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    tty = child_stdin._text_stream(w, tty=True)
    tty.write("line\n")
    assert pending(r) == b"line\n"
    piped = child_stdin._text_stream(w, tty=False)
    piped.write("held\n")
    assert pending(r) == b""
    piped.flush()
    assert pending(r) == b"held\n"


def test_pythonunbuffered_writes_through_at_once(pipe, monkeypatch):
    r, w = pipe
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    stream = child_stdin._text_stream(w, tty=False)
    stream.write("no newline")
    assert pending(r) == b"no newline"


def test_stderr_is_line_buffered_and_escapes_what_it_cannot_encode():
    def in_child():
        r, w = os.pipe()
        os.dup2(w, 2)
        stream = child_stdin._text_stream(2, tty=False, encoding="ascii", errors="strict")
        stream.write("caf\xe9\n")
        return os.read(r, 100).decode()

    assert in_fork(in_child) == "caf\\xe9\n"


def test_stdout_keeps_its_errors_handler():
    def in_child():
        r, w = os.pipe()
        stream = child_stdin._text_stream(w, tty=True, encoding="ascii", errors="strict")
        try:
            stream.write("caf\xe9\n")
        except UnicodeEncodeError:
            return "refused"
        return os.read(r, 100).decode()

    assert in_fork(in_child) == "refused"


def test_sizes_count_characters_and_never_cut_one_in_two(relay):
    stdin, data_w, _ = relay
    os.write(data_w, "ééx\nààà\n".encode())
    assert stdin.readline(2) == "éé"
    assert stdin.readline() == "x\n"
    assert stdin.read(2) == "àà"
    assert stdin.read(2) == "à\n"


def test_the_clients_own_stdin_is_opened_as_cpython_opens_it():
    """fd 0 handed over as is (a pipe here): the bytes unchanged, no newline
    added, EOF as EOF, .buffer, encoding, errors, name and mode of a fresh stdin."""
    data_r, data_w = os.pipe()
    os.write(data_w, b"abc")
    os.close(data_w)
    stdin = child_stdin.stdin_stream(data_r, "utf-8", "surrogateescape")
    assert (stdin.encoding, stdin.errors, stdin.name, stdin.mode, stdin.line_buffering) == \
        ("utf-8", "surrogateescape", "<stdin>", "r", False)
    assert stdin.buffer.read(1) == b"a"
    assert stdin.read() == "bc" and stdin.read() == ""
    os.close(data_r)


def test_relayed_stdin_has_a_buffer_and_an_encoding(relay):
    stdin, data_w, ctl_r = relay
    stdin_utf8 = child_stdin.RelayStdin(stdin.fileno(), os.dup(2), "utf-8", "strict")
    assert (stdin_utf8.encoding, stdin_utf8.errors, stdin_utf8.name) == ("utf-8", "strict", "<stdin>")
    os.write(data_w, "é1\nrest\n".encode())
    assert stdin.buffer.readline() == "é1\n".encode() and pending(ctl_r) == b"I\n"
    assert stdin.buffer.read(2) == b"re" and stdin.readline() == "st\n"
