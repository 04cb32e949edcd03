"""prepared.py's hand-over: the run's fds take the placeholders' places in
every fd that refers to one, after what the preparation wrote."""
import os

from ltest.in_test_process import prepared


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
