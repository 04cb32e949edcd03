"""Is it safe to fork this kernel now? Cheap checks only.

fork() copies only the calling thread: a lock another thread held (an OpenMP
pool after a parallel torch op, a JAX backend, CUDA) stays locked forever in
the child, which then hangs on its next use of that library.
"""
import os
import sys

from ..state import STATE


def thread_count():
    """This process's threads, native ones (OpenMP, CUDA) too, not only Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def thread_ids():
    """The ids of this process's threads (native ones too), or None."""
    try:
        return frozenset(os.listdir("/proc/self/task"))
    except OSError:
        return None


def mark_baseline():
    """Called after warm-up: the threads alive now (ipykernel's own, and any a
    preload started) are the expected ones."""
    STATE.baseline_threads = thread_count()
    STATE.baseline_thread_ids = thread_ids()


def unsafe_reasons():
    """Why forking now may hang the test process; empty when it looks safe."""
    reasons = []
    if STATE.baseline_threads is not None:
        # By id where /proc tells them: a count missed the OpenMP worker of a parallel
        # torch op started after one of warm-up's threads had ended (ipykernel 7's
        # kernel: 14 threads at warm-up, 13, then 14 again), and the next run forked
        # from the kernel hung on its first torch op.
        now = thread_ids()
        if STATE.baseline_thread_ids is not None and now is not None:
            extra = len(now - STATE.baseline_thread_ids)
        else:
            extra = thread_count() - STATE.baseline_threads
        if extra > 0:
            reasons.append(f"{extra} thread(s) started in the kernel since warm-up (a thread pool, e.g. OpenMP after a parallel torch op)")
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                reasons.append("CUDA is initialised in the kernel")
        except Exception:
            pass
    xla_bridge = sys.modules.get("jax._src.xla_bridge")
    if xla_bridge is not None and getattr(xla_bridge, "_backends", None):
        reasons.append("a JAX backend is initialised in the kernel")
    return reasons
