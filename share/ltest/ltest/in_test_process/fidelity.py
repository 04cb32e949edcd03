"""The last steps of turning a fork of the kernel into `python -m pytest`:
everything a test could ask its process that a fresh interpreter answers
differently from a kernel. child.py calls `become_fresh` once,
after it has set the fds, environment, cwd and sys.path; each concern lives
in its own module:

  fidelity_jupyter        "am I in Jupyter?": the kernel's stack out of sys.modules
  fidelity_interpreter    recursion limit, gc, logging, RNGs, exit handlers
  fidelity_environment    TZ, TMPDIR, locale, start-up variables, virtualenv
  fidelity_checkouts      a checkout in the project shadowing an installed module
  fidelity_site           site directories and .pth files changed since the kernel started
  fidelity_threads        the kernel's thread pools (torch after a parallel op)
  fidelity_import_warnings  warnings preloaded modules emitted at import, replayed
  fidelity_limits         the client's ulimits and nice value
  fidelity_captured       what libraries fixed at import from the cwd, HOME or environment
"""
import os
import sys

from . import (fidelity_captured, fidelity_checkouts, fidelity_environment, fidelity_import_warnings,
               fidelity_interpreter, fidelity_jupyter, fidelity_limits, fidelity_site, fidelity_threads)
from .. import sysdirs


def refusal(env):
    """(exit code, one line) if this kernel must not run the client's tests."""
    why = fidelity_environment.wrong_interpreter(env)
    return (fidelity_environment.WRONG_INTERPRETER_EXIT, why) if why else None


def become_fresh(env, cwd, head_dirs, ctype_locale, kernel_pid, spec=None, kernel_context=(None, None)):
    """Applies every concern; says on stderr, one line each, what cannot apply."""
    notes = []
    notes.append(fidelity_threads.limit_pools(kernel_pid))
    fidelity_jupyter.forget_jupyter()
    fidelity_jupyter.matplotlib_as_cold(env)
    fidelity_interpreter.fresh_recursion_limit()
    fidelity_interpreter.thaw_gc()
    fidelity_interpreter.reset_logging()
    fidelity_interpreter.reseed_generators()
    fidelity_interpreter.fresh_exit_handlers()
    fidelity_environment.apply_time_and_tempdir()
    notes.append(fidelity_environment.apply_locale(env, ctype_locale))
    notes += fidelity_environment.apply_startup_variables(env)
    sys.path[:] = fidelity_environment.without_cwd_if_safe_path(sys.path, cwd, env)
    notes += fidelity_checkouts.use_checkouts(head_dirs, sysdirs.system_dirs())
    fidelity_site.see_new_installs()
    fidelity_import_warnings.install_replay()
    notes += fidelity_limits.apply(spec or {})  # the run request's "rlimits" and "nice"
    notes += fidelity_captured.rederive(env, cwd, *kernel_context)  # the kernel's (environment, cwd)
    for note in notes:
        if note:
            sys.stderr.write(f"ltest: warning: {note}\n")
    sys.stderr.flush()


def plan_in_kernel():
    """In the kernel, just before a fork: the names the child's steps need
    from sys.modules. Scanning its thousands of names in the child costs
    10-30 ms of copy-on-write faults (each key's reference count is written)."""
    fidelity_jupyter.plan()
    fidelity_checkouts.plan()
    fidelity_import_warnings.plan()


def kernel_pid():
    """The kernel, as seen from its fork (a spare is the kernel's child too)."""
    return os.getppid()
