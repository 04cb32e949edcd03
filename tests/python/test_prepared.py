"""prepared.py's hand-over: the run's fds take the placeholders' places in
every fd that refers to one, after what the preparation wrote; a run it was
not prepared for gets a clear error, not silence."""
import os

from ltest.in_test_process import prepared, process_main


def test_the_runs_fds_replace_every_copy_of_a_placeholder_after_the_early_output():
    holders = prepared._Placeholders()
    os.write(holders.out, b"early out\n")  # what the preparation printed
    os.write(holders.err, b"early err\n")
    saved_out = os.dup(holders.out)  # as pytest's capture keeps a copy of fd 1
    saved_in = os.dup(holders.stdin)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    ctl_placeholder = holders.ctl
    ready = prepared.Prepared({}, None, holders, None, {})
    try:
        prepared.attach(ready, (in_r, out_w, err_w, ctl_w))
        os.write(saved_out, b"late out\n")
        os.write(ctl_placeholder, b"X 0\n")
        os.write(in_w, b"typed\n")
        assert os.read(out_r, 100) == b"early out\nlate out\n"
        assert os.read(err_r, 100) == b"early err\n"
        assert os.read(ctl_r, 100) == b"X 0\n"
        assert os.read(saved_in, 100) == b"typed\n"
        for fd in (in_r, out_w, err_w, ctl_w):  # the run's own fds were closed: their places hold them
            try:
                os.fstat(fd)
            except OSError:
                continue
            assert fd in (saved_out, saved_in, ctl_placeholder, holders.stdin)
    finally:
        for fd in (saved_out, saved_in, ctl_placeholder, holders.stdin, in_w, out_r, err_r, ctl_r):
            try:
                os.close(fd)
            except OSError:
                pass


def test_a_run_it_was_not_prepared_for_ends_with_an_error_its_client_sees():
    ready = prepared.Prepared({"args": ["-q"]}, None, prepared._Placeholders(), None, {})
    pipes = [os.pipe() for _ in range(4)]  # the run's stdin, stdout, stderr, control
    fds = (pipes[0][0], pipes[1][1], pipes[2][1], pipes[3][1])
    pid = os.fork()
    if pid == 0:
        try:
            process_main.from_prepared(ready, {"args": ["-rA"]}, fds)
        finally:
            os._exit(99)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    err, ctl = (os.read(pipes[i][0], 1000) for i in (2, 3))
    assert os.waitstatus_to_exitcode(status) == 70
    assert err == b"ltest: internal: a prepared test process was handed another run than it was prepared for\n"
    assert ctl == b"X 70\n"
    for fd in {fd for pair in pipes for fd in pair} - set(fds):  # the run's own ends were closed above
        os.close(fd)
