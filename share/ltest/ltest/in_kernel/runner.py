"""The kernel side of a run: take it (from the server's hand-over socket, or
as a request to relay), start its test process in a spare or a fresh fork,
and get spares ready for the next runs."""
import gc
import os
import sys
import time

from .. import eviction, learned
from ..in_test_process import child, fidelity, main_frames, process_main, spare_loop, warmup
from . import forksafety, kernel_fds, learn_idle, reaping, relay, run_request, spare, template  # kernel_fds: its record, now
from .preload import preloaded_roots
from .result import Reply, remember
from ..state import STATE
from ..sysdirs import ipython_shell


def run(args, cwd=None, env=None, stdout_isatty=False, stderr_isatty=False, columns=80, lines=24,
        stdout=None, stderr=None, workers=1, use_spare=False, umask=None, stdin_isatty=False, rlimits=None,
        nice=None, stdin_direct=False):
    """Runs `pytest ARGS` in a fork of this process; returns the exit code.
    Output goes to `stdout`/`stderr` (default: this process's sys.stdout/err).
    workers > 1 splits the collected tests over that many forked workers.
    use_spare: run in the spare test process forked ahead of time, if current."""
    return _relayed_run(run_request.RunRequest(list(args), cwd or os.getcwd(),
                                               dict(env if env is not None else os.environ), stdout_isatty,
                                               stderr_isatty, columns, lines, workers, umask, stdin_isatty,
                                               rlimits, nice, stdin_direct),
                        stdout, stderr, use_spare)[0]


def _relayed_run(request, stdout=None, stderr=None, use_spare=False):
    """(exit code, state of the spare it ran in or None): a run whose output
    this process relays to its own streams."""
    reaping.reap_finished()
    columns, lines = request.columns, request.lines
    spec = request.child_spec()
    out_r, out_w = relay.open_output(request.stdout_isatty, columns, lines)
    err_r, err_w = relay.open_output(request.stderr_isatty, columns, lines)
    in_r, in_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    child_fds = (in_r, out_w, err_w, ctl_w)
    sys.stdout.flush()
    sys.stderr.flush()
    pid, state = start_test_process(spec, child_fds, close_fds=(out_r, err_r, in_w, ctl_r), use_spare=use_spare,
                                    wire=vars(request))  # its lists and dicts are the request's as received
    for fd in child_fds:
        os.close(fd)
    child_relay = relay.ChildRelay(pid, out_r, err_r, in_w, ctl_r, stdout or sys.stdout, stderr or sys.stderr)
    try:
        code = child_relay.wait()
    finally:
        child_relay.close()
    return code, state


def load_whole_runtime():
    """Imports every module of ltest's runtime here, once, before the first
    fork: a test process then needs no import finder of ltest's in
    sys.meta_path (inherited_fds.drop_runtime_finder), as a fresh python
    has none. A module that fails to import keeps the finder in place."""
    finder = next((f for f in sys.meta_path if type(f).__name__ == "LtestRuntimeFinder"), None)
    import importlib
    for name in sorted(getattr(finder, "sources", ())):
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:
                pass


def _plan_for_fork():
    """What the next fork would otherwise scan sys.modules for: the modules
    it evicts, and fidelity.py's lookups."""
    load_whole_runtime()  # a few dict lookups once it is all there
    main_frames.prepare(child.pytest_argv0())  # once: every fork has them built
    eviction.warm_module_cache(preloaded_roots())
    fidelity.plan_in_kernel()


def start_test_process(spec, child_fds, close_fds=(), use_spare=True, wire=None):
    """Starts pytest for spec with child_fds (stdin, stdout, stderr, control)
    in the spare if it is current, else in a fresh fork; close_fds are the
    caller's own ends, which the fork inherits; wire: the request as
    received, which a fresh fork empties with spec. Returns (pid, the
    spare's state or None when forked afresh)."""
    taken = spare.hand_over(spec, child_fds) if use_spare else None
    if taken is not None:
        return taken.pid, taken.state
    if forksafety.unsafe_reasons():  # a notebook computed here: fork from the template (template.py)
        template.catch_up(_modules_to_share(), len(sys.modules))
        pid = template.spawn("fresh", spec, child_fds)
        if pid is not None:
            return pid, None
    _plan_for_fork()  # a spare had its plan made when it was forked
    # The child's collector need not walk the kernel's whole heap (slow, and
    # it dirties copy-on-write pages): freeze it for the fork, thaw it after.
    gc.freeze()
    kernel = os.getpid()
    pid = os.fork()
    if pid == 0:
        child.die_with_parent(kernel)  # at once: a kernel killed now must not leave this fork behind
        process_main.fresh(spec, child_fds, close_fds=close_fds, wire=wire)
    gc.unfreeze()
    try:
        os.setpgid(pid, pid)  # as the child does: its group exists before the server can signal it
    except OSError:
        pass
    return pid, None


def prepare_spare():
    """Forks the next runs' test processes ahead of time, once this request
    is answered (from the kernel's event loop), off every run's critical
    path; a moment later one of them practises (spare.py)."""
    loop = reaping.kernel_loop()
    if loop is None:
        return

    def fork_spares():
        _plan_for_fork()
        if not forksafety.unsafe_reasons():  # the last safe state: what later runs descend from if it computes
            template.start(TEMPLATE_ACTIONS, len(sys.modules), _plan_for_fork)
        else:  # what the notebook imported since, the template imports too (not the user's own code)
            template.catch_up(_modules_to_share(), len(sys.modules))
        try:
            directory = warmup.practice_directory()
        except OSError:  # no writable temporary directory: spares without practice
            directory = None
        practise = (lambda: warmup.warm_up(directory, preloaded_roots())) if directory else None
        for _ in range(spare.wanted()):
            if spare.prefork(reaping.reap_later, practise, preloaded_roots()) is None:
                break
        loop.call_later(spare.PRACTICE_DELAY, lambda: spare.practise_next(loop))

    STATE.refill = prepare_spare  # after an edit drops the prepared spare (spare.py)
    loop.call_soon(fork_spares)


def _modules_to_share():
    """The kernel's modules a test process may keep: all but the user's own."""
    evicted = set(eviction.planned_or_scanned(preloaded_roots()))
    return [name for name in list(sys.modules) if name not in evicted and name != "__main__"]


def _fresh_from_template(spec, fds):
    """A process the template forked (template.py) becomes spec's test process."""
    STATE.from_template = True
    child.die_with_parent(os.getppid())
    process_main.fresh(spec, fds)


def _spare_from_template(directory, fds):
    """A process the template forked becomes a spare (spare.py) on fds[0];
    directory: the kernel's practice suite, None for a spare without practice."""
    import socket
    STATE.from_template = True
    STATE.practice_directory = directory or STATE.practice_directory
    practise = (lambda: warmup.warm_up(directory, preloaded_roots())) if directory else None
    spare_loop.live(socket.socket(fileno=fds[0]), os.getppid(), practise, preloaded_roots())


TEMPLATE_ACTIONS = {"fresh": _fresh_from_template, "spare": _spare_from_template}

_warned = set()


def _warn_once(text, fd=None):
    """A warning on the client's stderr (fd: the run's own stderr), once per
    cause, not on every run."""
    if text and text not in _warned:
        _warned.add(text)
        line = f"ltest: warning: {text}\n"
        if fd is None:
            sys.stderr.write(line)
            sys.stderr.flush()
        else:
            try:
                os.write(fd, line.encode("utf-8", "replace"))
            except OSError:
                pass


def _hash_seed_mismatch(env):
    """hash() of str uses the seed the kernel started with; no fork can change it."""
    wanted, kernel = env.get("PYTHONHASHSEED", "random"), os.environ.get("PYTHONHASHSEED", "random")
    if wanted == kernel or wanted == "random":
        return None
    return (f"PYTHONHASHSEED={wanted} cannot apply in a warm kernel (hash() keeps the kernel's seed); "
            f"start the server with it: PYTHONHASHSEED={wanted} ltest -l ...")


def _warn_about_fork(spec, fd=None):
    """Warnings for the run's client; returns why forking looks unsafe."""
    _warn_once(_hash_seed_mismatch(spec.get("env") or {}), fd)
    reasons = forksafety.unsafe_reasons()
    if not template.alive():  # else runs descend from the template, forked while the kernel was safe
        for why in reasons:
            _warn_once(f"forking this kernel may hang the tests: {why}", fd)
    return reasons


def _predict_next(spec):
    """The next run is expected to be this one again: a spare gets ready
    for it (spare.py). Runs in several workers are not prepared, nor runs
    whose client set LTEST_PREPARE=0 (README: Known limits)."""
    wanted = spec.get("workers", 1) == 1 and (spec.get("env") or {}).get("LTEST_PREPARE") != "0"
    STATE.prediction = spec if wanted else None


def take_run(spec, fds):
    """A run the server handed over (handover.py, from the kernel's event
    loop): starts its test process with the server's fds (closed here) and
    returns at once, so the kernel is busy for the hand-over only. The
    server reads the output and the exit code itself."""
    start = time.perf_counter()
    wire = spec  # handover.take_next's frame holds it: a fork empties it (forget_request.py)
    try:
        reasons = _warn_about_fork(spec, fd=fds[2])
        spec = run_request.child_spec(spec)
        pid, state = start_test_process(spec, fds, wire=wire)
        _predict_next(spec)
    finally:
        for fd in fds:
            os.close(fd)
    spare.run_began(pid)  # the next spares practise and prepare once it ended
    reaping.reap_later(pid, stuck_after=None)
    prepare_spare()
    return remember(Reply(pid=pid, spare=state is not None, practised=state in ("ready", "prepared", "layered"),
                          prepared=state == "prepared", fork_unsafe=reasons, spare_kind=state or "forked",
                          waited=round(spare.waited(), 6),
                          learned_held=list(learned.held), duration=round(time.perf_counter() - start, 6)))


def serve(spec):
    """One run relayed through the kernel (a kernel on another host than the
    server, which cannot take fds): spec is the client's run request; output
    goes out as the kernel's own stream messages."""
    start = time.perf_counter()
    reasons = _warn_about_fork(spec)
    request = run_request.RunRequest.from_wire(spec)
    code, state = _relayed_run(request, use_spare=True)
    _predict_next(request.child_spec())
    prepare_spare()
    learn_idle.after_run()  # its test process was reaped here, not by reaping.reap_finished
    reply = remember(Reply(exit_code=code, duration=round(time.perf_counter() - start, 6), fork_unsafe=reasons,
                           spare=state is not None, practised=state in ("ready", "prepared", "layered"),
                           prepared=state == "prepared"))
    _announce(reply)
    return reply


def _announce(reply):
    """Publishes the result on iopub at once, after the run's last output (same
    socket, so in order): the server can answer its client without waiting
    for the end of the execute request (user expressions, reply, idle).
    Frontends ignore message types they do not know."""
    sys.stdout.flush()
    sys.stderr.flush()
    kernel = getattr(ipython_shell(), "kernel", None)
    if kernel is None:
        return
    from ..private_api import ipykernel_api
    try:
        ipykernel_api.publish(kernel, "ltest_result", dict(reply))
    except Exception:  # an ipykernel without these: the execute reply still carries the result
        pass
