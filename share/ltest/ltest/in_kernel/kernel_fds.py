"""The kernel's own file descriptors, which none of its test processes may
hold: what was open when ltest's runtime loaded, before any preload (the
Jupyter machinery: ZeroMQ's sockets, eventfds and epoll fds, the kernel's
log and output pipes, IPython's history.sqlite). A cold `python -m pytest`
has none of them; the test process closes them (in_test_process/
inherited_fds.py). Fds opened later belong to preloaded libraries, which may
still use them in the fork (a multiprocessing resource tracker's pipe), and
stay open. Recorded as (fd, device, inode): a number the kernel closed and
reused since for something else is not the same file and is left alone."""
import os


def _open_fds():
    found = {}
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # no /proc: nothing is closed
        return found
    for name in names:
        fd = int(name)
        try:
            st = os.fstat(fd)
        except OSError:  # the listing's own fd, gone
            continue
        found[fd] = (st.st_dev, st.st_ino)
    return found


AT_LOAD = {fd: ident for fd, ident in _open_fds().items() if fd > 2}


def still_open():
    """The fds of AT_LOAD that are still the same files now."""
    now = _open_fds()
    return [fd for fd, ident in AT_LOAD.items() if now.get(fd) == ident]
