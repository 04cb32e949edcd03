"""Thread pools the kernel started, made harmless in the fork: the fallback
for a kernel without its template (in_kernel/template.py).

fork() copies only the calling thread. After a notebook ran a parallel torch
op in the shared kernel, GNU OpenMP's pool has threads there; the fork
inherits the pool's bookkeeping but not its threads, and its first parallel
region waits for them forever. The test process then limits torch (intra-op
OpenMP and MKL) to one thread before the tests start, which never enters
the broken pool, and says so once on stderr. Only then: a kernel without
extra threads keeps torch's own thread count, as a cold run has it, and so
does a test process forked from the template (every one, once the kernel
has extra threads, unless the template could not be started), which never
ran a pool.
What stays unsafe (CUDA, a JAX backend, a native pool that torch does not
control) is reported by forksafety.py and docs/design.md.
"""
import os
import sys

from ..state import STATE


def kernel_thread_count(pid):
    """Threads of process pid (the kernel, seen from its fork), 0 if unknown."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def kernel_has_pools(kernel_pid, baseline=None):
    """Did the kernel start threads since warm-up (a pool, e.g. OpenMP)?"""
    baseline = STATE.baseline_threads if baseline is None else baseline
    return baseline is not None and kernel_thread_count(kernel_pid) > baseline


def limit_pools(kernel_pid, modules=None):
    """Limits torch to one thread when the kernel has pools; the note to
    print, or None."""
    modules = sys.modules if modules is None else modules
    torch = modules.get("torch")
    if STATE.from_template:  # forked from the template, which never ran a pool: torch's own count, as cold
        return None
    if torch is None or not kernel_has_pools(kernel_pid):
        return None
    try:
        if torch.get_num_threads() <= 1:
            return None
        torch.set_num_threads(1)
    except Exception:
        return None
    return ("torch limited to 1 thread in this test process: the kernel has thread pools (a parallel torch op "
            "ran in it), which a fork cannot use (OMP_NUM_THREADS=1 for the server avoids this)")
