"""The kernel-side runtime's logic, tested without a kernel (the kernel path is
covered by tests/integration and tests/notebook)."""
import io
import json
import os
import signal
import sys
import types


from ltest import eviction
from ltest.in_test_process import child
from ltest.state import STATE
from ltest.in_kernel import reaping, result, runner


def test_sys_path_is_cwd_then_pythonpath_then_the_interpreters():
    base = ["/usr/lib/python311.zip", "/usr/lib/python3.11", "/usr/lib/python3/dist-packages"]
    path = child.pytest_sys_path("/proj", {"PYTHONPATH": "src:/abs/lib"}, base=base)
    assert path == ["/proj", "/proj/src", "/abs/lib"] + base


def test_sys_path_does_not_repeat_entries():
    path = child.pytest_sys_path("/proj", {}, base=["/proj", "/usr/lib/python3.11"])
    assert path == ["/proj", "/usr/lib/python3.11"]


def _module(name, file):
    m = types.ModuleType(name)
    if file is not None:
        m.__file__ = file
    return m


def test_user_modules_are_evicted_system_and_preloaded_ones_kept():
    modules = {
        "mine": _module("mine", "/home/u/proj/mine.py"),
        "mine.sub": _module("mine.sub", "/home/u/proj/mine/sub.py"),
        "heavy": _module("heavy", "/home/u/proj/heavy/__init__.py"),
        "heavy.core": _module("heavy.core", "/home/u/proj/heavy/core.py"),
        "json": _module("json", "/usr/lib/python3.11/json/__init__.py"),
        "builtin_like": _module("builtin_like", None),
        "ltest.runner": _module("ltest.runner", "/opt/share/ltest/ltest/runner.py"),
    }
    evict = eviction.modules_to_evict(modules, keep_roots={"heavy"}, system_dirs=("/usr/lib/",))
    assert sorted(evict) == ["mine", "mine.sub"]


def test_exit_code_of_a_signal_death_is_128_plus_n():
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert reaping.exit_code_of(status) == 128 + signal.SIGKILL
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    assert reaping.exit_code_of(status) == 7


def test_relay_stdin_asks_for_a_line_only_when_read():
    data_r, data_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    stdin = child.RelayStdin(data_r, ctl_w)
    os.write(data_w, b"first line\nsecond")
    os.close(data_w)
    assert stdin.readline() == "first line\n"
    assert os.read(ctl_r, 10) == b"I\n"  # it asked once
    assert stdin.readline() == "second"  # then EOF ends the partial line
    assert stdin.readline() == ""
    assert stdin.isatty() is False


def test_reply_is_json_for_user_expressions():
    r = result.Reply(exit_code=3, duration=0.5)
    assert r._repr_json_() == {"exit_code": 3, "duration": 0.5}
    assert json.loads(repr(r)) == {"exit_code": 3, "duration": 0.5}


def test_run_outside_a_kernel_relays_output_and_returns_the_exit_code(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import sys\n"
        "def test_out(): print('OUT-LINE'); print('ERR-LINE', file=sys.stderr)\n"
        "def test_fail(): assert False\n")
    out, err = io.StringIO(), io.StringIO()
    code = runner.run(["-q", "-s", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=dict(os.environ),
                      stdout=out, stderr=err)
    assert code == 1
    assert "OUT-LINE" in out.getvalue() and "1 failed, 1 passed" in out.getvalue()
    assert "ERR-LINE" in err.getvalue() and "OUT-LINE" not in err.getvalue()


def test_run_leaves_this_process_untouched(tmp_path):
    (tmp_path / "test_mutate.py").write_text(
        "import os, sys\n"
        "def test_mutate():\n"
        "    os.environ['LTEST_LEAK'] = '1'\n"
        "    os.chdir('/')\n"
        "    sys.modules['ltest_leak'] = sys\n")
    before = (dict(os.environ), os.getcwd(), set(sys.modules))
    code = runner.run(["-q", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=dict(os.environ),
                      stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    assert "LTEST_LEAK" not in os.environ and os.getcwd() == before[1] and "ltest_leak" not in sys.modules


def test_run_in_a_terminal_gets_a_pty_with_the_clients_width(tmp_path):
    (tmp_path / "test_tty.py").write_text(
        "import os, shutil, sys\n"
        "def test_tty():\n"
        "    assert sys.stdout.isatty()\n"
        "    assert os.get_terminal_size(1).columns == 123\n")
    out = io.StringIO()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "PY_COLORS")}
    code = runner.run(["-s", "-p", "no:cacheprovider"], cwd=str(tmp_path), env=env, stdout_isatty=True, columns=123,
                      stdout=out, stderr=io.StringIO())
    assert code == 0, out.getvalue()
    assert "\x1b[" in out.getvalue()  # pytest colours a terminal


def test_shards_deal_contiguous_blocks_in_turn_and_cover_every_item_once():
    from ltest.in_test_process.shard import split
    items = list(range(20))
    shards = split(items, 2)
    assert shards == [[0, 1, 2, 6, 7, 8, 12, 13, 16, 17], [3, 4, 5, 9, 10, 11, 14, 15, 18, 19]]
    for n in (1, 2, 3, 7, 30):
        shards = split(items, n)
        assert sorted(i for shard in shards for i in shard) == items
        assert all(shards) and len(shards) == min(n, len(items))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1


def in_fork(fn):
    """fn() in a forked child (its pytest.main must not run inside this
    test's captured streams); returns what it returned, through JSON."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, json.dumps({"value": fn()}).encode())
        except BaseException as e:
            os.write(w, json.dumps({"error": repr(e)}).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    out = json.loads(data)
    assert "error" not in out, out["error"]
    return out["value"]


def _process_state():
    import warnings
    return {
        "path": list(sys.path), "path_id": id(sys.path), "cwd": os.getcwd(),
        "fds": [list(os.fstat(fd)[1:3]) for fd in (0, 1, 2)],
        "stdio": [id(sys.stdin), id(sys.stdout), id(sys.stderr)],
        "last": [hasattr(sys, n) for n in ("last_type", "last_value", "last_traceback")],
        "meta_path": [type(f).__name__ for f in sys.meta_path],
        "filters": [repr(f) for f in warnings.filters],
        "env": dict(os.environ),
    }


def test_practice_run_leaves_the_process_as_it_was(monkeypatch):
    from ltest.in_test_process import warmup
    # The kernel's own PYTEST_ADDOPTS would break the practice: it is set aside.
    monkeypatch.setenv("PYTEST_ADDOPTS", "--no-such-option")

    def practise():
        before = _process_state()
        STATE.planned_eviction = (len(sys.modules), ["planned_user_module"])
        ok = warmup.warm_up(warmup.practice_directory(), keep_roots=set())
        return {"ok": ok, "before": before, "after": _process_state(),
                "practice_module_left": warmup._MODULE in sys.modules,
                "plan": [STATE.planned_eviction[0] == len(sys.modules), STATE.planned_eviction[1]]}

    out = in_fork(practise)
    assert out["ok"]
    assert out["after"] == out["before"]
    assert not out["practice_module_left"]
    assert out["plan"] == [True, ["planned_user_module"]]  # what it imported is no user code: the plan holds


def test_a_practice_that_goes_wrong_says_so(tmp_path):
    from ltest.in_test_process import warmup
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    assert in_fork(lambda: warmup.warm_up(str(tmp_path), keep_roots=set())) is False


def test_a_practice_that_leaves_a_thread_behind_keeps_its_spare(tmp_path):
    # pytest-rerunfailures starts a server thread in every session: the spare
    # runs its real run in the same process and never forks, so it is kept.
    from ltest.in_test_process import warmup
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / f"{warmup._MODULE}.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
        "def test_fail(): assert 0\n")
    assert in_fork(lambda: warmup.warm_up(str(tmp_path), keep_roots=set())) is True


def test_the_practice_directory_is_made_again_when_removed(monkeypatch):
    import shutil
    from ltest.in_test_process import warmup
    from ltest.state import STATE
    monkeypatch.setattr(STATE, "practice_directory", None)
    first = warmup.practice_directory()
    shutil.rmtree(first)
    second = warmup.practice_directory()
    try:
        assert second != first and os.path.isfile(os.path.join(second, warmup._MODULE + ".py"))
    finally:
        shutil.rmtree(second)


def test_user_code_imported_after_the_plan_joins_it(tmp_path, monkeypatch):
    monkeypatch.setattr(STATE, "planned_eviction", (len(sys.modules), ["old_user_module"]))
    before = set(sys.modules)
    monkeypatch.setitem(sys.modules, "late_user_module", _module("late_user_module", str(tmp_path / "late.py")))
    eviction.plan_eviction_of_new_modules(before, keep_roots=set())
    assert STATE.planned_eviction == (len(sys.modules), ["old_user_module", "late_user_module"])


def test_practice_directories_of_dead_kernels_are_removed(tmp_path, monkeypatch):
    import subprocess
    import tempfile
    from ltest.in_test_process import warmup
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine, orphan, alive = (tmp_path / f"ltest-warmup-{pid}-x" for pid in (os.getpid(), dead.pid, os.getppid()))
    other = tmp_path / "ltest-warmup-notapid"
    for d in (mine, orphan, alive, other):
        d.mkdir()
    warmup._remove_orphans()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (mine, alive, other))
