"""run_request.py: a run request's defaults, written once, and what the
test process takes of it."""
import dataclasses
import inspect
import os

from ltest.in_kernel import run_request, runner
from ltest.in_kernel.run_request import RunRequest


def test_an_empty_request_runs_here_with_this_environment_and_the_defaults():
    request = RunRequest.from_wire({})
    assert request == RunRequest(args=[], cwd=os.getcwd(), env=dict(os.environ))
    assert (request.columns, request.lines, request.workers, request.umask) == (80, 24, 1, None)
    assert not (request.stdout_isatty or request.stderr_isatty or request.stdin_isatty)


def test_nulls_and_unknown_keys_are_ignored():
    request = RunRequest.from_wire({"args": None, "cwd": "/p", "columns": None, "colour": "always", "env": {}})
    assert request == RunRequest(args=[], cwd="/p", env={})


def test_zero_sizes_mean_the_defaults_and_zero_workers_one_per_cpu():
    request = RunRequest.from_wire({"columns": 0, "lines": 0, "workers": 0})
    assert (request.columns, request.lines, request.workers) == (80, 24, os.cpu_count() or 1)


def test_numbers_given_as_strings_become_ints():
    request = RunRequest.from_wire({"columns": "132", "lines": "50", "workers": "3"})
    assert (request.columns, request.lines, request.workers) == (132, 50, 3)


def test_the_child_spec_is_plain_json_with_umask_only_when_given():
    args, env = ["-q"], {"A": "1"}
    request = RunRequest.from_wire({"args": args, "cwd": "/p", "env": env, "stdout_isatty": 1, "workers": 2})
    spec = request.child_spec()
    assert spec == {"args": ["-q"], "cwd": "/p", "env": {"A": "1"}, "stdout_isatty": True, "stderr_isatty": False,
                    "workers": 2, "stdin_isatty": False, "stdin_direct": False}
    assert spec["args"] is not args and spec["env"] is not env  # the spare gets copies, not the request's lists
    assert RunRequest.from_wire({"umask": 0o27}).child_spec()["umask"] == 0o27


def test_the_module_function_is_the_request_round_trip():
    wire = {"args": ["-x"], "cwd": "/p", "env": {}, "columns": 0, "umask": 18}
    assert run_request.child_spec(wire) == RunRequest.from_wire(wire).child_spec()


def test_runner_run_has_the_requests_defaults():
    # runner.run builds a RunRequest positionally: its keyword defaults must be the request's.
    params = inspect.signature(runner.run).parameters
    for field in dataclasses.fields(RunRequest):
        if field.default is not dataclasses.MISSING:
            assert params[field.name].default == field.default, field.name


def test_bytes_the_server_escaped_come_back_as_cold_python_decodes_them():
    """cli/common/byte_text.hpp: a byte that is not UTF-8 (or a NUL) travels
    as U+0000 and two hex digits; the test process gets os.fsdecode's str."""
    request = RunRequest.from_wire({"args": ["-k", "x\0ffy", "plain ü"], "cwd": "/tmp/d\0ff\0fe",
                                    "env": {"N\0ff": "v\0" "80", "E": "\0c3\0a9", "Z": "a\0" "00b"}})
    assert request.args == ["-k", os.fsdecode(b"x\xffy"), "plain ü"]
    assert os.fsencode(request.cwd) == b"/tmp/d\xff\xfe"
    assert {os.fsencode(k): os.fsencode(v) for k, v in request.env.items()} == \
        {b"N\xff": b"v\x80", b"E": "é".encode(), b"Z": b"a\0b"}
    assert request.env["E"] == "é"  # a valid sequence, even escaped, is text
