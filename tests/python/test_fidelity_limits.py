"""fidelity_limits: the client's ulimits and nice value applied in the test
process, and what an unprivileged process cannot raise named. Each case runs
in a fork (limits lowered there stay lowered), the privileged ones as nobody:
a process without CAP_SYS_RESOURCE / CAP_SYS_NICE, as the kernel may be."""
import json
import os
import resource

import pytest

from ltest.in_test_process import fidelity_limits as fl

NOBODY = 65534


def in_a_fork(body, unprivileged=False):
    """body()'s JSON-able result, computed in a child process."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            if unprivileged and os.getuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)  # drops every capability
            payload = {"value": body()}
        except BaseException as e:  # the parent reports it
            payload, code = {"error": repr(e)}, 1
        os.write(w, json.dumps(payload).encode())
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        payload = json.loads(f.read())
    os.waitpid(pid, 0)
    assert "error" not in payload, payload["error"]
    return payload["value"]


def wire(value):
    return "unlimited" if value == resource.RLIM_INFINITY else value


def test_lowered_limits_apply_and_say_nothing():
    _, nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, core_hard = resource.getrlimit(resource.RLIMIT_CORE)

    def body():
        notes = fl.apply({"rlimits": {"nofile": [512, wire(nofile_hard)], "core": [0, 0]}})
        return notes, resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CORE)

    notes, nofile, core = in_a_fork(body)
    assert notes == [] and nofile == [512, nofile_hard] and core == [0, 0]


def test_unlimited_on_the_wire_is_rlim_infinity():
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY:
        pytest.skip("this process's RLIMIT_FSIZE hard limit is not unlimited")  # the wire value is read here

    def body():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))  # raising the soft one back needs no privilege
        return fl.apply({"rlimits": {"fsize": ["unlimited", "unlimited"]}}), resource.getrlimit(resource.RLIMIT_FSIZE)

    notes, fsize = in_a_fork(body, unprivileged=True)
    assert notes == [] and fsize == [resource.RLIM_INFINITY] * 2


def test_a_hard_limit_above_the_kernels_keeps_the_kernels_and_is_named():
    def body():
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 300))  # the kernel's, say
        notes = fl.apply({"rlimits": {"nofile": [250, 4000], "core": [0, 0]}})
        return notes, resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CORE)

    notes, nofile, core = in_a_fork(body, unprivileged=True)
    assert nofile == [250, 300] and core == [0, 0]  # the soft limit as asked, the others applied
    assert len(notes) == 1 and "\n" not in notes[0], notes
    assert notes[0].startswith("RLIMIT_NOFILE 250/4000") and "hard limit is 300" in notes[0]
    assert "the tests run with 250/300" in notes[0]


def test_a_soft_limit_above_the_kernels_hard_one_gets_the_hard_one():
    def body():
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 300))
        return fl.apply({"rlimits": {"nofile": [1000, 4000]}}), resource.getrlimit(resource.RLIMIT_NOFILE)

    notes, nofile = in_a_fork(body, unprivileged=True)
    assert nofile == [300, 300] and "the tests run with 300/300" in notes[0]


def test_a_lower_nice_value_than_the_kernels_is_named_a_higher_one_applies():
    start = os.getpriority(os.PRIO_PROCESS, 0)
    if start + 7 > 19:
        pytest.skip(f"this process already runs at nice {start}")

    def body():
        os.nice(5)  # the kernel's, say
        lower = fl.apply({"nice": start + 2})
        at_lower = os.getpriority(os.PRIO_PROCESS, 0)
        higher = fl.apply({"nice": start + 7})
        return lower, at_lower, higher, os.getpriority(os.PRIO_PROCESS, 0)

    lower, at_lower, higher, at_higher = in_a_fork(body, unprivileged=True)
    assert at_lower == start + 5 and len(lower) == 1, lower
    assert lower[0].startswith(f"nice {start + 2} (the client's) cannot apply") and f"nice -n {start + 2}" in lower[0]
    assert higher == [] and at_higher == start + 7


def test_an_older_client_sends_nothing_and_nothing_changes():
    calls = []
    assert fl.apply({}, getrlimit=lambda which: calls.append(which), setrlimit=lambda *a: calls.append(a)) == []
    assert fl.apply({"rlimits": None, "nice": None}) == [] and calls == []


def test_what_this_platform_lacks_is_ignored_and_garbage_named():
    assert fl.apply_limit("nosuchlimit", [1, 2]) is None
    note = fl.apply_limit("nofile", ["many", 2])
    assert "RLIMIT_NOFILE" in note and "not a limit" in note
    assert "not a number" in fl.apply_nice("high")
