"""The client's resource limits (ulimit) and nice value in the test process,
as a new interpreter started from the client's shell would have them.

The run request carries them ("rlimits": {"nofile": [soft, hard], ...},
values an integer or "unlimited"; "nice": int; docs/protocol.md), checked by
the server. Lowering a limit, or the priority, always works; a hard limit
above the kernel's, or a nice value below it (a higher priority), needs
privileges the kernel may not have: the test process then keeps the
kernel's hard limit (the soft one as close to the client's as it allows) or
its nice value, and the run says so in one warning line each. An older
client sends neither: everything stays as the kernel has it.
"""
import os
import resource

UNLIMITED = "unlimited"


def apply(spec, getrlimit=resource.getrlimit, setrlimit=resource.setrlimit):
    """Applies the run's limits and nice value; returns the warnings (one
    line each) for what could not apply."""
    notes = [apply_limit(name, pair, getrlimit, setrlimit) for name, pair in sorted((spec.get("rlimits") or {}).items())]
    notes.append(apply_nice(spec.get("nice")))
    return [note for note in notes if note]


def _from_wire(value):
    return resource.RLIM_INFINITY if value == UNLIMITED else int(value)


def _shown(value):
    return UNLIMITED if value == resource.RLIM_INFINITY else str(value)


def _at_most(value, bound):
    if bound == resource.RLIM_INFINITY:
        return value
    return bound if value == resource.RLIM_INFINITY else min(value, bound)


def apply_limit(name, pair, getrlimit=resource.getrlimit, setrlimit=resource.setrlimit):
    """One limit, by its lowercase name without RLIMIT_; a warning or None."""
    which = getattr(resource, "RLIMIT_" + name.upper(), None)
    if which is None:
        return None  # not a limit of this platform: a fresh python would not have it either
    try:
        wanted = (_from_wire(pair[0]), _from_wire(pair[1]))
    except (TypeError, ValueError, IndexError):
        return f"the client's RLIMIT_{name.upper()} {pair!r} is not a limit; the tests keep the server's"
    if tuple(getrlimit(which)) == wanted:
        return None
    try:
        setrlimit(which, wanted)
        return None
    except (ValueError, OSError):  # a hard limit above the kernel's: EPERM without CAP_SYS_RESOURCE
        pass
    soft, hard = getrlimit(which)
    closest = (_at_most(wanted[0], hard), hard)
    try:
        setrlimit(which, closest)
    except (ValueError, OSError):
        closest = (soft, hard)
    return (f"RLIMIT_{name.upper()} {_shown(wanted[0])}/{_shown(wanted[1])} (soft/hard, the client's) cannot apply: "
            f"the server's hard limit is {_shown(hard)} and a process cannot raise it; the tests run with "
            f"{_shown(closest[0])}/{_shown(closest[1])}; start the server under the same ulimit")


def apply_nice(nice, getpriority=os.getpriority, setpriority=os.setpriority):
    """The client's nice value; a warning or None."""
    if nice is None:
        return None
    try:
        wanted = int(nice)
    except (TypeError, ValueError):
        return f"the client's nice value {nice!r} is not a number; the tests keep the server's"
    current = getpriority(os.PRIO_PROCESS, 0)
    if wanted == current:
        return None
    try:
        setpriority(os.PRIO_PROCESS, 0, wanted)
        return None
    except OSError:  # a higher priority (lower nice value) needs CAP_SYS_NICE or RLIMIT_NICE
        pass
    return (f"nice {wanted} (the client's) cannot apply: the server runs at nice {current} and a process "
            f"cannot raise its priority; the tests run at nice {current}; start the server with nice -n {wanted}")
