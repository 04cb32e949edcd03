"""warmup.py: the practice run in a spare, in a real fork of this process."""
import os
import sys

from forked import in_fork
from ltest.state import STATE


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
