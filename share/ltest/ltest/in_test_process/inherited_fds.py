"""A test process holds only the fds a fresh `python -m pytest` would: the
kernel's own (in_kernel/kernel_fds.py: ZeroMQ, its log, history.sqlite, its
ends of the spares' sockets) are closed once the run's stdio is in place.
Their Python owners (the kernel app, its sockets, the shell's history) stay
referenced by the kernel's frames below this one until os._exit, so no
finalizer ever closes those numbers again after a test reused them; and
nothing of the Jupyter stack runs in the fork, so none is used."""
import os
import sys


def close_kernels(keep=()):
    """Closes the kernel's fds in this process, except keep (the run's own)."""
    kernel_fds = sys.modules.get("ltest.in_kernel.kernel_fds")
    doomed = set(kernel_fds.still_open()) if kernel_fds is not None else set()
    spare = sys.modules.get("ltest.in_kernel.spare")
    for held in list(getattr(spare, "_spares", ())):  # the kernel's ends of other spares' sockets
        doomed.add(_detached(held.sock))  # its socket object no longer owns the number
        held.watch_fd, watch_fd = None, held.watch_fd
        doomed.add(watch_fd)
    for fd in sorted(fd for fd in doomed - set(keep) - {None} if fd > 2):
        try:
            os.close(fd)
        except OSError:
            pass


def _detached(sock):
    try:
        return sock.detach()
    except (OSError, AttributeError):
        return None


def drop_runtime_finder(finder_name="LtestRuntimeFinder"):
    """ltest's own import finder (share/ltest/loader.py) leaves sys.meta_path,
    as a fresh interpreter has none, once every module it serves is imported
    (runner.load_whole_runtime, in the kernel); else it stays, so that
    ltest's own late imports still work."""
    for finder in [f for f in sys.meta_path if type(f).__name__ == finder_name]:
        if all(name in sys.modules for name in getattr(finder, "sources", {})):
            sys.meta_path.remove(finder)
